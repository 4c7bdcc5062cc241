//! Key compaction end to end below the Kafka protocol: a real single-node controller (its
//! leader planning on a manual clock), the job runner and a real store. A compacted partition
//! holding 100 keys, their updates and tombstones, in plain and zstd batches, is compacted to
//! exactly the latest record of each key at its original offset; tombstones stay until
//! `delete.retention.ms` has passed (on the manual clock) and then go. On memory, file:// and
//! (when SKIFF_TEST_S3_ENDPOINT is set, as tests/run does) a real S3-compatible server.

use crate::support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use skiff_controller::clock::ManualClock;
use skiff_controller::config::LifecycleConfig;
use skiff_controller::{Controller, ControllerConfig, ControllerDeps};
use skiff_jobs::{JobRunner, JobRunnerConfig};
use skiff_meta::*;
use skiff_records::Compression;
use skiff_storage::{ChunkMeta, ObjectPath, SegmentBuilder, SegmentStore, segment_path};
use support::{Store, manual, open_store, varint, wait_until, wall_ms};

const KEYS: u32 = 100;
const MIN_LAG_MS: i64 = 60_000;
const DELETE_RETENTION_MS: i64 = 3_600_000;
const MAX_LAG_MS: i64 = 2 * DELETE_RETENTION_MS;

fn topic_id() -> TopicId {
    uuid::Uuid::from_u128(0xc0_11ec7)
}

fn at() -> PartitionRef {
    PartitionRef {
        topic_id: topic_id(),
        partition: 0,
    }
}

struct Setup {
    controller: Arc<Controller>,
    clock: ManualClock,
    store: SegmentStore,
    _dir: tempfile::TempDir,
}

async fn start(kind: &Store) -> Option<Setup> {
    start_with_target(kind, LifecycleConfig::default().merge_target_bytes).await
}

