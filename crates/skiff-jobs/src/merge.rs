//! The merge job: copies a run of a partition's small index entries (mostly slices of
//! multi-partition flush segments) into one per-partition object, batches as stored with their
//! real offsets written in, so the partition needs fewer entries and fewer GETs per byte. No
//! record is decoded or re-encoded: offsets sit outside the batch CRC.

use bytes::{Bytes, BytesMut};
use futures::{StreamExt, TryStreamExt};
use skiff_meta::{ControllerState, EntryRef, IndexEntry, JobOutput, JobSpec, OutputEntry};
use skiff_storage::{ChunkMeta, ObjectPath, SegmentBuilder, SegmentStore, segment_path};

use crate::context::{Finished, JobContext};
use crate::error::JobFailure;
use skiff_meta::StateHandle;

/// One source entry and what reading it needs, copied out under the state lock.
#[derive(Debug, Clone)]
pub(crate) struct Source {
    pub(crate) entry: IndexEntry,
    pub(crate) key: String,
    /// The object was written by a job: its batches carry their real offsets already.
    pub(crate) real_offsets: bool,
}

pub(crate) async fn run(
    ctx: &JobContext,
    state: &StateHandle,
    spec: &JobSpec,
    now_ms: i64,
) -> Result<Finished, JobFailure> {
    let sources = sources(&state.read(), spec)?;
    // Read in order with a few GETs in flight; the whole run is held (at most the job's
    // source bytes, which the planner caps at the merge target size).
    // Each read owns what it needs, so the job's future is Send for any borrow of its inputs.
    let reads = sources.clone().into_iter().map(|source| {
        let store = ctx.store.clone();
        async move { read(&store, &source).await }
    });
    let runs: Vec<Bytes> = futures::stream::iter(reads)
        .buffered(ctx.read_concurrency.max(1))
        .try_collect()
        .await?;
    let source_bytes = runs.iter().map(|r| r.len() as u64).sum();
    let (meta, entries) = layout(spec, &sources, &runs)?;

    let mut builder = SegmentBuilder::new(ctx.broker_id, now_ms);
    builder.push_chunk(meta, runs);
    let encoded = builder.finish();
    let chunk_position = encoded.chunks.first().map_or(0, |c| c.position);
    let object_size = encoded.len;
    let path = segment_path(ctx.broker_id, now_ms);
    ctx.store.put_segment(&path, encoded).await?;

    Ok(Finished {
        replaced: sources
            .iter()
            .map(|s| EntryRef {
                base_offset: s.entry.base_offset,
                last_offset: s.entry.last_offset,
                object_id: s.entry.object_id,
                position: s.entry.position,
            })
            .collect(),
        outputs: vec![JobOutput {
            object_key: path.to_string(),
            object_size,
            entries: entries
                .into_iter()
                .map(|mut e| {
                    e.position += chunk_position;
                    e
                })
                .collect(),
        }],
        source_bytes,
    })
}

/// The job's source entries as the index holds them now: exactly the planned run, or the job
/// is void (retention, DeleteRecords or another change got there first).
pub(crate) fn sources(state: &ControllerState, spec: &JobSpec) -> Result<Vec<Source>, JobFailure> {
    let log = state
        .partition_log(spec.partition)
        .ok_or(JobFailure::SourceChanged)?;
    let count = usize::try_from(spec.source_entries).unwrap_or(usize::MAX);
    let entries: Vec<IndexEntry> = log
        .entries_from(spec.first_offset)
        .take(count)
        .copied()
        .collect();
    let as_planned = entries.len() == count
        && entries.first().map(|e| e.base_offset) == Some(spec.first_offset)
        && entries.last().map(|e| e.last_offset) == Some(spec.last_offset);
    if !as_planned {
        return Err(JobFailure::SourceChanged);
    }
    entries
        .into_iter()
        .map(|entry| {
            let key =
                state
                    .object_key(entry.object_id)
                    .ok_or_else(|| JobFailure::UnknownObject {
                        key: format!("#{}", entry.object_id),
                        object_id: entry.object_id,
                    })?;
            Ok(Source {
                entry,
                key: key.to_string(),
                real_offsets: state.object_has_real_offsets(entry.object_id),
            })
        })
        .collect()
}

/// One entry's batches with their real offsets, checked against the entry.
pub(crate) async fn read(store: &SegmentStore, source: &Source) -> Result<Bytes, JobFailure> {
    let entry = &source.entry;
    let range = entry.position..entry.position + u64::from(entry.len);
    let raw = store
        .get_range(&ObjectPath::from(source.key.as_str()), range)
        .await?;
    let bad = |e: skiff_records::RecordsError| JobFailure::BadSource {
        key: source.key.clone(),
        reason: e.to_string(),
    };
    if source.real_offsets {
        skiff_records::check_run_offsets(&raw, entry.base_offset, entry.last_offset)
            .map_err(bad)?;
        return Ok(raw);
    }
    let mut raw = BytesMut::from(raw);
    skiff_records::assign_run_offsets(&mut raw, entry.base_offset, entry.last_offset)
        .map_err(bad)?;
    Ok(raw.freeze())
}

/// The output chunk's metadata and its index entries (positions relative to the chunk): runs
/// of source entries joined while they fit in `max_entry_bytes`.
fn layout(
    spec: &JobSpec,
    sources: &[Source],
    runs: &[Bytes],
) -> Result<(ChunkMeta, Vec<OutputEntry>), JobFailure> {
    let mut meta = ChunkMeta {
        topic_id: spec.partition.topic_id,
        partition: spec.partition.partition,
        batch_count: 0,
        record_count: 0,
        min_timestamp: i64::MAX,
        max_timestamp: i64::MIN,
    };
    let mut entries: Vec<OutputEntry> = Vec::new();
    let mut position = 0u64;
    let max_entry_bytes = u64::from(spec.max_entry_bytes.max(1));
    for (source, run) in sources.iter().zip(runs) {
        for batch in skiff_records::batches(run) {
            let batch = batch.map_err(|e| JobFailure::BadSource {
                key: source.key.clone(),
                reason: e.to_string(),
            })?;
            meta.batch_count = meta.batch_count.saturating_add(1);
            meta.record_count = meta
                .record_count
                .saturating_add(u32::try_from(batch.record_count()).unwrap_or(0));
            meta.min_timestamp = meta.min_timestamp.min(batch.base_timestamp());
            meta.max_timestamp = meta.max_timestamp.max(batch.max_timestamp());
        }
        let len = u32::try_from(run.len()).map_err(|_| JobFailure::BadSource {
            key: source.key.clone(),
            reason: "an entry longer than 4 GiB".into(),
        })?;
        let e = &source.entry;
        match entries.last_mut() {
            Some(last) if u64::from(last.len) + u64::from(len) <= max_entry_bytes => {
                last.len += len;
                last.last_offset = e.last_offset;
                last.max_timestamp = last.max_timestamp.max(e.max_timestamp);
            }
            _ => entries.push(OutputEntry {
                base_offset: e.base_offset,
                last_offset: e.last_offset,
                position,
                len,
                max_timestamp: e.max_timestamp,
            }),
        }
        position += u64::from(len);
    }
    Ok((meta, entries))
}
