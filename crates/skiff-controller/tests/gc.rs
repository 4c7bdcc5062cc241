//! Garbage collection by the leader: an object uploaded but never committed and a committed
//! object nothing references any more are deleted once older than the grace period (and the
//! latter forgotten); a committed, referenced object is kept; a commit of a collected orphan
//! that arrives late is refused.

use crate::support;

use std::time::{Duration, Instant};

use skiff_controller::rpc::ControllerEndpoints;
use skiff_controller::*;
use skiff_meta::*;
use skiff_storage::{SegmentStore, StoreConfig};
use support::store::{put_object, segment_keys};
use support::{TestCluster, WAIT, config_template, topic_command};

const GRACE: Duration = Duration::from_millis(400);

fn commit(key: &str, topic_id: TopicId) -> Command {
    Command::CommitSegment(SegmentCommit {
        object_key: key.into(),
        object_size: 13,
        broker_id: 1,
        append_time_ms: 1_700_000_000_000,
        chunks: vec![ChunkCommit {
            topic_id,
            partition: 0,
            position: 0,
            batches: vec![BatchCommit {
                len: 13,
                offset_count: 1,
                record_count: 1,
                max_timestamp: 1_700_000_000_000,
                producer_id: -1,
                producer_epoch: -1,
                base_sequence: -1,
            }],
        }],
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uncommitted_and_unreferenced_objects_are_collected_committed_ones_kept() {
    let store = SegmentStore::open(&StoreConfig::for_url("memory://")).expect("store");
    let template = ControllerConfig {
        gc_grace_ms: GRACE.as_millis() as u64,
        gc_interval_ms: 50,
        ..config_template(10_000)
    };
    let mut cluster = TestCluster::start_with_store(3, template, Some(store.clone())).await;
    let leader = cluster.wait_for_leader().await;
    let client = ControllerEndpoints::new(vec![cluster.addr(leader)]).expect("endpoints");
    client
        .submit(topic_command("kept", 1))
        .await
        .expect("topic");

    let committed = "segments/2026-11-21/1-committed.seg";
    let uncommitted = "segments/2026-11-21/1-uncommitted.seg";
    let orphaned = "segments/2026-11-21/1-orphaned.seg";
    for key in [committed, uncommitted, orphaned] {
        put_object(&store, key, b"segment bytes").await;
    }
    client
        .submit(commit(committed, uuid::Uuid::from_u128(1)))
        .await
        .expect("commit");
    // Every chunk refused (no such topic): committed, but referenced by nothing.
    let orphan_id = match client
        .submit(commit(orphaned, uuid::Uuid::from_u128(99)))
        .await
        .expect("commit")
        .response
    {
        CommandResponse::SegmentCommitted(result) => result.object_id,
        other => panic!("unexpected {other:?}"),
    };
    let started = Instant::now();
    tokio::time::sleep(GRACE / 3).await;
    assert_eq!(
        segment_keys(&store).await.len(),
        3,
        "nothing is deleted within the grace period"
    );

    let deadline = Instant::now() + WAIT;
    loop {
        let forgotten = cluster
            .node(leader)
            .state()
            .read()
            .object(orphan_id)
            .is_none();
        if forgotten && segment_keys(&store).await == vec![committed.to_string()] {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "garbage not collected: {:?}",
            segment_keys(&store).await
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(started.elapsed() >= GRACE / 2);
    let still_known = cluster
        .node(leader)
        .state()
        .read()
        .objects()
        .any(|(_, o)| o.key == committed);
    assert!(still_known, "the referenced object is still known");

    // The uncommitted object's commit was only late (its broker paused between PUT and
    // commit): it is refused now that the object is gone, so no entry points at nothing.
    let late = match client
        .submit(commit(uncommitted, uuid::Uuid::from_u128(1)))
        .await
        .expect("late commit")
        .response
    {
        CommandResponse::SegmentCommitted(result) => result,
        other => panic!("unexpected {other:?}"),
    };
    assert_eq!(late.chunks, vec![ChunkOutcome::ObjectCollected]);
    let state = cluster.node(leader).state();
    let partition = state
        .read()
        .topic_by_name("kept")
        .expect("topic")
        .partitions[0]
        .high_watermark();
    assert_eq!(
        partition, 1,
        "only the committed object's record is in the log"
    );
    cluster.stop_all().await;
}
