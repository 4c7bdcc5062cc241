//! The job runner against a real single-node controller (its leader planning on a manual
//! clock) and a real store: many small multi-partition flushes are merged into one
//! per-partition object each; every batch reads back byte-equal with the same offsets; reads
//! planned against the old entries still succeed during the grace period, after which the
//! collector deletes the old objects; a job leased to a broker that never runs it is planned
//! again once its lease lapses and done by another. On memory, file:// and (when
//! SKIFF_TEST_S3_ENDPOINT is set, as tests/run does) a real S3-compatible server.

use crate::support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use skiff_controller::clock::ManualClock;
use skiff_controller::config::LifecycleConfig;
use skiff_controller::{Controller, ControllerConfig, ControllerDeps};
use skiff_jobs::{JobRunner, JobRunnerConfig};
use skiff_meta::*;
use skiff_storage::{ChunkMeta, ObjectPath, SegmentBuilder, SegmentStore, segment_path};
use support::{Store, WAIT, manual, open_store, register, varint, wait_until, wall_ms};

const FLUSHES: usize = 12;
const PARTITIONS: u32 = 3;
const RECORDS_PER_BATCH: u32 = 3;
const MIN_AGE_MS: u64 = 60_000;
const GRACE_MS: u64 = 3_000;

fn topic_id() -> TopicId {
    uuid::Uuid::from_u128(0x3e26e)
}

struct Setup {
    controller: Arc<Controller>,
    clock: ManualClock,
    store: SegmentStore,
    _dir: tempfile::TempDir,
}

async fn start(kind: &Store) -> Option<Setup> {
    start_with_backoff(kind, 20).await
}

async fn start_with_backoff(kind: &Store, cleaner_backoff_ms: u64) -> Option<Setup> {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open_store(kind, dir.path(), "jobs")?;
    let clock = ManualClock::new(wall_ms());
    let config = ControllerConfig {
        data_dir: dir.path().join("controller"),
        gc_grace_ms: GRACE_MS,
        gc_interval_ms: 20,
        lifecycle: LifecycleConfig {
            cleaner_backoff_ms,
            merge_min_age_ms: MIN_AGE_MS,
            job_lease_ms: 10_000,
            ..LifecycleConfig::default()
        },
        ..ControllerConfig::default()
    };
    let controller = Controller::start_with(
        config,
        ControllerDeps {
            store: Some(store.clone()),
            clock: Arc::new(clock.clone()),
        },
    )
    .await
    .expect("controller");
    let controller = Arc::new(controller);
    let created = controller
        .propose(CreateTopics(vec![NewTopic {
            name: "events".into(),
            id: topic_id(),
            partitions: PARTITIONS,
            configs: BTreeMap::new(),
            created_ms: wall_ms(),
        }]))
        .await
        .expect("create topic");
    assert_eq!(created, vec![Ok(topic_id())]);
    Some(Setup {
        controller,
        clock,
        store,
        _dir: dir,
    })
}

/// A RecordBatch v2 of `count` records with base offset 0 (the index gives real offsets).
fn batch(label: &str, count: u32, timestamp: i64) -> Bytes {
    let mut records = BytesMut::new();
    for n in 0..count {
        let mut record = BytesMut::new();
        record.put_i8(0);
        varint(&mut record, i64::from(n));
        varint(&mut record, i64::from(n));
        let key = format!("k{n}");
        let value = format!("{label}|{n}");
        varint(&mut record, key.len() as i64);
        record.put_slice(key.as_bytes());
        varint(&mut record, value.len() as i64);
        record.put_slice(value.as_bytes());
        varint(&mut record, 0);
        varint(&mut records, record.len() as i64);
        records.put_slice(&record);
    }
    let mut body = BytesMut::new();
    body.put_i16(0); // attributes
    body.put_i32(count as i32 - 1);
    body.put_i64(timestamp);
    body.put_i64(timestamp + i64::from(count) - 1);
    body.put_i64(-1);
    body.put_i16(-1);
    body.put_i32(-1);
    body.put_i32(count as i32);
    body.put_slice(&records);
    let mut out = BytesMut::new();
    out.put_i64(0);
    out.put_i32((4 + 1 + 4 + body.len()) as i32);
    out.put_i32(0);
    out.put_i8(2);
    out.put_u32(crc32c::crc32c(&body));
    out.put_slice(&body);
    out.freeze()
}

