//! Archive jobs against a real single-node controller (its leader planning on a manual clock)
//! and a real store: the leader plans an archive job for a topic with
//! `skiff.archive.enable=true` once its archive interval passed; the job runner on a broker
//! appends every stored record to the topic's Iceberg table and commits; a second round
//! archives only the records written since; a job whose broker died (a pass written but never
//! committed) is redone elsewhere after its lease lapses, and the dead pass's late commit is
//! refused, so every offset is in the table exactly once. On memory, file:// and (when
//! SKIFF_TEST_S3_ENDPOINT is set, as tests/run does) a real S3-compatible server.
#![allow(clippy::unwrap_used)]

use crate::support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use arrow_array::RecordBatch;
use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, Int64Type};
use bytes::{BufMut, Bytes, BytesMut};
use futures::TryStreamExt;
use skiff_controller::clock::ManualClock;
use skiff_controller::config::LifecycleConfig;
use skiff_controller::{Controller, ControllerConfig, ControllerDeps};
use skiff_jobs::{JobRunner, JobRunnerConfig};
use skiff_meta::*;
use skiff_storage::{ChunkMeta, ObjectPath, SegmentBuilder, SegmentStore};
use support::{Store, manual, open_store, register, varint, wait_until, wall_ms};

const PARTITIONS: u32 = 3;
const RECORDS_PER_BATCH: u32 = 4;
const INTERVAL_MS: i64 = 1_000;
const TOPIC: &str = "events";

fn topic_id() -> TopicId {
    uuid::Uuid::from_u128(0xa2c41)
}

struct Setup {
    controller: Arc<Controller>,
    clock: ManualClock,
    store: SegmentStore,
    /// What each partition holds, in offset order: the values written.
    written: Vec<Vec<Vec<u8>>>,
    _dir: tempfile::TempDir,
}

async fn start(kind: &Store) -> Option<Setup> {
    start_with(kind, &[]).await
}

/// The topic gets these configs beside `skiff.archive.enable=true`.
async fn start_with(kind: &Store, configs: &[(&str, &str)]) -> Option<Setup> {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open_store(kind, dir.path(), "archive-jobs")?;
    let clock = ManualClock::new(wall_ms());
    let config = ControllerConfig {
        data_dir: dir.path().join("controller"),
        gc_interval_ms: 60_000,
        lifecycle: LifecycleConfig {
            cleaner_backoff_ms: 20,
            // No merges: the entries stay as flushed, so only archiving moves anything.
            merge_min_age_ms: 10 * 24 * 3_600_000,
            job_lease_ms: 10_000,
            archive_interval_ms: INTERVAL_MS as u64,
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
            name: TOPIC.into(),
            id: topic_id(),
            partitions: PARTITIONS,
            configs: [("skiff.archive.enable", "true")]
                .iter()
                .chain(configs)
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            created_ms: wall_ms(),
        }]))
        .await
        .expect("create topic");
    assert_eq!(created, vec![Ok(topic_id())]);
    Some(Setup {
        controller,
        clock,
        store,
        written: vec![Vec::new(); PARTITIONS as usize],
        _dir: dir,
    })
}

/// A RecordBatch v2 of these values with base offset 0 (the index gives real offsets).
fn batch(values: &[Vec<u8>], timestamp: i64) -> Bytes {
    batch_of(values, timestamp, None)
}

/// A transactional producer's id, epoch and base sequence for a batch.
type TxnBatchProducer = Option<(i64, i16, i32)>;

