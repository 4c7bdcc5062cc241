//! The key compaction job (Kafka's log cleaner, for `cleanup.policy=compact`): rewrites a run
//! of a partition's entries, starting at its log start, keeping only the latest record of each
//! key, and swaps the run for the result.
//!
//! - Offsets never change: a batch keeps its base offset and last offset delta (the dropped
//!   records become gaps, as in Kafka), a batch left with no record goes away, and the output
//!   entries cover only the offsets still there. Kept batches keep their producer id, epoch
//!   and base sequence, codec and timestamps; the idempotence state lives in the controller,
//!   so unlike Kafka no empty batch is kept to remember a producer.
//! - A tombstone (a record with a null value) is dropped, once it is the latest of its key,
//!   when its batch's max timestamp is before the job's `tombstone_cutoff_ms` (the planner's
//!   clock minus `delete.retention.ms`). Records without a key (written before the topic was
//!   compacted) are dropped, as Kafka's cleaner drops them.
//! - Memory: the source entries (the planner caps them at the merge target size), the output,
//!   and the key map: the latest offset of every key seen, accounted at its key's length plus
//!   [`KEY_OVERHEAD`] bytes. When the map passes `JobContext::compaction_map_bytes`, the job
//!   compacts only the entries read so far (the controller accepts a prefix of the planned
//!   run); the rest stays dirty for the next job. A record it drops always has a later record
//!   of its key in that prefix, so nothing the prefix leaves out can resurrect an older value.
//!
//! The record work runs on a blocking thread, checking for cancellation between batches.

use std::collections::HashMap;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use skiff_meta::{EntryRef, JobOutput, JobSpec, OutputEntry, StateHandle};
use skiff_records::{BatchView, DEFAULT_MAX_DECOMPRESSED_BYTES, RecordsError, Retained};
use skiff_storage::{ChunkMeta, SegmentBuilder, segment_path};
use tokio_util::sync::CancellationToken;

use crate::context::{Finished, JobContext};
use crate::error::JobFailure;
use crate::merge::{self, Source};

/// Bytes the key map is charged per key beyond the key itself: the boxed key's pointer and
/// length, the offset, the hash table's control byte and spare capacity, the allocation.
pub const KEY_OVERHEAD: usize = 64;

pub(crate) async fn run(
    ctx: &JobContext,
    state: &StateHandle,
    spec: &JobSpec,
    tombstone_cutoff_ms: i64,
    now_ms: i64,
) -> Result<Finished, JobFailure> {
    let sources = merge::sources(&state.read(), spec)?;
    let reads = sources.clone().into_iter().map(|source| {
        let store = ctx.store.clone();
        async move { merge::read(&store, &source).await }
    });
    let runs: Vec<Bytes> = futures::stream::iter(reads)
        .buffered(ctx.read_concurrency.max(1))
        .try_collect()
        .await?;

    let limits = Limits {
        map_bytes: ctx.compaction_map_bytes,
        max_entry_bytes: u64::from(spec.max_entry_bytes.max(1)),
        tombstone_cutoff_ms,
    };
    // Dropping this future (lease lost, shutdown) stops the blocking work at the next batch.
    let stop = CancellationToken::new();
    let _stop_on_drop = stop.clone().drop_guard();
    let work_sources = sources.clone();
    let compacted = tokio::task::spawn_blocking(move || {
        compact(&runs, &work_sources, &limits, &stop).map(|c| (c, runs))
    })
    .await
    .map_err(|e| JobFailure::Worker(e.to_string()))?;
    let (compacted, runs) = compacted?;
    let replaced_sources = sources.get(..compacted.prefix).unwrap_or_default();
    let source_bytes: u64 = runs
        .get(..compacted.prefix)
        .unwrap_or_default()
        .iter()
        .map(|r| r.len() as u64)
        .sum();
    let stats = compacted.stats;
    tracing::info!(
        topic_id = %spec.partition.topic_id,
        partition = spec.partition.partition,
        entries = compacted.prefix,
        planned_entries = sources.len(),
        keys = stats.keys,
        records = stats.records,
        kept = stats.kept,
        tombstones_removed = stats.tombstones_removed,
        keyless_removed = stats.keyless_removed,
        source_bytes,
        output_bytes = compacted.out.len(),
        "compacted a partition's entries"
    );

    let output = match compacted.entries.is_empty() {
        true => None,
        false => {
            let mut builder = SegmentBuilder::new(ctx.broker_id, now_ms);
            let meta = ChunkMeta {
                topic_id: spec.partition.topic_id,
                partition: spec.partition.partition,
                ..compacted.meta
            };
            builder.push_chunk(meta, vec![Bytes::from(compacted.out)]);
            let encoded = builder.finish();
            let chunk_position = encoded.chunks.first().map_or(0, |c| c.position);
            let object_size = encoded.len;
            let path = segment_path(ctx.broker_id, now_ms);
            ctx.store.put_segment(&path, encoded).await?;
            Some(JobOutput {
                object_key: path.to_string(),
                object_size,
                entries: compacted
                    .entries
                    .into_iter()
                    .map(|mut e| {
                        e.position += chunk_position;
                        e
                    })
                    .collect(),
            })
        }
    };
    Ok(Finished {
        replaced: replaced_sources
            .iter()
            .map(|s| EntryRef {
                base_offset: s.entry.base_offset,
                last_offset: s.entry.last_offset,
                object_id: s.entry.object_id,
                position: s.entry.position,
            })
            .collect(),
        output,
        source_bytes,
    })
}

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
}

