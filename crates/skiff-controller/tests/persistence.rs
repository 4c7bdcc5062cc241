//! A real single-node Controller on disk: state survives restarts, with and without snapshots.

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
    uuid::Uuid::from_u128(0x5eed)
}

async fn create_topic(controller: &Controller, partitions: u32) {
    let response = controller
        .propose(CreateTopics(vec![NewTopic {
            name: "events".into(),
            id: topic_id(),
            partitions,
            configs: BTreeMap::from([("retention.ms".to_string(), "3600000".to_string())]),
            created_ms: T0,
        }]))
        .await
        .expect("create topic");
    assert_eq!(response, vec![Ok(topic_id())]);
}

fn batch(producer_id: i64, base_sequence: i32) -> BatchCommit {
    BatchCommit {
        len: 64,
        offset_count: 2,
        record_count: 2,
        max_timestamp: T0,
        producer_id,
        producer_epoch: 0,
        base_sequence,
    }
}

async fn commit(
    controller: &Controller,
    n: u64,
    partition: u32,
    batch: BatchCommit,
) -> BatchOutcome {
    let response = controller
        .propose(SegmentCommit {
            object_key: format!("segments/{n}.seg"),
            object_size: 1024,
            broker_id: 1,
            append_time_ms: T0 + i64::try_from(n).expect("small"),
            chunks: vec![ChunkCommit {
                topic_id: topic_id(),
                partition,
                position: 0,
                batches: vec![batch],
            }],
        })
        .await
        .expect("commit");
    match &response.chunks[0] {
        ChunkOutcome::Committed { batches, .. } => batches[0].clone(),
        other => panic!("chunk not committed: {other:?}"),
    }
}

