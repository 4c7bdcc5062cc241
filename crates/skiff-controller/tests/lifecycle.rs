//! The leader's lifecycle duties on a single-node controller with a manual clock: retention
//! moves log starts when the clock passes `retention.ms`, the collector then deletes the
//! objects nothing references, DeleteRecords does the same on demand, committed offsets of
//! standalone consumers expire after `offsets.retention.minutes`, and the leader replicates its
//! retention defaults. The collector's rounds run against memory, file:// and (when
//! SKIFF_TEST_S3_ENDPOINT is set, as tests/run does) a real S3-compatible server.

use crate::support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use skiff_controller::clock::ManualClock;
use skiff_controller::config::LifecycleConfig;
use skiff_controller::*;
use skiff_meta::*;
use skiff_storage::{SegmentStore, StoreConfig};
use support::store::{put_object, segment_keys};

const T0: i64 = 1_700_000_000_000;
const HOUR: i64 = 3_600_000;
const WAIT: Duration = Duration::from_secs(20);
const OBJECT_BODY: &[u8] = b"0123456789";

fn topic_id() -> TopicId {
    uuid::Uuid::from_u128(0x11fe)
}

struct Setup {
    controller: Controller,
    clock: ManualClock,
    store: SegmentStore,
    _dir: tempfile::TempDir,
}

/// Where a test's objects live.
enum Store {
    Memory,
    File,
    /// Only when a server is configured; `None` means the test is skipped.
    S3,
}

fn open_store(kind: &Store, dir: &std::path::Path) -> Option<SegmentStore> {
    let config = match kind {
        Store::Memory => StoreConfig::for_url("memory://"),
        Store::File => StoreConfig::for_url(format!("file://{}", dir.join("objects").display())),
        Store::S3 => {
            let Some(endpoint) = std::env::var("SKIFF_TEST_S3_ENDPOINT")
                .ok()
                .filter(|e| !e.is_empty())
            else {
                assert!(
                    std::env::var_os("SKIFF_REQUIRE_S3").is_none(),
                    "SKIFF_REQUIRE_S3 is set but SKIFF_TEST_S3_ENDPOINT is not"
                );
                println!("skipped: set SKIFF_TEST_S3_ENDPOINT to run against a real S3 server");
                return None;
            };
            let bucket =
                std::env::var("SKIFF_TEST_S3_BUCKET").unwrap_or_else(|_| "skiff-test".into());
            let prefix = format!("lifecycle-{}", uuid::Uuid::new_v4().simple());
            let mut config = StoreConfig::for_url(format!("s3://{bucket}/{prefix}"));
            config.endpoint = Some(endpoint);
            if std::env::var("AWS_ACCESS_KEY_ID").is_err() {
                config.access_key_id = Some("test".into());
                config.secret_access_key = Some("test".into());
            }
            config
        }
    };
    Some(SegmentStore::open(&config).expect("store"))
}

async fn start(lifecycle: LifecycleConfig) -> Setup {
    start_on(&Store::Memory, |c| c.lifecycle = lifecycle)
        .await
        .expect("a memory store")
}

async fn start_on(kind: &Store, tune: impl FnOnce(&mut ControllerConfig)) -> Option<Setup> {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open_store(kind, dir.path())?;
    let clock = ManualClock::new(T0);
    let mut config = ControllerConfig {
        data_dir: dir.path().join("controller"),
        gc_grace_ms: 50,
        gc_interval_ms: 20,
        ..ControllerConfig::default()
    };
    tune(&mut config);
    let controller = Controller::start_with(
        config,
        ControllerDeps {
            store: Some(store.clone()),
            clock: Arc::new(clock.clone()),
        },
    )
    .await
    .expect("controller");
    Some(Setup {
        controller,
        clock,
        store,
        _dir: dir,
    })
}

fn fast_checks() -> LifecycleConfig {
    LifecycleConfig {
        retention_check_interval_ms: 20,
        offsets_retention_check_interval_ms: 20,
        ..LifecycleConfig::default()
    }
}

async fn create_topic(controller: &Controller, configs: &[(&str, &str)]) {
    let created = controller
        .propose(CreateTopics(vec![NewTopic {
            name: "events".into(),
            id: topic_id(),
            partitions: 1,
            configs: configs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
            created_ms: T0,
        }]))
        .await
        .expect("create topic");
    assert_eq!(created, vec![Ok(topic_id())]);
}

