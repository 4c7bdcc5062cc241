//! The key compaction job (Kafka's log cleaner, for `cleanup.policy=compact`): rewrites a
//! partition's log from its start, keeping only the latest record of each key, and swaps the
//! run for the result.
//!
//! How a long-lived log stays compacted. The entries before the partition's cleaner
//! checkpoint (`cleaned_until`) are clean: every key appears there at most once. The job builds
//! its key map (the latest offset of each key) from the dirty entries after the checkpoint
//! only, in offset order until the map is full, then rewrites every entry from the log start
//! to the last one the map covered, window by window: a record goes when the map holds a
//! later offset for its key. The commit swaps the whole run at once and moves the checkpoint
//! to the end of what the map covered; the dirty entries past it wait for the next job. So the
//! job reaches new data however large the clean part is, with bounded memory: the key map (at
//! most `JobContext::compaction_map_bytes`), one window of source entries (at most the
//! object size, or one entry), its rewritten batches and the object being written (at most
//! the object size: the planner's merge target). Output objects hold at most that many bytes.
//!
//! This is Kafka's design. The alternative, sliding a bounded window over the log in
//! successive jobs, needs each window's job to read the later dirty data for its key map
//! anyway, and cannot remove a tombstone safely unless every earlier window was cleaned with a
//! map holding it, which needs cross-job progress in the replicated state. One job per pass
//! keeps the invariant local: the clean part is duplicate-free before and after each commit.
//!
//! - Offsets never change: a batch keeps its base offset and last offset delta (the dropped
//!   records become gaps, as in Kafka), a batch left with no record goes away, and the output
//!   entries cover only the offsets still there. Kept batches keep their producer id, epoch
//!   and base sequence, codec and timestamps; the idempotence state lives in the controller,
//!   so unlike Kafka no empty batch is kept to remember a producer.
//! - A tombstone (a record with a null value) is dropped, once it is the latest of its key,
//!   when its batch's max timestamp is before the job's `tombstone_cutoff_ms` (the planner's
//!   clock minus `delete.retention.ms`). That is safe: in the clean part it is its key's only
//!   record before the checkpoint, and in the dirty part every earlier record of its key goes
//!   in the same commit. Records without a key (written before the topic was compacted) are
//!   dropped, as Kafka's cleaner drops them.
//! - Transactions (Kafka's cleaner does the same): records of aborted transactions (the
//!   partition's aborted list in the state) are dropped and never enter the key map, so an
//!   aborted write never removes a committed one; control batches (markers, written from
//!   their index entries) are kept as they are. The planner never lets a job reach an open
//!   transaction. Unlike Kafka, old markers are not removed after `delete.retention.ms`: each
//!   is one 78-byte batch per transaction and partition.
//! - A record is only ever dropped for a later record of its key that stays in the log:
//!   retention and DeleteRecords cut the log from its start, so they cannot take the later
//!   record and leave the earlier, and a partition runs one job at a time.
//!
//! The record work runs on blocking threads, checking for cancellation between batches.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use skiff_meta::state::AbortedRanges;
use skiff_meta::{EntryRef, JobOutput, JobSpec, OutputEntry, StateHandle};
use skiff_records::{DEFAULT_MAX_DECOMPRESSED_BYTES, RecordsError, Retained};
use skiff_storage::{ChunkMeta, SegmentBuilder, segment_path};
use tokio_util::sync::CancellationToken;

use crate::context::{Finished, JobContext};
use crate::error::JobFailure;
use crate::merge::{self, Source};

/// Bytes the key map is charged per key beyond the key itself: the boxed key's pointer and
/// length, the offset, the hash table's control byte and spare capacity, the allocation.
pub const KEY_OVERHEAD: usize = 64;

/// The latest offset of each key in the dirty entries the job covers.
type KeyMap = HashMap<Box<[u8]>, i64>;

/// What the job is told: its tombstone cutoff and the largest object it may write.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Compaction {
    pub(crate) tombstone_cutoff_ms: i64,
    pub(crate) object_bytes: u64,
}

