//! Consumer group offsets and metadata survive controller restarts, from the log alone and
//! from a snapshot plus the log after it.

use std::collections::BTreeMap;
use std::time::Duration;

use skiff_controller::*;
use skiff_meta::*;

const T0: i64 = 1_700_000_000_000;
const WAIT: Duration = Duration::from_secs(20);

fn config(dir: &tempfile::TempDir, snapshot_logs_since_last: u64) -> ControllerConfig {
    ControllerConfig {
        data_dir: dir.path().to_path_buf(),
        snapshot_logs_since_last,
        ..ControllerConfig::default()
    }
}

fn topic_id() -> TopicId {
    uuid::Uuid::from_u128(0xfeed)
}

async fn create_topic(controller: &Controller) {
    let response = controller
        .propose(CreateTopics(vec![NewTopic {
            name: "orders".into(),
            id: topic_id(),
            partitions: 4,
            configs: BTreeMap::new(),
            created_ms: T0,
        }]))
        .await
        .expect("create topic");
    assert_eq!(response, vec![Ok(topic_id())]);
}

async fn commit(controller: &Controller, group: &str, partition: u32, offset: i64) {
    let response = controller
        .propose(CommitOffsets(vec![GroupOffsets {
            group_id: group.into(),
            commit_time_ms: T0 + offset,
            partitions: vec![PartitionOffset {
                topic_id: topic_id(),
                partition,
                offset,
                leader_epoch: 3,
                metadata: format!("at {offset}"),
            }],
        }]))
        .await
        .expect("commit");
    assert_eq!(response, vec![vec![Ok(())]]);
}

fn group_metadata(generation: i32) -> StoredGroup {
    StoredGroup {
        group_id: "readers".into(),
        protocol_type: "consumer".into(),
        generation,
        protocol: Some("cooperative-sticky".into()),
        leader: Some("reader-1".into()),
        members: vec![StoredMember {
            member_id: "reader-1".into(),
            group_instance_id: Some("instance-1".into()),
            client_id: "reader".into(),
            client_host: "/10.0.0.1".into(),
            session_timeout_ms: 45_000,
            rebalance_timeout_ms: 300_000,
            subscription: vec![0, 3, 1, 2],
            assignment: vec![9, 9],
        }],
        stored_at_ms: T0,
    }
}

fn assert_groups(state: &ControllerState, generation: i32) {
    let readers = state.group("readers").expect("group restored");
    assert_eq!(readers.metadata, Some(group_metadata(generation)));
    let p2 = readers.offset(topic_id(), 2).expect("offset restored");
    assert_eq!(
        (p2.offset, p2.leader_epoch, p2.metadata.as_str()),
        (20, 3, "at 20")
    );
    let standalone = state
        .group("standalone")
        .expect("standalone group restored");
    assert!(standalone.metadata.is_none());
    assert_eq!(standalone.offset(topic_id(), 0).map(|o| o.offset), Some(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_survive_a_restart_from_the_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let controller = Controller::start(config(&dir, 10_000))
        .await
        .expect("start");
    create_topic(&controller).await;
    commit(&controller, "readers", 2, 20).await;
    commit(&controller, "standalone", 0, 5).await;
    controller
        .propose(StoreGroups(vec![group_metadata(4)]))
        .await
        .expect("store group");
    let before = controller.state().read().clone();
    controller.shutdown().await.expect("shutdown");
    drop(controller);

    let controller = Controller::start(config(&dir, 10_000))
        .await
        .expect("restart");
    assert_eq!(*controller.state().read(), before);
    assert_groups(&controller.state().read(), 4);
    controller.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_survive_a_restart_from_a_snapshot_plus_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let controller = Controller::start(config(&dir, 3)).await.expect("start");
    create_topic(&controller).await;
    commit(&controller, "readers", 2, 20).await;
    commit(&controller, "standalone", 0, 5).await;
    controller
        .propose(StoreGroups(vec![group_metadata(4)]))
        .await
        .expect("store group");
    let mut metrics = controller.raft_metrics();
    tokio::time::timeout(WAIT, metrics.wait_for(|m| m.snapshot.is_some()))
        .await
        .expect("a snapshot within the deadline")
        .expect("raft running");
    // After the snapshot: a later generation and a deleted group, only in the log.
    controller
        .propose(StoreGroups(vec![group_metadata(5)]))
        .await
        .expect("store group");
    commit(&controller, "doomed", 1, 1).await;
    let deleted = controller
        .propose(DeleteGroups(vec!["doomed".into()]))
        .await
        .expect("delete group");
    assert_eq!(deleted, vec![Ok(())]);
    let before = controller.state().read().clone();
    controller.shutdown().await.expect("shutdown");
    drop(controller);

    let controller = Controller::start(config(&dir, 3)).await.expect("restart");
    assert!(controller.raft_metrics().borrow().snapshot.is_some());
    assert_eq!(*controller.state().read(), before);
    assert_groups(&controller.state().read(), 5);
    assert!(controller.state().read().group("doomed").is_none());
    controller.shutdown().await.expect("shutdown");
}