/// Commits one batch of 10 offsets stamped `ts` into an object, then uploads it. A broker
/// uploads first; here the order is reversed so the collector, with its very short grace,
/// never finds an uploaded object the state does not know yet and rightly takes it for an
/// orphan.
async fn flush(setup: &Setup, key: &str, ts: i64) {
    let result = setup
        .controller
        .propose(SegmentCommit {
            object_key: key.into(),
            object_size: 10,
            broker_id: 1,
            append_time_ms: ts,
            chunks: vec![ChunkCommit {
                topic_id: topic_id(),
                partition: 0,
                position: 0,
                batches: vec![BatchCommit {
                    len: 10,
                    offset_count: 10,
                    record_count: 10,
                    max_timestamp: ts,
                    producer_id: -1,
                    producer_epoch: -1,
                    base_sequence: -1,
                }],
            }],
        })
        .await
        .expect("commit");
    assert!(matches!(result.chunks[0], ChunkOutcome::Committed { .. }));
    put_object(&setup.store, key, OBJECT_BODY).await;
}

async fn wait_for<F: Fn(&ControllerState) -> bool>(controller: &Controller, what: &str, f: F) {
    let deadline = Instant::now() + WAIT;
    let mut applied = controller.state().applied();
    while !f(&controller.state().read()) {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        let _ = tokio::time::timeout(Duration::from_millis(50), applied.changed()).await;
    }
}