/// One broker flush: a segment with one batch for every partition, uploaded then committed.
async fn flush(setup: &Setup, round: usize) {
    let now = wall_ms();
    let mut builder = SegmentBuilder::new(1, now);
    let mut batches = Vec::new();
    for partition in 0..PARTITIONS {
        let bytes = batch(&format!("{partition}|{round}"), RECORDS_PER_BATCH, now);
        builder.push_chunk(
            ChunkMeta {
                topic_id: topic_id(),
                partition,
                batch_count: 1,
                record_count: RECORDS_PER_BATCH,
                min_timestamp: now,
                max_timestamp: now,
            },
            vec![bytes.clone()],
        );
        batches.push(bytes);
    }
    let segment = builder.finish();
    let chunks: Vec<ChunkCommit> = segment
        .chunks
        .iter()
        .zip(&batches)
        .map(|(chunk, bytes)| ChunkCommit {
            topic_id: topic_id(),
            partition: chunk.meta.partition,
            position: chunk.position,
            batches: vec![BatchCommit {
                len: bytes.len() as u32,
                offset_count: RECORDS_PER_BATCH,
                record_count: RECORDS_PER_BATCH,
                max_timestamp: now + i64::from(RECORDS_PER_BATCH) - 1,
                producer_id: -1,
                producer_epoch: -1,
                base_sequence: -1,
            }],
        })
        .collect();
    let path = segment_path(1, now);
    let size = segment.len;
    setup.store.put_segment(&path, segment).await.expect("put");
    setup
        .controller
        .propose(SegmentCommit {
            object_key: path.to_string(),
            object_size: size,
            broker_id: 1,
            append_time_ms: now,
            chunks,
        })
        .await
        .expect("commit");
}

/// What a fetch plans for one entry: its object's key, the entry, and whether the object's
/// batches carry real offsets.
type Planned = (String, IndexEntry, bool);

fn plan(setup: &Setup, partition: u32) -> Vec<Planned> {
    let state = setup.controller.state();
    let state = state.read();
    let log = state
        .partition_log(PartitionRef {
            topic_id: topic_id(),
            partition,
        })
        .expect("partition");
    log.entries()
        .map(|e| {
            (
                state.object_key(e.object_id).expect("object").to_string(),
                *e,
                state.object_has_real_offsets(e.object_id),
            )
        })
        .collect()
}

/// Reads planned entries as the broker's fetch path does: one ranged GET each, offsets from
/// the index written in (or checked, for rewritten objects).
async fn read(store: &SegmentStore, planned: &[Planned]) -> Vec<u8> {
    let mut out = Vec::new();
    for (key, entry, real_offsets) in planned {
        let raw = store
            .get_range(
                &ObjectPath::from(key.as_str()),
                entry.position..entry.position + u64::from(entry.len),
            )
            .await
            .expect("the entry's object is readable");
        let mut raw = BytesMut::from(raw);
        if *real_offsets {
            skiff_records::check_run_offsets(&raw, entry.base_offset, entry.last_offset)
                .expect("real offsets");
        } else {
            skiff_records::assign_run_offsets(&mut raw, entry.base_offset, entry.last_offset)
                .expect("offsets");
        }
        out.extend_from_slice(&raw);
    }
    out
}