pub(crate) async fn run(
    ctx: &JobContext,
    state: &StateHandle,
    spec: &JobSpec,
    compaction: Compaction,
    now_ms: i64,
) -> Result<Finished, JobFailure> {
    let (sources, dirty_from, aborted) = {
        let state = state.read();
        let aborted: Vec<_> = state
            .txns()
            .aborted_overlapping(
                spec.partition.topic_id,
                spec.partition.partition,
                spec.first_offset,
                spec.last_offset.saturating_add(1),
            )
            .copied()
            .collect();
        (
            merge::sources(&state, spec)?,
            state.cleaned_until(spec.partition),
            aborted,
        )
    };
    // As the planner counts them: an entry reaching the checkpoint is dirty.
    let first_dirty = sources
        .iter()
        .position(|s| s.entry.last_offset >= dirty_from)
        .unwrap_or(sources.len());
    let object_bytes = compaction.object_bytes.max(1);
    let limits = Limits {
        map_bytes: ctx.compaction_map_bytes,
        max_entry_bytes: u64::from(spec.max_entry_bytes.max(1)),
        tombstone_cutoff_ms: compaction.tombstone_cutoff_ms,
    };
    // Dropping this future (lease lost, shutdown) stops the blocking work at the next batch.
    let stop = CancellationToken::new();
    let _stop_on_drop = stop.clone().drop_guard();

    // Pass 1: the key map, from the dirty entries, until it is full.
    let mut map = KeyMap::new();
    let mut map_bytes = 0usize;
    let mut end = first_dirty;
    let dirty = sources.get(first_dirty..).unwrap_or_default();
    let mut skip = AbortedRanges::new(aborted.clone());
    for window in windows(dirty, object_bytes) {
        let window = sources_in(dirty, &window);
        let runs = read_window(ctx, &window).await?;
        let stop = stop.clone();
        let added = tokio::task::spawn_blocking(move || {
            add_keys(
                &mut map,
                &mut map_bytes,
                &mut skip,
                &runs,
                &window,
                &limits,
                &stop,
            )
            .map(|taken| (map, map_bytes, skip, taken))
        })
        .await
        .map_err(|e| JobFailure::Worker(e.to_string()))?;
        let taken;
        (map, map_bytes, skip, taken) = added?;
        end += taken;
        if map_bytes >= limits.map_bytes {
            break;
        }
    }

    // Pass 2: every entry from the log start to the end of the map's, window by window.
    let covered = sources.get(..end).unwrap_or_default();
    let map = Arc::new(map);
    let mut stats = CompactionStats {
        keys: map.len() as u64,
        ..CompactionStats::default()
    };
    let mut object = ObjectBuf::new(limits.max_entry_bytes);
    let mut outputs: Vec<JobOutput> = Vec::new();
    let mut source_bytes = 0u64;
    let mut skip = AbortedRanges::new(aborted);
    for window in windows(covered, object_bytes) {
        let window = sources_in(covered, &window);
        let runs = read_window(ctx, &window).await?;
        source_bytes += runs.iter().map(|r| r.len() as u64).sum::<u64>();
        let (stop, map) = (stop.clone(), map.clone());
        let rewritten;
        (rewritten, skip) = tokio::task::spawn_blocking(move || {
            rewrite(&runs, &window, &map, &mut skip, &limits, &stop).map(|r| (r, skip))
        })
        .await
        .map_err(|e| JobFailure::Worker(e.to_string()))??;
        stats.add(&rewritten.stats);
        if !object.is_empty() && object.len() + rewritten.out.len() as u64 > object_bytes {
            outputs.push(object.upload(ctx, spec, now_ms).await?);
            object = ObjectBuf::new(limits.max_entry_bytes);
        }
        object
            .append(rewritten)
            .map_err(|reason| JobFailure::BadSource {
                key: String::new(),
                reason: reason.into(),
            })?;
    }
    if !object.is_empty() {
        outputs.push(object.upload(ctx, spec, now_ms).await?);
    }
    tracing::info!(
        topic_id = %spec.partition.topic_id,
        partition = spec.partition.partition,
        entries = covered.len(),
        planned_entries = sources.len(),
        clean_entries = first_dirty,
        keys = stats.keys,
        records = stats.records,
        kept = stats.kept,
        tombstones_removed = stats.tombstones_removed,
        keyless_removed = stats.keyless_removed,
        aborted_removed = stats.aborted_removed,
        source_bytes,
        output_objects = outputs.len(),
        output_bytes = outputs.iter().map(|o| o.object_size).sum::<u64>(),
        "compacted a partition's entries"
    );
    Ok(Finished {
        replaced: covered
            .iter()
            .map(|s| EntryRef {
                base_offset: s.entry.base_offset,
                last_offset: s.entry.last_offset,
                object_id: s.entry.object_id,
                position: s.entry.position,
            })
            .collect(),
        outputs,
        source_bytes,
    })
}