/// Like [`batch`]; with a producer the batch is transactional.
fn batch_of(values: &[Vec<u8>], timestamp: i64, txn: TxnBatchProducer) -> Bytes {
    let mut records = BytesMut::new();
    for (n, value) in values.iter().enumerate() {
        let mut record = BytesMut::new();
        record.put_i8(0);
        varint(&mut record, n as i64);
        varint(&mut record, n as i64);
        varint(&mut record, -1); // null key
        varint(&mut record, value.len() as i64);
        record.put_slice(value);
        varint(&mut record, 0);
        varint(&mut records, record.len() as i64);
        records.put_slice(&record);
    }
    let count = values.len() as i32;
    let (attributes, (producer_id, epoch, sequence)) = match txn {
        Some(producer) => (0x10, producer),
        None => (0, (-1, -1, -1)),
    };
    let mut body = BytesMut::new();
    body.put_i16(attributes);
    body.put_i32(count - 1);
    body.put_i64(timestamp);
    body.put_i64(timestamp);
    body.put_i64(producer_id);
    body.put_i16(epoch);
    body.put_i32(sequence);
    body.put_i32(count);
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
async fn flush(setup: &mut Setup, round: usize) {
    let now = wall_ms();
    let mut builder = SegmentBuilder::new(1, now);
    let mut chunks = Vec::new();
    let mut batches = Vec::new();
    for partition in 0..PARTITIONS {
        let values: Vec<Vec<u8>> = (0..RECORDS_PER_BATCH)
            .map(|n| format!("{partition}|{round}|{n}").into_bytes())
            .collect();
        let bytes = batch(&values, now);
        setup.written[partition as usize].extend(values);
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
    for (chunk, bytes) in segment.chunks.iter().zip(&batches) {
        chunks.push(ChunkCommit {
            topic_id: topic_id(),
            partition: chunk.meta.partition,
            position: chunk.position,
            batches: vec![BatchCommit {
                len: bytes.len() as u32,
                offset_count: RECORDS_PER_BATCH,
                record_count: RECORDS_PER_BATCH,
                max_timestamp: now,
                producer_id: -1,
                producer_epoch: -1,
                base_sequence: -1,
            }],
        });
    }
    let path = skiff_storage::segment_path(1, now + round as i64);
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

/// Every partition archived up to its end, and no archive job left.
fn archived_to_the_end(state: &ControllerState) -> bool {
    let Some(topic) = state.topic(&topic_id()) else {
        return false;
    };
    let Some(progress) = state.archive_progress(&topic_id()) else {
        return false;
    };
    let complete = (0u32..)
        .zip(&topic.partitions)
        .all(|(p, log)| progress.next_offset(p) == log.high_watermark());
    complete && state.jobs().all(|j| j.spec.kind != JobKind::Archive)
}

fn progress(setup: &Setup) -> state::ArchiveProgress {
    setup
        .controller
        .state()
        .read()
        .archive_progress(&topic_id())
        .cloned()
        .expect("archived")
}

/// The table's current snapshot through the iceberg crate's scan: values by (partition,
/// offset), failing on an offset seen twice.
async fn read_table(store: &SegmentStore, location: &str) -> BTreeMap<(i32, i64), Vec<u8>> {
    let file_io = skiff_archive::pass::file_io(store);
    let metadata = iceberg::spec::TableMetadata::read_from(&file_io, location)
        .await
        .unwrap();
    let table = iceberg::table::Table::builder()
        .file_io(file_io)
        .metadata_location(location)
        .metadata(metadata)
        .identifier(iceberg::TableIdent::from_strs(["skiff", TOPIC]).unwrap())
        .readonly(true)
        .runtime(iceberg::Runtime::try_current().unwrap())
        .build()
        .unwrap();
    let batches: Vec<RecordBatch> = table
        .scan()
        .select(["partition", "offset", "value"])
        .build()
        .unwrap()
        .to_arrow()
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let mut rows = BTreeMap::new();
    for batch in batches {
        let partition = batch.column(0).as_primitive::<Int32Type>();
        let offset = batch.column(1).as_primitive::<Int64Type>();
        let value = batch.column(2).as_binary::<i64>();
        for i in 0..batch.num_rows() {
            let key = (partition.value(i), offset.value(i));
            let previous = rows.insert(key, value.value(i).to_vec());
            assert!(previous.is_none(), "{key:?} archived twice");
        }
    }
    rows
}

/// What the table must hold: every written value at its offset.
fn expected(setup: &Setup) -> BTreeMap<(i32, i64), Vec<u8>> {
    let mut rows = BTreeMap::new();
    for (partition, values) in setup.written.iter().enumerate() {
        for (offset, value) in values.iter().enumerate() {
            rows.insert((partition as i32, offset as i64), value.clone());
        }
    }
    rows
}

/// Every file under the table's folder.
async fn table_files(store: &SegmentStore) -> std::collections::BTreeSet<String> {
    store
        .list(&ObjectPath::from(format!("archive/{TOPIC}").as_str()))
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.path.to_string())
        .collect()
}

async fn version_hint(store: &SegmentStore) -> String {
    let bytes = store
        .get_object(&ObjectPath::from(
            format!("archive/{TOPIC}/metadata/version-hint.text").as_str(),
        ))
        .await
        .expect("version-hint.text");
    String::from_utf8(bytes.to_vec()).expect("text")
}

async fn planned_job_archives_and_the_next_round_only_new_records(kind: Store) {
    let Some(mut setup) = start(&kind).await else {
        return;
    };
    register(&setup.controller, 1).await;
    for round in 0..3 {
        flush(&mut setup, round).await;
    }
    let runner = JobRunner::spawn(
        setup.controller.clone(),
        setup.store.clone(),
        JobRunnerConfig::new(1),
        manual(&setup.clock),
    );
    // The interval has not passed since the topic was created: nothing is planned yet.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(setup.controller.state().read().job_count() == 0);
    assert!(
        setup
            .controller
            .state()
            .read()
            .archive_progress(&topic_id())
            .is_none()
    );

    setup.clock.set(wall_ms() + INTERVAL_MS + 1);
    wait_until(
        &setup.controller,
        "the first round archived",
        archived_to_the_end,
    )
    .await;
    let first = progress(&setup);
    assert_eq!(first.commits, 1);
    assert_eq!(first.rows, u64::from(3 * PARTITIONS * RECORDS_PER_BATCH));
    assert_eq!(
        read_table(&setup.store, &first.metadata_location).await,
        expected(&setup)
    );
    assert!(first.metadata_location.ends_with(&format!(
        "v{}.metadata.json",
        version_hint(&setup.store).await
    )));

    // New records: archived in a second commit after another interval, the old ones not again.
    for round in 3..5 {
        flush(&mut setup, round).await;
    }
    setup.clock.advance(INTERVAL_MS + 1);
    wait_until(
        &setup.controller,
        "the second round archived",
        archived_to_the_end,
    )
    .await;
    let second = progress(&setup);
    assert_eq!(second.commits, 2);
    assert_eq!(
        second.rows - first.rows,
        u64::from(2 * PARTITIONS * RECORDS_PER_BATCH)
    );
    assert_eq!(
        read_table(&setup.store, &second.metadata_location).await,
        expected(&setup)
    );
    runner.shutdown().await;
    setup.controller.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archive_job_on_memory() {
    planned_job_archives_and_the_next_round_only_new_records(Store::Memory).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archive_job_on_file() {
    planned_job_archives_and_the_next_round_only_new_records(Store::File).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archive_job_on_s3() {
    planned_job_archives_and_the_next_round_only_new_records(Store::S3).await;
}

/// `skiff.archive.retention.ms` on a topic that receives nothing more: the leader still plans
/// an upkeep pass once the upkeep interval passed, and it removes the expired files in a
/// version of its own, the archived offsets unchanged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_topic_still_loses_files_past_its_archive_retention() {
    const RETENTION_MS: u64 = 1_500;
    let retention = RETENTION_MS.to_string();
    let mut setup = start_with(
        &Store::File,
        &[("skiff.archive.retention.ms", retention.as_str())],
    )
    .await
    .expect("file store");
    register(&setup.controller, 1).await;
    for round in 0..2 {
        flush(&mut setup, round).await;
    }
    let runner = JobRunner::spawn(
        setup.controller.clone(),
        setup.store.clone(),
        JobRunnerConfig::new(1),
        manual(&setup.clock),
    );
    setup.clock.set(wall_ms() + INTERVAL_MS + 1);
    wait_until(&setup.controller, "archived", archived_to_the_end).await;
    let first = progress(&setup);
    assert_eq!(first.commits, 1);
    assert_eq!(
        read_table(&setup.store, &first.metadata_location).await,
        expected(&setup),
        "young records are kept"
    );

    // Retention is counted on the wall clock (the records' timestamps): let it pass. Nothing new
    // arrives; the leader's clock moves past the upkeep interval (the archive interval here).
    tokio::time::sleep(Duration::from_millis(RETENTION_MS + 100)).await;
    setup.clock.advance(INTERVAL_MS + 1);
    wait_until(&setup.controller, "an upkeep commit", |s| {
        s.archive_progress(&topic_id())
            .is_some_and(|p| p.commits == 2 && s.job_count() == 0)
    })
    .await;
    let upkept = progress(&setup);
    assert_ne!(upkept.metadata_location, first.metadata_location);
    assert_eq!(upkept.rows, first.rows, "no rows were added");
    assert_eq!(upkept.last_offsets, first.last_offsets);
    assert!(
        read_table(&setup.store, &upkept.metadata_location)
            .await
            .is_empty(),
        "every file was past the retention"
    );
    // The older version still reads everything (readers that opened it finish).
    assert_eq!(
        read_table(&setup.store, &first.metadata_location).await,
        expected(&setup)
    );
    runner.shutdown().await;
    setup.controller.shutdown().await.expect("shutdown");
}

/// Broker 2 takes the archive job, writes its Parquet files and next metadata version, and
/// dies before committing. Its lease lapses; broker 1 redoes the job and commits, and (set to
/// collect on every commit) deletes the dead pass's files. The dead pass's late commit is
/// refused, and every offset is in the table once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_archive_job_is_redone_without_duplicate_rows() {
    let mut setup = start(&Store::File).await.expect("file store");
    register(&setup.controller, 2).await;
    for round in 0..3 {
        flush(&mut setup, round).await;
    }
    setup.clock.set(wall_ms() + INTERVAL_MS + 1);
    wait_until(
        &setup.controller,
        "the archive job leased to broker 2",
        |s| {
            s.jobs()
                .any(|j| j.broker_id == 2 && j.spec.kind == JobKind::Archive)
        },
    )
    .await;
    // Broker 2's pass, as its job would run it, up to (not including) the commit.
    let plan = skiff_archive::TopicPlan::from_state(&setup.controller.state().read(), TOPIC)
        .expect("topic");
    let dead = plan
        .archive(&setup.store, &skiff_archive::PassConfig::default(), |_| {})
        .await
        .expect("pass")
        .expect("records to archive");
    let dead_files = table_files(&setup.store).await;
    register(&setup.controller, 1).await;
    setup
        .controller
        .propose(UnregisterBroker { broker_id: 2 })
        .await
        .expect("unregister");
    let runner = JobRunner::spawn(
        setup.controller.clone(),
        setup.store.clone(),
        JobRunnerConfig {
            archive_collect_every_commits: 1,
            // The job starts 10 s after the dead pass on the manual clock.
            archive_orphan_margin: Duration::from_secs(1),
            ..JobRunnerConfig::new(1)
        },
        manual(&setup.clock),
    );
    // While the lease runs, nobody else archives.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        setup
            .controller
            .state()
            .read()
            .archive_progress(&topic_id())
            .is_none()
    );
    setup.clock.advance(10_000);
    wait_until(
        &setup.controller,
        "the lapsed archive job redone",
        archived_to_the_end,
    )
    .await;
    let done = progress(&setup);
    assert_eq!(done.commits, 1);
    assert_ne!(done.metadata_location, dead.metadata_location);
    // The redo's commit collected the dead pass's files (they predate the job).
    let left = table_files(&setup.store).await;
    assert!(
        dead_files.is_disjoint(&left),
        "the dead pass's files are still there: {:?}",
        dead_files.intersection(&left).collect::<Vec<_>>()
    );

    // The dead broker's commit arrives late: refused, nothing moves.
    let late = setup.controller.propose(plan.commit_command(&dead)).await;
    assert!(matches!(late, Ok(Err(ArchiveCommitError::Moved { .. }))));
    assert_eq!(progress(&setup), done);
    assert_eq!(
        read_table(&setup.store, &done.metadata_location).await,
        expected(&setup)
    );
    runner.shutdown().await;
    setup.controller.shutdown().await.expect("shutdown");
}

/// One flush of partition 0 only: these batches (values, transactional producer) in order.
async fn flush_partition_0(setup: &mut Setup, round: i64, batches: &[(&[&str], TxnBatchProducer)]) {
    let now = wall_ms();
    let mut builder = SegmentBuilder::new(1, now);
    let mut commits = Vec::new();
    let mut bytes = Vec::new();
    for (values, txn) in batches {
        let values: Vec<Vec<u8>> = values.iter().map(|v| v.as_bytes().to_vec()).collect();
        let encoded = batch_of(&values, now, *txn);
        let (producer_id, producer_epoch, base_sequence) = txn.unwrap_or((-1, -1, -1));
        commits.push(BatchCommit {
            len: encoded.len() as u32,
            offset_count: values.len() as u32,
            record_count: values.len() as u32,
            max_timestamp: now,
            producer_id,
            producer_epoch,
            base_sequence,
        });
        bytes.push(encoded);
    }
    let records = commits.iter().map(|c| c.record_count).sum();
    builder.push_chunk(
        ChunkMeta {
            topic_id: topic_id(),
            partition: 0,
            batch_count: bytes.len() as u32,
            record_count: records,
            min_timestamp: now,
            max_timestamp: now,
        },
        bytes,
    );
    let segment = builder.finish();
    let position = segment.chunks[0].position;
    let path = skiff_storage::segment_path(1, now + 1_000 + round);
    let size = segment.len;
    setup.store.put_segment(&path, segment).await.expect("put");
    let result = setup
        .controller
        .propose(SegmentCommit {
            object_key: path.to_string(),
            object_size: size,
            broker_id: 1,
            append_time_ms: now,
            chunks: vec![ChunkCommit {
                topic_id: topic_id(),
                partition: 0,
                position,
                batches: commits,
            }],
        })
        .await
        .expect("commit");
    let appended = matches!(
        &result.chunks[..],
        [ChunkOutcome::Committed { batches, .. }]
            if batches.iter().all(|b| matches!(b, BatchOutcome::Appended { .. }))
    );
    assert!(appended, "segment not appended: {result:?}");
}

async fn txn_call<P>(setup: &Setup, proposal: P) -> P::Answer
where
    P: Proposal + Send + 'static,
    P::Answer: Send,
{
    setup
        .controller
        .propose(proposal)
        .await
        .expect("proposal applies")
}

/// One archive pass over the topic as a job runs it, committed; the table's rows after it.
async fn archive_once(setup: &Setup) -> BTreeMap<(i32, i64), Vec<u8>> {
    let plan = skiff_archive::TopicPlan::from_state(&setup.controller.state().read(), TOPIC)
        .expect("topic");
    let commit = plan
        .archive(&setup.store, &skiff_archive::PassConfig::default(), |_| {})
        .await
        .expect("pass")
        .expect("records to archive");
    let accepted = txn_call(setup, plan.commit_command(&commit)).await;
    assert_eq!(accepted, Ok(()));
    read_table(&setup.store, &commit.metadata_location).await
}

fn rows(expected: &[(i64, &str)]) -> BTreeMap<(i32, i64), Vec<u8>> {
    expected
        .iter()
        .map(|(offset, value)| ((0, *offset), value.as_bytes().to_vec()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_archive_holds_committed_records_only_and_waits_for_open_transactions() {
    let mut setup = start(&Store::Memory).await.expect("memory store");
    let app = |producer: (i64, i16)| TxnProducer {
        transactional_id: "app".into(),
        producer_id: producer.0,
        epoch: producer.1,
    };
    let init = txn_call(
        &setup,
        InitTxnProducer {
            transactional_id: "app".into(),
            timeout_ms: 60_000,
            current: None,
            now_ms: wall_ms(),
        },
    )
    .await
    .expect("producer");
    let pe = (init.id, init.epoch);
    let add = AddPartitionsToTxn {
        producer: app(pe),
        partitions: vec![(topic_id(), 0)],
        now_ms: wall_ms(),
    };
    txn_call(&setup, add.clone()).await.expect("added");
    // 0-1 plain, 2-3 the transaction that aborts (marker at 4).
    flush_partition_0(
        &mut setup,
        0,
        &[
            (&["a0", "a1"], None),
            (&["x0", "x1"], Some((pe.0, pe.1, 0))),
        ],
    )
    .await;
    let end = |commit| EndTxn {
        producer: app(pe),
        commit,
        now_ms: wall_ms(),
    };
    let ended = txn_call(&setup, end(false)).await.expect("aborted");
    assert_eq!(ended.markers, vec![(topic_id(), 0, 4)]);
    // 5 opens the next transaction, 6 is plain data after it: the LSO is 5.
    txn_call(&setup, add.clone()).await.expect("added");
    flush_partition_0(
        &mut setup,
        1,
        &[(&["c0"], Some((pe.0, pe.1, 2))), (&["p0"], None)],
    )
    .await;
    assert_eq!(
        archive_once(&setup).await,
        rows(&[(0, "a0"), (1, "a1")]),
        "no aborted record, nothing past the LSO"
    );
    assert_eq!(progress(&setup).next_offset(0), 4);

    let ended = txn_call(&setup, end(true)).await.expect("committed");
    assert_eq!(ended.markers, vec![(topic_id(), 0, 7)]);
    flush_partition_0(&mut setup, 2, &[(&["p1"], None)]).await;
    assert_eq!(
        archive_once(&setup).await,
        rows(&[(0, "a0"), (1, "a1"), (5, "c0"), (6, "p0"), (8, "p1")]),
        "the committed transaction and what followed it, no marker"
    );
    setup.controller.shutdown().await.expect("shutdown");
}