fn entries_per_partition(state: &ControllerState) -> Vec<usize> {
    (0..PARTITIONS)
        .map(|partition| {
            state
                .partition_log(PartitionRef {
                    topic_id: topic_id(),
                    partition,
                })
                .map_or(0, |l| l.entries().len())
        })
        .collect()
}

async fn object_keys(store: &SegmentStore) -> BTreeSet<String> {
    store
        .list(&ObjectPath::from("segments"))
        .await
        .expect("list")
        .into_iter()
        .map(|o| o.path.to_string())
        .collect()
}

async fn merges_small_flushes_into_one_object_per_partition(kind: Store) {
    let Some(setup) = start(&kind).await else {
        return;
    };
    register(&setup.controller, 1).await;
    for round in 0..FLUSHES {
        flush(&setup, round).await;
    }
    let before: Vec<Vec<Planned>> = (0..PARTITIONS).map(|p| plan(&setup, p)).collect();
    assert!(before.iter().all(|p| p.len() == FLUSHES));
    let mut bytes_before = Vec::new();
    for planned in &before {
        bytes_before.push(read(&setup.store, planned).await);
    }
    let old_keys: BTreeSet<String> = before[0].iter().map(|(k, _, _)| k.clone()).collect();
    assert_eq!(old_keys.len(), FLUSHES);

    let runner = JobRunner::spawn(
        setup.controller.clone(),
        setup.store.clone(),
        JobRunnerConfig::new(1),
        manual(&setup.clock),
    );
    // Younger than the minimum age: nothing is planned, however many rounds pass.
    let rounds_seen = Instant::now();
    while rounds_seen.elapsed() < Duration::from_millis(200) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(setup.controller.state().read().job_count(), 0);
    assert_eq!(
        entries_per_partition(&setup.controller.state().read()),
        vec![FLUSHES; PARTITIONS as usize]
    );

    // The flushes took their commit times from the wall clock: age them past twice the minimum
    // age, when a partition with a few fresh entries is quiet enough to merge them.
    setup.clock.set(wall_ms() + 2 * MIN_AGE_MS as i64 + 1);
    let merged_at = Instant::now();
    wait_until(&setup.controller, "every partition merged", |s| {
        entries_per_partition(s) == vec![1; PARTITIONS as usize] && s.job_count() == 0
    })
    .await;
    println!(
        "{} entries per partition merged into 1 in {:?}",
        FLUSHES,
        merged_at.elapsed()
    );

    for (partition, old) in before.iter().enumerate() {
        let now = plan(&setup, partition as u32);
        assert_eq!(now.len(), 1);
        let (key, entry, real_offsets) = &now[0];
        assert!(real_offsets, "a merged object carries real offsets");
        assert!(!old_keys.contains(key));
        assert_eq!(
            (entry.base_offset, entry.last_offset),
            (0, FLUSHES as i64 * i64::from(RECORDS_PER_BATCH) - 1)
        );
        assert_eq!(
            read(&setup.store, &now).await,
            bytes_before[partition],
            "partition {partition} reads back byte-equal with the same offsets"
        );
        // A fetch planned against the old entries before the swap still reads them: the
        // objects stay for the grace period.
        assert_eq!(read(&setup.store, old).await, bytes_before[partition]);
    }

    // After the grace period the collector deletes every old flush object, and only those.
    let deadline = Instant::now() + WAIT;
    loop {
        let keys = object_keys(&setup.store).await;
        if keys.is_disjoint(&old_keys) {
            // The runner merged every partition together: one bundle object holds them all.
            let merged: BTreeSet<String> = (0..PARTITIONS)
                .map(|p| plan(&setup, p)[0].0.clone())
                .collect();
            assert_eq!(merged.len(), 1, "one bundle: {merged:?}");
            assert_eq!(keys, merged, "only the bundle is stored");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "old objects still stored: {keys:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for (partition, bytes) in bytes_before.iter().enumerate() {
        assert_eq!(
            &read(&setup.store, &plan(&setup, partition as u32)).await,
            bytes
        );
    }
    runner.shutdown().await;
    setup.controller.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merge_on_memory() {
    merges_small_flushes_into_one_object_per_partition(Store::Memory).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merge_on_file() {
    merges_small_flushes_into_one_object_per_partition(Store::File).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merge_on_s3() {
    merges_small_flushes_into_one_object_per_partition(Store::S3).await;
}

/// Kafka's cleaner sleeps its backoff only when it found nothing to do: with one job slot and
/// a long backoff, the three partitions are merged one after the other as each job ends, not
/// one per backoff (which would take three backoffs).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_freed_job_slot_gets_the_next_merge_without_waiting_the_backoff() {
    const BACKOFF_MS: u64 = 3_000;
    let started = Instant::now();
    let setup = start_with_backoff(&Store::Memory, BACKOFF_MS)
        .await
        .expect("memory store");
    register(&setup.controller, 1).await;
    for round in 0..FLUSHES {
        flush(&setup, round).await;
    }
    setup.clock.set(wall_ms() + 2 * MIN_AGE_MS as i64 + 1);
    let runner = JobRunner::spawn(
        setup.controller.clone(),
        setup.store.clone(),
        JobRunnerConfig::new(1),
        manual(&setup.clock),
    );
    wait_until(&setup.controller, "every partition merged", |s| {
        entries_per_partition(s) == vec![1; PARTITIONS as usize]
    })
    .await;
    // The first round comes one backoff after the leader's term began; one job per round
    // would need two more backoffs after it.
    let took = started.elapsed();
    assert!(
        took < Duration::from_millis(2 * BACKOFF_MS),
        "{PARTITIONS} merges with one slot took {took:?}: the planner waited its backoff between jobs"
    );
    runner.shutdown().await;
    setup.controller.shutdown().await.expect("shutdown");
}

/// Broker 2 takes the merges and dies (it never runs them, and unregisters): the leases lapse,
/// the leader takes the jobs back and plans them again, and broker 1 does them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_whose_broker_died_is_redone_elsewhere_after_its_lease() {
    let setup = start(&Store::Memory).await.expect("memory store");
    register(&setup.controller, 2).await;
    for round in 0..4 {
        flush(&setup, round).await;
    }
    // The flushes took their commit times from the wall clock: age them past twice the minimum
    // age, when a partition with a few fresh entries is quiet enough to merge them.
    setup.clock.set(wall_ms() + 2 * MIN_AGE_MS as i64 + 1);
    wait_until(&setup.controller, "every merge leased to broker 2", |s| {
        s.jobs().filter(|j| j.broker_id == 2).count() == PARTITIONS as usize
    })
    .await;
    let first: Vec<u64> = setup
        .controller
        .state()
        .read()
        .jobs()
        .map(|j| j.id)
        .collect();
    register(&setup.controller, 1).await;
    setup
        .controller
        .propose(UnregisterBroker { broker_id: 2 })
        .await
        .expect("unregister");
    let runner = JobRunner::spawn(
        setup.controller.clone(),
        setup.store.clone(),
        JobRunnerConfig::new(1),
        manual(&setup.clock),
    );
    // While the leases run, the jobs stay with the dead broker 2 and nothing is merged.
    {
        let state = setup.controller.state();
        let state = state.read();
        assert!(
            first
                .iter()
                .all(|id| state.job(*id).map(|j| j.broker_id) == Some(2))
        );
        assert_eq!(entries_per_partition(&state), vec![4; PARTITIONS as usize]);
    }

    setup.clock.advance(10_000);
    wait_until(&setup.controller, "the lapsed jobs redone", |s| {
        entries_per_partition(s) == vec![1; PARTITIONS as usize]
            && first.iter().all(|id| s.job(*id).is_none())
    })
    .await;
    runner.shutdown().await;
    setup.controller.shutdown().await.expect("shutdown");
}