/// Consecutive runs of `sources` of at most `max_bytes` each (or one entry, if larger).
fn windows(sources: &[Source], max_bytes: u64) -> Vec<Range<usize>> {
    let mut out: Vec<Range<usize>> = Vec::new();
    let mut bytes = 0u64;
    for (i, source) in sources.iter().enumerate() {
        let len = u64::from(source.entry.len);
        match out.last_mut() {
            Some(window) if bytes + len <= max_bytes => {
                window.end = i + 1;
                bytes += len;
            }
            _ => {
                out.push(i..i + 1);
                bytes = len;
            }
        }
    }
    out
}

fn sources_in(sources: &[Source], window: &Range<usize>) -> Vec<Source> {
    sources.get(window.clone()).unwrap_or_default().to_vec()
}

/// One window's entries, read with a few GETs in flight.
async fn read_window(ctx: &JobContext, window: &[Source]) -> Result<Vec<Bytes>, JobFailure> {
    // Each read owns what it needs, so the job's future is Send for any borrow of its inputs.
    let reads = window.iter().cloned().map(|source| {
        let store = ctx.store.clone();
        async move { merge::read(&store, &source).await }
    });
    futures::stream::iter(reads)
        .buffered(ctx.read_concurrency.max(1))
        .try_collect()
        .await
}

fn bad_source(sources: &[Source], i: usize) -> impl Fn(RecordsError) -> JobFailure + '_ {
    move |e: RecordsError| JobFailure::BadSource {
        key: sources.get(i).map_or_else(String::new, |s| s.key.clone()),
        reason: e.to_string(),
    }
}

/// Adds the keys of a window's entries to the map, entry by entry, until the map is full;
/// answers how many entries it took.
fn add_keys(
    map: &mut KeyMap,
    map_bytes: &mut usize,
    aborted: &mut AbortedRanges,
    runs: &[Bytes],
    sources: &[Source],
    limits: &Limits,
    stop: &CancellationToken,
) -> Result<usize, JobFailure> {
    for (i, run) in runs.iter().enumerate() {
        let bad = bad_source(sources, i);
        for batch in skiff_records::batches(run) {
            if stop.is_cancelled() {
                return Err(JobFailure::Cancelled);
            }
            let batch = batch.map_err(&bad)?;
            if batch.is_control() || is_aborted(aborted, &batch) {
                continue;
            }
            let base = batch.base_offset();
            let mut walk = batch
                .walk_records(DEFAULT_MAX_DECOMPRESSED_BYTES)
                .map_err(&bad)?;
            while let Some(record) = walk.next_record() {
                let record = record.map_err(|e| bad(e.into()))?;
                let Some(key) = record.key else { continue };
                let offset = base.saturating_add(i64::from(record.offset_delta));
                match map.get_mut(key) {
                    Some(at) => *at = (*at).max(offset),
                    None => {
                        *map_bytes = map_bytes.saturating_add(key.len() + KEY_OVERHEAD);
                        map.insert(key.into(), offset);
                    }
                }
            }
        }
        if *map_bytes >= limits.map_bytes {
            return Ok(i + 1);
        }
    }
    Ok(runs.len())
}