async fn wait_for_keys(store: &SegmentStore, expected: &[&str]) {
    let deadline = Instant::now() + WAIT;
    loop {
        let now = segment_keys(store).await;
        if now == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "objects left: {now:?}, expected {expected:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn log_start(state: &ControllerState) -> i64 {
    state
        .topic(&topic_id())
        .map_or(-1, |t| t.partitions[0].log_start_offset())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_retention_follows_the_clock_and_the_collector_deletes_what_it_dropped() {
    let setup = start(fast_checks()).await;
    create_topic(&setup.controller, &[("retention.ms", "3600000")]).await;
    flush(&setup, "segments/d/1-old.seg", T0).await;
    flush(&setup, "segments/d/1-new.seg", T0 + 2 * HOUR).await;

    // The exact boundaries are unit-tested in skiff-meta; here the leader acts on its clock.
    setup.clock.set(T0 + HOUR + 1);
    wait_for(&setup.controller, "retention of the old entry", |s| {
        log_start(s) == 10
    })
    .await;
    wait_for_keys(&setup.store, &["segments/d/1-new.seg"]).await;
    wait_for(
        &setup.controller,
        "the deleted object to be forgotten",
        |s| s.object_count() == 1 && s.stored_bytes() == 10,
    )
    .await;
    assert_eq!(
        log_start(&setup.controller.state().read()),
        10,
        "the newer entry is kept"
    );
    setup.controller.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn size_retention_and_cluster_defaults_apply_to_topics_without_their_own() {
    let setup = start(LifecycleConfig {
        log_retention_ms: -1,
        log_retention_bytes: 15,
        ..fast_checks()
    })
    .await;
    wait_for(&setup.controller, "the defaults to be replicated", |s| {
        s.log_defaults()
            == LogDefaults {
                retention_ms: -1,
                retention_bytes: 15,
            }
    })
    .await;
    create_topic(&setup.controller, &[]).await;
    for n in 0..3 {
        flush(&setup, &format!("segments/d/1-{n}.seg"), T0).await;
    }
    // 30 bytes kept down to at least 15: one 10-byte entry goes, two stay.
    wait_for(&setup.controller, "size retention", |s| log_start(s) == 10).await;
    wait_for_keys(&setup.store, &["segments/d/1-1.seg", "segments/d/1-2.seg"]).await;
    setup.controller.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_records_releases_objects_to_the_collector() {
    let setup = start(fast_checks()).await;
    create_topic(&setup.controller, &[("retention.ms", "-1")]).await;
    flush(&setup, "segments/d/1-a.seg", T0).await;
    flush(&setup, "segments/d/1-b.seg", T0).await;
    let answer = setup
        .controller
        .propose(DeleteRecords {
            now_ms: T0,
            partitions: vec![RecordDeletion {
                topic_id: topic_id(),
                partition: 0,
                offset: 12,
            }],
        })
        .await
        .expect("delete records");
    assert_eq!(answer[0].as_ref().map(|t| t.log_start_offset), Ok(12));
    wait_for_keys(&setup.store, &["segments/d/1-b.seg"]).await;
    setup.controller.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_offsets_expire_after_the_offsets_retention() {
    let setup = start(LifecycleConfig {
        offsets_retention_minutes: 60,
        ..fast_checks()
    })
    .await;
    create_topic(&setup.controller, &[]).await;
    let commit = CommitOffsets(vec![GroupOffsets {
        group_id: "standalone".into(),
        commit_time_ms: T0,
        partitions: vec![PartitionOffset {
            topic_id: topic_id(),
            partition: 0,
            offset: 5,
            leader_epoch: -1,
            metadata: String::new(),
        }],
    }]);
    setup.controller.propose(commit).await.expect("commit");
    assert!(
        setup
            .controller
            .state()
            .read()
            .group("standalone")
            .is_some()
    );
    setup.clock.set(T0 + HOUR);
    wait_for(&setup.controller, "the offsets to expire", |s| {
        s.group("standalone").is_none()
    })
    .await;
    setup.controller.shutdown().await.expect("shutdown");
}

/// A transaction left open past its timeout is aborted by the leader's timer (an ABORT
/// marker, the epoch bumped so the producer is fenced); the id is forgotten once idle for
/// `transactional.id.expiration.ms`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactions_open_past_their_timeout_are_aborted_and_idle_ids_forgotten() {
    let setup = start(LifecycleConfig {
        transaction_abort_check_interval_ms: 20,
        transactional_id_expiration_ms: HOUR as u64,
        ..fast_checks()
    })
    .await;
    create_topic(&setup.controller, &[]).await;
    let started = setup
        .controller
        .propose(InitTxnProducer {
            transactional_id: "app".into(),
            timeout_ms: 60_000,
            current: None,
            now_ms: T0,
        })
        .await
        .expect("propose")
        .expect("init");
    let producer = TxnProducer {
        transactional_id: "app".into(),
        producer_id: started.id,
        epoch: started.epoch,
    };
    setup
        .controller
        .propose(AddPartitionsToTxn {
            producer,
            partitions: vec![(topic_id(), 0)],
            now_ms: T0,
        })
        .await
        .expect("propose")
        .expect("add");
    let status = |s: &ControllerState| s.txns().get("app").map(|t| (t.status(), t.epoch()));
    assert_eq!(
        status(&setup.controller.state().read()),
        Some((TxnStatus::Ongoing, 0))
    );
    setup.clock.set(T0 + 60_000);
    wait_for(&setup.controller, "the transaction to time out", |s| {
        status(s) == Some((TxnStatus::CompleteAbort, 1))
    })
    .await;
    let high = setup
        .controller
        .state()
        .read()
        .topic(&topic_id())
        .map(|t| t.partitions[0].high_watermark());
    assert_eq!(high, Some(1), "the ABORT marker took offset 0");
    setup.clock.set(T0 + 60_001 + HOUR);
    wait_for(&setup.controller, "the idle id to be forgotten", |s| {
        s.txns().get("app").is_none()
    })
    .await;
    setup.controller.shutdown().await.expect("shutdown");
}

/// More garbage than one round may delete, of both kinds: objects DeleteRecords released and
/// objects uploaded but never committed. Every round deletes at most three objects of each
/// kind, yet all of it goes, and the one referenced object stays.
async fn the_collector_works_through_garbage_in_bounded_rounds(kind: Store) {
    let Some(setup) = start_on(&kind, |c| {
        c.gc_grace_ms = 0;
        c.gc_max_objects_per_round = 3;
    })
    .await
    else {
        return;
    };
    create_topic(&setup.controller, &[("retention.ms", "-1")]).await;
    for n in 0..5 {
        flush(&setup, &format!("segments/d/1-kept-{n}.seg"), T0).await;
    }
    for n in 0..7 {
        put_object(
            &setup.store,
            &format!("segments/d/9-orphan-{n}.seg"),
            OBJECT_BODY,
        )
        .await;
    }
    let answer = setup
        .controller
        .propose(DeleteRecords {
            now_ms: T0,
            partitions: vec![RecordDeletion {
                topic_id: topic_id(),
                partition: 0,
                offset: 40,
            }],
        })
        .await
        .expect("delete records");
    assert_eq!(answer[0].as_ref().map(|t| t.dropped_entries), Ok(4));
    wait_for_keys(&setup.store, &["segments/d/1-kept-4.seg"]).await;
    wait_for(
        &setup.controller,
        "the deleted objects to be forgotten",
        |s| s.object_count() == 1 && s.unreferenced_object_count() == 0 && s.stored_bytes() == 10,
    )
    .await;
    setup.controller.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_collector_works_through_garbage_in_bounded_rounds_on_a_file_store() {
    the_collector_works_through_garbage_in_bounded_rounds(Store::File).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_collector_works_through_garbage_in_bounded_rounds_on_s3() {
    the_collector_works_through_garbage_in_bounded_rounds(Store::S3).await;
}