async fn start_with_target(kind: &Store, merge_target_bytes: u64) -> Option<Setup> {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open_store(kind, dir.path(), "compact")?;
    let clock = ManualClock::new(wall_ms());
    let config = ControllerConfig {
        data_dir: dir.path().join("controller"),
        lifecycle: LifecycleConfig {
            cleaner_backoff_ms: 20,
            job_lease_ms: 10_000,
            merge_target_bytes,
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
    let configs: BTreeMap<String, String> = [
        ("cleanup.policy", "compact".to_string()),
        ("min.compaction.lag.ms", MIN_LAG_MS.to_string()),
        ("max.compaction.lag.ms", MAX_LAG_MS.to_string()),
        ("delete.retention.ms", DELETE_RETENTION_MS.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let created = controller
        .propose(CreateTopics(vec![NewTopic {
            name: "table".into(),
            id: topic_id(),
            partitions: 1,
            configs,
            created_ms: wall_ms(),
        }]))
        .await
        .expect("create topic");
    assert_eq!(created, vec![Ok(topic_id())]);
    controller
        .propose(RegisterBroker(BrokerInfo {
            id: 1,
            host: "127.0.0.1".into(),
            port: 9092,
            rack: None,
        }))
        .await
        .expect("register");
    Some(Setup {
        controller,
        clock,
        store,
        _dir: dir,
    })
}

/// A record to write: key and value (`None`: a tombstone).
type Write = (String, Option<String>);

/// A RecordBatch v2 of `records` stamped `timestamp`, base offset 0 (the index gives real
/// offsets), its records compressed with `codec`.
/// With a producer (id, epoch, base sequence) the batch is transactional.
fn batch_of(
    records: &[Write],
    timestamp: i64,
    codec: Compression,
    txn: Option<(i64, i16, i32)>,
) -> Bytes {
    let mut plain = BytesMut::new();
    for (n, (key, value)) in records.iter().enumerate() {
        let mut record = BytesMut::new();
        record.put_i8(0);
        varint(&mut record, 0); // timestamp delta
        varint(&mut record, n as i64);
        varint(&mut record, key.len() as i64);
        record.put_slice(key.as_bytes());
        match value {
            Some(value) => {
                varint(&mut record, value.len() as i64);
                record.put_slice(value.as_bytes());
            }
            None => varint(&mut record, -1),
        }
        varint(&mut record, 0);
        varint(&mut plain, record.len() as i64);
        plain.put_slice(&record);
    }
    let mut section = Vec::new();
    skiff_records::compress(codec, &plain, &mut section).expect("compress");
    let count = records.len() as i32;
    let (transactional, (producer_id, epoch, sequence)) = match txn {
        Some(producer) => (0x10, producer),
        None => (0, (-1, -1, -1)),
    };
    let mut body = BytesMut::new();
    body.put_i16(i16::from(codec.id()) | transactional);
    body.put_i32(count - 1);
    body.put_i64(timestamp);
    body.put_i64(timestamp);
    body.put_i64(producer_id);
    body.put_i16(epoch);
    body.put_i32(sequence);
    body.put_i32(count);
    body.put_slice(&section);
    let mut out = BytesMut::new();
    out.put_i64(0);
    out.put_i32((4 + 1 + 4 + body.len()) as i32);
    out.put_i32(0);
    out.put_i8(2);
    out.put_u32(crc32c::crc32c(&body));
    out.put_slice(&body);
    out.freeze()
}

/// One broker flush of `batches` (each a list of writes) for the partition, its records
/// stamped with the wall clock; returns the offset of every write, in order.
async fn flush(setup: &Setup, batches: &[(Vec<Write>, Compression)]) -> Vec<i64> {
    flush_as(setup, batches, None).await
}

/// [`flush`] of one transactional producer's batches (id, epoch, first base sequence).
async fn flush_as(
    setup: &Setup,
    batches: &[(Vec<Write>, Compression)],
    txn: Option<(i64, i16, i32)>,
) -> Vec<i64> {
    let now = wall_ms();
    let encoded: Vec<Bytes> = batches
        .iter()
        .map(|(writes, codec)| batch_of(writes, now, *codec, txn))
        .collect();
    let records: u32 = batches.iter().map(|(w, _)| w.len() as u32).sum();
    let mut builder = SegmentBuilder::new(1, now);
    builder.push_chunk(
        ChunkMeta {
            topic_id: topic_id(),
            partition: 0,
            batch_count: encoded.len() as u32,
            record_count: records,
            min_timestamp: now,
            max_timestamp: now,
        },
        encoded.clone(),
    );
    let segment = builder.finish();
    let chunk = ChunkCommit {
        topic_id: topic_id(),
        partition: 0,
        position: segment.chunks[0].position,
        batches: batches
            .iter()
            .zip(&encoded)
            .map(|((writes, _), bytes)| BatchCommit {
                len: bytes.len() as u32,
                offset_count: writes.len() as u32,
                record_count: writes.len() as u32,
                max_timestamp: now,
                producer_id: txn.map_or(-1, |t| t.0),
                producer_epoch: txn.map_or(-1, |t| t.1),
                base_sequence: txn.map_or(-1, |t| t.2),
            })
            .collect(),
    };
    let path = segment_path(1, now);
    let size = segment.len;
    setup.store.put_segment(&path, segment).await.expect("put");
    let base = high_watermark(setup);
    setup
        .controller
        .propose(SegmentCommit {
            object_key: path.to_string(),
            object_size: size,
            broker_id: 1,
            append_time_ms: now,
            chunks: vec![chunk],
        })
        .await
        .expect("commit");
    (base..base + i64::from(records)).collect()
}

fn high_watermark(setup: &Setup) -> i64 {
    let state = setup.controller.state();
    let state = state.read();
    state
        .partition_log(at())
        .expect("partition")
        .high_watermark()
}

/// Every stored record as a consumer reading from the start would see it: (offset, key,
/// value), read entry by entry as the fetch path does; control batches (markers) skipped.
async fn read_all(setup: &Setup) -> Vec<(i64, String, Option<String>)> {
    read_stored(setup).await.0
}

/// [`read_all`], and the offsets of the control batches.
async fn read_stored(setup: &Setup) -> (Vec<(i64, String, Option<String>)>, Vec<i64>) {
    let planned: Vec<(String, IndexEntry, bool)> = {
        let state = setup.controller.state();
        let state = state.read();
        let log = state.partition_log(at()).expect("partition");
        log.entries()
            .map(|e| {
                (
                    state.object_key(e.object_id).expect("object").to_string(),
                    *e,
                    state.object_has_real_offsets(e.object_id),
                )
            })
            .collect()
    };
    let mut out = Vec::new();
    let mut control = Vec::new();
    for (key, entry, real_offsets) in planned {
        let raw = setup
            .store
            .get_range(
                &ObjectPath::from(key.as_str()),
                entry.position..entry.position + u64::from(entry.len),
            )
            .await
            .expect("the entry's object is readable");
        let mut raw = BytesMut::from(raw);
        if real_offsets {
            skiff_records::check_run_offsets(&raw, entry.base_offset, entry.last_offset)
                .expect("real offsets inside the entry");
        } else {
            skiff_records::assign_run_offsets(&mut raw, entry.base_offset, entry.last_offset)
                .expect("offsets");
        }
        for batch in skiff_records::batches(&raw) {
            let batch = batch.expect("a batch");
            batch.verify_crc().expect("a valid CRC");
            let base = batch.base_offset();
            if batch.is_control() {
                control.push(base);
                continue;
            }
            let mut walk = batch.walk_records(1 << 24).expect("records");
            while let Some(record) = walk.next_record() {
                let record = record.expect("a record");
                let text = |b: &[u8]| String::from_utf8(b.to_vec()).expect("utf-8");
                out.push((
                    base + i64::from(record.offset_delta),
                    text(record.key.expect("a key")),
                    record.value.map(text),
                ));
            }
        }
    }
    (out, control)
}

fn key(n: u32) -> String {
    format!("key-{n:03}")
}

/// The latest write of every key, by offset, as compaction must leave them (tombstones
/// included unless they have expired).
fn expected(
    latest: &BTreeMap<String, (i64, Option<String>)>,
    tombstones: bool,
) -> Vec<(i64, String, Option<String>)> {
    let mut rows: Vec<(i64, String, Option<String>)> = latest
        .iter()
        .filter(|(_, (_, value))| tombstones || value.is_some())
        .map(|(k, (offset, value))| (*offset, k.clone(), value.clone()))
        .collect();
    rows.sort();
    rows
}

/// Flushes `batches` and notes the latest write of each key.
async fn write(
    setup: &Setup,
    latest: &mut BTreeMap<String, (i64, Option<String>)>,
    batches: Vec<(Vec<Write>, Compression)>,
) {
    let offsets = flush(setup, &batches).await;
    let writes = batches.into_iter().flat_map(|(w, _)| w);
    for ((k, v), offset) in writes.zip(offsets) {
        latest.insert(k, (offset, v));
    }
}

async fn compacts_to_the_latest_record_per_key(kind: Store) {
    let Some(setup) = start(&kind).await else {
        return;
    };
    let mut latest: BTreeMap<String, (i64, Option<String>)> = BTreeMap::new();
    let value = |n: u32, version: u32| Some(format!("value {n} v{version}"));
    // Every key, then half of them updated twice (plain and zstd batches), then tombstones
    // for ten keys and one key written again after its tombstone.
    write(
        &setup,
        &mut latest,
        vec![
            (
                (0..50).map(|n| (key(n), value(n, 0))).collect(),
                Compression::None,
            ),
            (
                (50..KEYS).map(|n| (key(n), value(n, 0))).collect(),
                Compression::Zstd,
            ),
        ],
    )
    .await;
    for version in 1..3 {
        write(
            &setup,
            &mut latest,
            vec![(
                (0..KEYS)
                    .step_by(2)
                    .map(|n| (key(n), value(n, version)))
                    .collect(),
                if version == 1 {
                    Compression::Zstd
                } else {
                    Compression::None
                },
            )],
        )
        .await;
    }
    write(
        &setup,
        &mut latest,
        vec![
            (
                (90..KEYS).map(|n| (key(n), None)).collect(),
                Compression::Zstd,
            ),
            (vec![(key(3), value(3, 3))], Compression::None),
        ],
    )
    .await;
    write(
        &setup,
        &mut latest,
        vec![(vec![(key(95), value(95, 4))], Compression::None)],
    )
    .await;
    let source_bytes = setup
        .controller
        .state()
        .read()
        .partition_log(at())
        .expect("partition")
        .size_bytes();

    let runner = JobRunner::spawn(
        setup.controller.clone(),
        setup.store.clone(),
        JobRunnerConfig::new(1),
        manual(&setup.clock),
    );
    // Younger than min.compaction.lag.ms: nothing is planned.
    let watched = Instant::now();
    while watched.elapsed() < Duration::from_millis(200) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(setup.controller.state().read().job_count(), 0);
    assert_eq!(setup.controller.state().read().cleaned_until(at()), 0);

    let hw = high_watermark(&setup);
    let written = latest.values().map(|(o, _)| *o).max().expect("written") + 1;
    assert_eq!(hw, written);
    setup.clock.set(wall_ms() + MIN_LAG_MS + 1);
    let compacting = Instant::now();
    wait_until(&setup.controller, "the partition compacted", |s| {
        s.cleaned_until(at()) == hw && s.job_count() == 0
    })
    .await;
    let took = compacting.elapsed();
    println!(
        "compacted {written} records ({source_bytes} bytes) to {} keys in {took:?} \
         (planning round included): {:.1} MB/s",
        latest.len(),
        source_bytes as f64 / took.as_secs_f64() / 1e6
    );
    let (entries, end_offset) = {
        let state = setup.controller.state();
        let state = state.read();
        let log = state.partition_log(at()).expect("partition");
        (log.entries().len(), log.high_watermark())
    };
    assert_eq!(entries, 1, "one compacted entry replaced the five flushes");
    assert_eq!(end_offset, hw, "offsets never change");
    let after = read_all(&setup).await;
    assert_eq!(
        after,
        expected(&latest, true),
        "the latest record of each key"
    );
    assert_eq!(after.iter().filter(|(_, _, v)| v.is_none()).count(), 9);

    // A new write an hour later, past delete.retention.ms: the next compaction (due by
    // max.compaction.lag.ms, not by its tiny dirty ratio) drops the tombstones too.
    write(
        &setup,
        &mut latest,
        vec![(vec![(key(7), value(7, 5))], Compression::Zstd)],
    )
    .await;
    let hw = high_watermark(&setup);
    setup
        .clock
        .set(wall_ms() + MAX_LAG_MS + DELETE_RETENTION_MS + 1);
    wait_until(&setup.controller, "compacted again", |s| {
        s.cleaned_until(at()) == hw && s.job_count() == 0
    })
    .await;
    let after = read_all(&setup).await;
    assert_eq!(after, expected(&latest, false), "tombstones gone");
    assert_eq!(after.len(), KEYS as usize - 9);
    assert_eq!(high_watermark(&setup), hw);

    runner.shutdown().await;
    setup.controller.shutdown().await.expect("shutdown");
}

/// A merge target small enough that the compacted part of the log soon outgrows it.
const SMALL_TARGET: u64 = 2_048;
const MANY_KEYS: u32 = 200;

/// Bytes of index entries per object, for the objects the partition's entries point into.
fn bytes_per_object(setup: &Setup) -> BTreeMap<u64, u64> {
    let state = setup.controller.state();
    let state = state.read();
    let mut objects = BTreeMap::new();
    for e in state.partition_log(at()).expect("partition").entries() {
        *objects.entry(e.object_id).or_insert(0) += u64::from(e.len);
    }
    objects
}

/// The compaction window bug: once a partition's compacted part was larger than the merge
/// target, compaction read only that much from the log start and never reached new data.
/// Here the clean part is several times the (small) target, and new updates and tombstones
/// still compact away: only the latest record of each key remains across the whole log, in
/// objects of at most the target. `map_bytes` small makes each job's key map fill early, so
/// several jobs each cover part of the dirty data.
async fn keeps_compacting_past_the_merge_target(kind: Store, map_bytes: usize) {
    let Some(setup) = start_with_target(&kind, SMALL_TARGET).await else {
        return;
    };
    let mut config = JobRunnerConfig::new(1);
    config.compaction_map_bytes = map_bytes;
    let runner = JobRunner::spawn(
        setup.controller.clone(),
        setup.store.clone(),
        config,
        manual(&setup.clock),
    );
    let mut latest: BTreeMap<String, (i64, Option<String>)> = BTreeMap::new();
    let value = |n: u32, version: u32| Some(format!("value of {n} at version {version}"));
    // Every key twice, twenty keys a batch, two batches a flush.
    for version in 0..2 {
        for first in (0..MANY_KEYS).step_by(40) {
            let batch = |from: u32, codec| {
                let writes = (from..from + 20).map(|n| (key(n), value(n, version)));
                (writes.collect(), codec)
            };
            let batches = vec![
                batch(first, Compression::None),
                batch(first + 20, Compression::Zstd),
            ];
            write(&setup, &mut latest, batches).await;
        }
    }
    // Past max.compaction.lag.ms: every job is due whatever the dirty ratio.
    setup.clock.set(wall_ms() + MAX_LAG_MS + 1);
    let hw = high_watermark(&setup);
    wait_until(&setup.controller, "the first compaction", |s| {
        s.cleaned_until(at()) == hw && s.job_count() == 0
    })
    .await;
    assert_eq!(read_all(&setup).await, expected(&latest, true));
    let clean_bytes = stored_bytes(&setup);
    assert!(
        clean_bytes > 2 * SMALL_TARGET,
        "the clean part ({clean_bytes} bytes) is more than two merge targets"
    );

    // New updates of every third key and tombstones for ten, then compaction again.
    for version in 2..4 {
        let writes = (0..MANY_KEYS)
            .step_by(3)
            .map(|n| (key(n), value(n, version)))
            .collect();
        write(&setup, &mut latest, vec![(writes, Compression::Zstd)]).await;
    }
    let tombstones = (100..110).map(|n| (key(n), None)).collect();
    write(&setup, &mut latest, vec![(tombstones, Compression::None)]).await;
    let hw = high_watermark(&setup);
    setup
        .clock
        .set(wall_ms() + MAX_LAG_MS + DELETE_RETENTION_MS + 1);
    wait_until(&setup.controller, "the updates compacted", |s| {
        s.cleaned_until(at()) == hw && s.job_count() == 0
    })
    .await;
    let after = read_all(&setup).await;
    assert_eq!(after, expected(&latest, false), "the latest record per key");
    assert_eq!(after.len(), MANY_KEYS as usize - 10);
    assert_eq!(high_watermark(&setup), hw, "offsets never change");
    let objects = bytes_per_object(&setup);
    assert!(objects.len() > 1, "{objects:?}");
    for (object, bytes) in &objects {
        assert!(
            *bytes <= SMALL_TARGET,
            "object {object} holds {bytes} bytes, more than the target"
        );
    }

    runner.shutdown().await;
    setup.controller.shutdown().await.expect("shutdown");
}

fn stored_bytes(setup: &Setup) -> u64 {
    let state = setup.controller.state();
    let state = state.read();
    state.partition_log(at()).expect("partition").size_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_compacted_log_on_memory() {
    keeps_compacting_past_the_merge_target(Store::Memory, 32 << 20).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_compacted_log_small_key_map_on_memory() {
    keeps_compacting_past_the_merge_target(Store::Memory, 1_000).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_compacted_log_on_file() {
    keeps_compacting_past_the_merge_target(Store::File, 1_000).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_compacted_log_on_s3() {
    keeps_compacting_past_the_merge_target(Store::S3, 1_000).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compaction_on_memory() {
    compacts_to_the_latest_record_per_key(Store::Memory).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compaction_on_file() {
    compacts_to_the_latest_record_per_key(Store::File).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compaction_on_s3() {
    compacts_to_the_latest_record_per_key(Store::S3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aborted_records_are_compacted_away_and_markers_kept() {
    let setup = start(&Store::Memory).await.expect("memory store");
    let value = |v: &str| Some(v.to_string());
    let init = setup
        .controller
        .propose(InitTxnProducer {
            transactional_id: "app".into(),
            timeout_ms: 60_000,
            current: None,
            now_ms: wall_ms(),
        })
        .await
        .expect("proposal")
        .expect("producer");
    let producer = TxnProducer {
        transactional_id: "app".into(),
        producer_id: init.id,
        epoch: init.epoch,
    };
    let txn = |sequence| Some((init.id, init.epoch, sequence));
    let one = |k: u32, v: &str| vec![(vec![(key(k), value(v))], Compression::None)];
    assert_eq!(flush(&setup, &one(0, "committed")).await, vec![0]);
    for (sequence, commit, written, marker) in [(0, false, 1, 2), (1, true, 3, 4)] {
        setup
            .controller
            .propose(AddPartitionsToTxn {
                producer: producer.clone(),
                partitions: vec![(topic_id(), 0)],
                now_ms: wall_ms(),
            })
            .await
            .expect("proposal")
            .expect("added");
        // The aborted transaction overwrites key 0; the committed one writes key 1.
        let k = u32::from(commit);
        let offsets = flush_as(&setup, &one(k, &format!("txn {commit}")), txn(sequence)).await;
        assert_eq!(offsets, vec![written]);
        let ended = setup
            .controller
            .propose(EndTxn {
                producer: producer.clone(),
                commit,
                now_ms: wall_ms(),
            })
            .await
            .expect("proposal")
            .expect("ended");
        assert_eq!(ended.markers, vec![(topic_id(), 0, marker)]);
    }
    assert_eq!(flush(&setup, &one(2, "plain")).await, vec![5]);
    let hw = high_watermark(&setup);
    assert_eq!(hw, 6);

    let runner = JobRunner::spawn(
        setup.controller.clone(),
        setup.store.clone(),
        JobRunnerConfig::new(1),
        manual(&setup.clock),
    );
    setup.clock.set(wall_ms() + MIN_LAG_MS + 1);
    wait_until(&setup.controller, "the partition compacted", |s| {
        s.cleaned_until(at()) == hw && s.job_count() == 0
    })
    .await;
    let markers_left = {
        let state = setup.controller.state();
        let state = state.read();
        let log = state.partition_log(at()).expect("partition");
        log.entries().filter(|e| e.is_marker()).count()
    };
    assert_eq!(markers_left, 0, "the markers were written into the object");
    let (records, control) = read_stored(&setup).await;
    assert_eq!(
        records,
        vec![
            (0, key(0), value("committed")),
            (3, key(1), value("txn true")),
            (5, key(2), value("plain")),
        ],
        "the aborted write neither stays nor removes the committed one"
    );
    assert_eq!(control, vec![2, 4], "both markers kept at their offsets");
    // The aborted transaction is still listed for readers, its marker still in the log.
    let aborted: Vec<(i64, i64)> = setup
        .controller
        .state()
        .read()
        .txns()
        .aborted_overlapping(topic_id(), 0, 0, hw)
        .map(|a| (a.first_offset, a.last_offset))
        .collect();
    assert_eq!(aborted, vec![(1, 2)]);
    runner.shutdown().await;
    setup.controller.shutdown().await.expect("shutdown");
}