/// A transactional batch of an aborted transaction (`aborted` must see batches in order).
fn is_aborted(aborted: &mut AbortedRanges, batch: &skiff_records::BatchView<'_>) -> bool {
    batch.is_transactional() && aborted.is_aborted(batch.producer_id(), batch.base_offset())
}

#[derive(Debug, Clone, Copy)]
struct Limits {
    map_bytes: usize,
    max_entry_bytes: u64,
    tombstone_cutoff_ms: i64,
}

/// What one job did, for its log line and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CompactionStats {
    pub keys: u64,
    pub records: u64,
    pub kept: u64,
    pub tombstones_removed: u64,
    pub keyless_removed: u64,
    /// Records of aborted transactions dropped.
    pub aborted_removed: u64,
}

impl CompactionStats {
    fn add(&mut self, other: &CompactionStats) {
        self.records += other.records;
        self.kept += other.kept;
        self.tombstones_removed += other.tombstones_removed;
        self.keyless_removed += other.keyless_removed;
        self.aborted_removed += other.aborted_removed;
    }
}

/// One window rewritten: the kept batches back to back, and where each is.
struct Rewritten {
    out: Vec<u8>,
    batches: Vec<KeptBatch>,
    stats: CompactionStats,
}

/// A kept batch, at `start` in its window's output.
struct KeptBatch {
    base_offset: i64,
    last_offset: i64,
    start: usize,
    len: usize,
    records: u32,
    base_timestamp: i64,
    max_timestamp: i64,
}

/// Every batch of a window again, keeping the records no later record of their key replaces.
fn rewrite(
    runs: &[Bytes],
    sources: &[Source],
    latest: &KeyMap,
    aborted: &mut AbortedRanges,
    limits: &Limits,
    stop: &CancellationToken,
) -> Result<Rewritten, JobFailure> {
    let mut stats = CompactionStats::default();
    let mut out: Vec<u8> = Vec::new();
    let mut scratch: Vec<u8> = Vec::new();
    let mut batches: Vec<KeptBatch> = Vec::new();
    for (i, run) in runs.iter().enumerate() {
        let bad = bad_source(sources, i);
        for batch in skiff_records::batches(run) {
            if stop.is_cancelled() {
                return Err(JobFailure::Cancelled);
            }
            let batch = batch.map_err(&bad)?;
            let base = batch.base_offset();
            if is_aborted(aborted, &batch) {
                let records = u64::try_from(batch.record_count()).unwrap_or(0);
                stats.records += records;
                stats.aborted_removed += records;
                continue;
            }
            let start = out.len();
            if batch.is_control() {
                // A marker stays as it is (its key is no record key the map may hold).
                out.extend_from_slice(batch.bytes());
                batches.push(KeptBatch {
                    base_offset: base,
                    last_offset: batch.last_offset(),
                    start,
                    len: batch.len(),
                    records: u32::try_from(batch.record_count()).unwrap_or(0),
                    base_timestamp: batch.base_timestamp(),
                    max_timestamp: batch.max_timestamp(),
                });
                continue;
            }
            let tombstones_expired = batch.max_timestamp() < limits.tombstone_cutoff_ms;
            let mut records = 0u64;
            let mut tombstones = 0u64;
            let mut keyless = 0u64;
            let retained = skiff_records::retain_records(
                batch,
                DEFAULT_MAX_DECOMPRESSED_BYTES,
                |r| {
                    records += 1;
                    let Some(key) = r.key else {
                        keyless += 1;
                        return false;
                    };
                    let offset = base.saturating_add(i64::from(r.offset_delta));
                    if latest.get(key).is_some_and(|&l| l > offset) {
                        return false;
                    }
                    if r.value.is_none() && tombstones_expired {
                        tombstones += 1;
                        return false;
                    }
                    true
                },
                &mut scratch,
                &mut out,
            )
            .map_err(&bad)?;
            let (len, max_timestamp, kept) = match retained {
                Retained::None => (0, i64::MIN, 0),
                Retained::All => {
                    out.extend_from_slice(batch.bytes());
                    let kept = u32::try_from(batch.record_count()).unwrap_or(0);
                    (batch.len(), batch.max_timestamp(), kept)
                }
                Retained::Some {
                    kept,
                    len,
                    max_timestamp,
                } => (len, max_timestamp, kept),
            };
            stats.records += records;
            stats.tombstones_removed += tombstones;
            stats.keyless_removed += keyless;
            if len == 0 {
                continue;
            }
            stats.kept += u64::from(kept);
            batches.push(KeptBatch {
                base_offset: batch.base_offset(),
                last_offset: batch.last_offset(),
                start,
                len,
                records: kept,
                base_timestamp: batch.base_timestamp(),
                max_timestamp,
            });
        }
    }
    Ok(Rewritten {
        out,
        batches,
        stats,
    })
}