/// The rewritten prefix of the job's entries.
struct Compacted {
    /// Source entries rewritten (the first `prefix` of the planned run).
    prefix: usize,
    /// The kept batches, back to back.
    out: Vec<u8>,
    /// Their index entries, positions relative to `out`.
    entries: Vec<OutputEntry>,
    /// Counts and timestamps of `out` (topic and partition filled in by the caller).
    meta: ChunkMeta,
    stats: CompactionStats,
}

fn compact(
    runs: &[Bytes],
    sources: &[Source],
    limits: &Limits,
    stop: &CancellationToken,
) -> Result<Compacted, JobFailure> {
    let bad = |i: usize| {
        let key = sources.get(i).map_or_else(String::new, |s| s.key.clone());
        move |e: RecordsError| JobFailure::BadSource {
            key: key.clone(),
            reason: e.to_string(),
        }
    };

    // Pass 1: the latest offset of every key, entry by entry until the map is full.
    let mut latest: HashMap<Box<[u8]>, i64> = HashMap::new();
    let mut map_bytes = 0usize;
    let mut prefix = 0;
    for (i, run) in runs.iter().enumerate() {
        for batch in skiff_records::batches(run) {
            if stop.is_cancelled() {
                return Err(JobFailure::Cancelled);
            }
            let batch = batch.map_err(bad(i))?;
            if batch.is_control() {
                continue;
            }
            let base = batch.base_offset();
            let mut walk = batch
                .walk_records(DEFAULT_MAX_DECOMPRESSED_BYTES)
                .map_err(bad(i))?;
            while let Some(record) = walk.next_record() {
                let record = record.map_err(|e| bad(i)(e.into()))?;
                let Some(key) = record.key else { continue };
                let offset = base.saturating_add(i64::from(record.offset_delta));
                match latest.get_mut(key) {
                    Some(at) => *at = (*at).max(offset),
                    None => {
                        map_bytes = map_bytes.saturating_add(key.len() + KEY_OVERHEAD);
                        latest.insert(key.into(), offset);
                    }
                }
            }
        }
        prefix = i + 1;
        if map_bytes >= limits.map_bytes {
            break;
        }
    }

    // Pass 2: every batch of the prefix again, keeping the latest record of each key.
    let mut stats = CompactionStats {
        keys: latest.len() as u64,
        ..CompactionStats::default()
    };
    let mut out: Vec<u8> = Vec::new();
    let mut scratch: Vec<u8> = Vec::new();
    let mut entries: Vec<OutputEntry> = Vec::new();
    let mut meta = ChunkMeta {
        topic_id: uuid_nil(),
        partition: 0,
        batch_count: 0,
        record_count: 0,
        min_timestamp: i64::MAX,
        max_timestamp: i64::MIN,
    };
    for (i, run) in runs.iter().take(prefix).enumerate() {
        for batch in skiff_records::batches(run) {
            if stop.is_cancelled() {
                return Err(JobFailure::Cancelled);
            }
            let batch = batch.map_err(bad(i))?;
            let base = batch.base_offset();
            let tombstones_expired = batch.max_timestamp() < limits.tombstone_cutoff_ms;
            let start = out.len();
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
                    if latest.get(key) != Some(&offset) {
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
            .map_err(bad(i))?;
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
            if kept == 0 {
                continue;
            }
            stats.kept += u64::from(kept);
            place(&mut entries, &batch, start, len, max_timestamp, limits).map_err(|reason| {
                JobFailure::BadSource {
                    key: sources.get(i).map_or_else(String::new, |s| s.key.clone()),
                    reason: reason.into(),
                }
            })?;
            meta.batch_count = meta.batch_count.saturating_add(1);
            meta.record_count = meta.record_count.saturating_add(kept);
            meta.min_timestamp = meta.min_timestamp.min(batch.base_timestamp());
            meta.max_timestamp = meta.max_timestamp.max(max_timestamp);
        }
    }
    Ok(Compacted {
        prefix,
        out,
        entries,
        meta,
        stats,
    })
}

/// Adds a kept batch (at `start` in the output, `len` bytes) to the last output entry, or
/// starts a new entry when the last would grow past the entry size limit.
fn place(
    entries: &mut Vec<OutputEntry>,
    batch: &BatchView<'_>,
    start: usize,
    len: usize,
    max_timestamp: i64,
    limits: &Limits,
) -> Result<(), &'static str> {
    let len32 = u32::try_from(len).map_err(|_| "a batch longer than 4 GiB")?;
    match entries.last_mut() {
        Some(last) if u64::from(last.len) + len as u64 <= limits.max_entry_bytes => {
            last.len += len32;
            last.last_offset = batch.last_offset();
            last.max_timestamp = last.max_timestamp.max(max_timestamp);
        }
        _ => entries.push(OutputEntry {
            base_offset: batch.base_offset(),
            last_offset: batch.last_offset(),
            position: start as u64,
            len: len32,
            max_timestamp,
        }),
    }
    Ok(())
}

fn uuid_nil() -> skiff_meta::TopicId {
    skiff_meta::TopicId::nil()
}