async fn init_producer(controller: &Controller) -> i64 {
    match controller
        .propose(InitProducerId { current: None })
        .await
        .expect("init producer")
    {
        Ok(ProducerIdAndEpoch { id, epoch: 0 }) => id,
        other => panic!("unexpected answer {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_survives_a_restart_from_the_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let controller = Controller::start(config(&dir, 10_000))
        .await
        .expect("start");
    let cluster_id = controller
        .state()
        .read()
        .cluster_id()
        .map(str::to_string)
        .expect("cluster id set on start");
    create_topic(&controller, 3).await;
    controller
        .propose(RegisterBroker(BrokerInfo {
            id: 1,
            host: "localhost".into(),
            port: 9092,
            rack: None,
        }))
        .await
        .expect("register broker");
    let producer = init_producer(&controller).await;
    for n in 0..6u64 {
        let seq = i32::try_from(n * 2).expect("small");
        assert_eq!(
            commit(&controller, n, 1, batch(producer, seq)).await,
            BatchOutcome::Appended {
                base_offset: (n * 2) as i64
            }
        );
    }
    let before = controller.state().read().clone();
    controller.shutdown().await.expect("shutdown");
    assert!(matches!(
        controller.propose(InitProducerId { current: None }).await,
        Err(ProposeError::ShuttingDown)
    ));
    drop(controller);

    let controller = Controller::start(config(&dir, 10_000))
        .await
        .expect("restart");
    {
        let state = controller.state();
        let after = state.read();
        assert_eq!(
            *after, before,
            "restart must restore exactly the same state"
        );
        assert_eq!(
            after.cluster_id(),
            Some(cluster_id.as_str()),
            "cluster id is set only once"
        );
    }
    // Producer state survived too: a retry is a duplicate and offsets continue.
    assert_eq!(
        commit(&controller, 10, 1, batch(producer, 10)).await,
        BatchOutcome::Duplicate { base_offset: 10 }
    );
    assert_eq!(
        commit(&controller, 11, 1, batch(producer, 12)).await,
        BatchOutcome::Appended { base_offset: 12 }
    );
    assert_eq!(init_producer(&controller).await, producer + 1);
    controller.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_survives_a_restart_from_a_snapshot_plus_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let controller = Controller::start(config(&dir, 4)).await.expect("start");
    create_topic(&controller, 2).await;
    for n in 0..8u64 {
        commit(&controller, n, (n % 2) as u32, batch(-1, -1)).await;
    }
    let mut metrics = controller.raft_metrics();
    // openraft checks the snapshot threshold when an entry applies: a snapshot still being
    // built while the last commits applied is not followed by another until a further entry
    // applies (on a loaded machine it can be). So commit more until one covers index 8.
    let mut extra = 0u64;
    let snapshot = loop {
        let covered = tokio::time::timeout(
            Duration::from_secs(2),
            metrics.wait_for(|m| m.snapshot.is_some_and(|s| s.index >= 8)),
        )
        .await;
        match covered {
            Ok(found) => {
                break found
                    .expect("raft running")
                    .snapshot
                    .expect("snapshot present");
            }
            Err(_) => {
                assert!(
                    extra < 20,
                    "no snapshot covering index 8 after {extra} more commits"
                );
                commit(&controller, 200 + extra, (extra % 2) as u32, batch(-1, -1)).await;
                extra += 1;
            }
        }
    };
    tokio::time::timeout(WAIT, metrics.wait_for(|m| m.purged.is_some()))
        .await
        .expect("log purged behind the snapshot within the deadline")
        .expect("raft running");
    // Two more entries stay in the log only (fewer than the snapshot threshold).
    commit(&controller, 100, 0, batch(-1, -1)).await;
    commit(&controller, 101, 1, batch(-1, -1)).await;
    let before = controller.state().read().clone();
    let applied_before = *controller.state().applied().borrow();
    assert!(
        applied_before > snapshot.index,
        "entries exist past the snapshot"
    );
    controller.shutdown().await.expect("shutdown");
    drop(controller);
    assert!(dir.path().join("snapshots").join("current.snap").exists());

    let controller = Controller::start(config(&dir, 4)).await.expect("restart");
    assert_eq!(
        *controller.state().read(),
        before,
        "snapshot + log replay restores the same state"
    );
    let m = controller.raft_metrics().borrow().clone();
    let restored_snapshot = m.snapshot.expect("snapshot loaded");
    assert!(
        m.purged.is_some(),
        "the log before the snapshot stays purged"
    );
    assert!(
        m.last_applied
            .is_some_and(|a| a.index > restored_snapshot.index),
        "entries after the snapshot were replayed from the log: {m:?}"
    );
    let topic = controller
        .state()
        .read()
        .topic(&topic_id())
        .cloned()
        .expect("topic restored");
    assert_eq!(topic.partitions[0].high_watermark(), 10);
    assert_eq!(topic.partitions[1].high_watermark(), 10);
    assert_eq!(topic.config.retention_ms(), 3_600_000);
    controller.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_applied_index_watch_wakes_waiters() {
    let dir = tempfile::tempdir().expect("tempdir");
    let controller = Controller::start(config(&dir, 10_000))
        .await
        .expect("start");
    assert_eq!(controller.current_leader(), Some(controller.node_id()));
    let state = controller.state();
    let mut applied = state.applied();
    let start = *applied.borrow_and_update();
    let waiter = tokio::spawn(async move {
        applied.changed().await.expect("controller alive");
        *applied.borrow()
    });
    create_topic(&controller, 1).await;
    let woke_at = tokio::time::timeout(WAIT, waiter)
        .await
        .expect("woken within the deadline")
        .expect("task");
    assert!(woke_at > start);
    assert!(
        state.read().topic_by_name("events").is_some(),
        "state is applied by the time the watch moves"
    );
    controller.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_snapshot_fails_start_with_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let controller = Controller::start(config(&dir, 2)).await.expect("start");
    create_topic(&controller, 1).await;
    for n in 0..4u64 {
        commit(&controller, n, 0, batch(-1, -1)).await;
    }
    let mut metrics = controller.raft_metrics();
    tokio::time::timeout(WAIT, metrics.wait_for(|m| m.snapshot.is_some()))
        .await
        .expect("a snapshot within the deadline")
        .expect("raft running");
    controller.shutdown().await.expect("shutdown");
    drop(controller);

    let path = dir.path().join("snapshots").join("current.snap");
    let mut bytes = std::fs::read(&path).expect("snapshot file");
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&path, bytes).expect("corrupt it");
    let err = match Controller::start(config(&dir, 2)).await {
        Err(e) => e,
        Ok(_) => panic!("start must fail on a corrupt snapshot"),
    };
    assert!(matches!(err, ControllerError::Snapshot(_)), "{err:?}");
    assert!(err.to_string().contains("checksum mismatch"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_configuration_is_refused_before_touching_disk() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = ControllerConfig {
        election_timeout_min_ms: 500,
        election_timeout_max_ms: 400,
        ..config(&dir, 10)
    };
    let err = match Controller::start(cfg).await {
        Err(e) => e,
        Ok(_) => panic!("start must refuse the config"),
    };
    assert!(matches!(err, ControllerError::InvalidConfig(_)), "{err:?}");
    assert!(!dir.path().join("raft-log.redb").exists());
}