/// The output object being filled: kept batches and their index entries.
struct ObjectBuf {
    out: Vec<u8>,
    entries: Vec<OutputEntry>,
    meta: ChunkMeta,
    max_entry_bytes: u64,
}

impl ObjectBuf {
    fn new(max_entry_bytes: u64) -> Self {
        ObjectBuf {
            out: Vec::new(),
            entries: Vec::new(),
            meta: ChunkMeta {
                topic_id: skiff_meta::TopicId::nil(),
                partition: 0,
                batch_count: 0,
                record_count: 0,
                min_timestamp: i64::MAX,
                max_timestamp: i64::MIN,
            },
            max_entry_bytes,
        }
    }

    fn is_empty(&self) -> bool {
        self.out.is_empty()
    }

    fn len(&self) -> u64 {
        self.out.len() as u64
    }

    /// Adds a window's kept batches, each to the last entry or, when that would grow past
    /// the entry size limit, to a new one.
    fn append(&mut self, window: Rewritten) -> Result<(), &'static str> {
        let offset = self.out.len();
        self.out.extend_from_slice(&window.out);
        for batch in window.batches {
            let len32 = u32::try_from(batch.len).map_err(|_| "a batch longer than 4 GiB")?;
            match self.entries.last_mut() {
                Some(last) if u64::from(last.len) + batch.len as u64 <= self.max_entry_bytes => {
                    last.len += len32;
                    last.last_offset = batch.last_offset;
                    last.max_timestamp = last.max_timestamp.max(batch.max_timestamp);
                }
                _ => self.entries.push(OutputEntry {
                    base_offset: batch.base_offset,
                    last_offset: batch.last_offset,
                    position: (offset + batch.start) as u64,
                    len: len32,
                    max_timestamp: batch.max_timestamp,
                }),
            }
            let meta = &mut self.meta;
            meta.batch_count = meta.batch_count.saturating_add(1);
            meta.record_count = meta.record_count.saturating_add(batch.records);
            meta.min_timestamp = meta.min_timestamp.min(batch.base_timestamp);
            meta.max_timestamp = meta.max_timestamp.max(batch.max_timestamp);
        }
        Ok(())
    }

    /// Writes the object; its entries are what the commit will index.
    async fn upload(
        self,
        ctx: &JobContext,
        spec: &JobSpec,
        now_ms: i64,
    ) -> Result<JobOutput, JobFailure> {
        let mut builder = SegmentBuilder::new(ctx.broker_id, now_ms);
        let meta = ChunkMeta {
            topic_id: spec.partition.topic_id,
            partition: spec.partition.partition,
            ..self.meta
        };
        builder.push_chunk(meta, vec![Bytes::from(self.out)]);
        let encoded = builder.finish();
        let chunk_position = encoded.chunks.first().map_or(0, |c| c.position);
        let object_size = encoded.len;
        let path = segment_path(ctx.broker_id, now_ms);
        ctx.store.put_segment(&path, encoded).await?;
        Ok(JobOutput {
            object_key: path.to_string(),
            object_size,
            entries: self
                .entries
                .into_iter()
                .map(|mut e| {
                    e.position += chunk_position;
                    e
                })
                .collect(),
        })
    }
}
