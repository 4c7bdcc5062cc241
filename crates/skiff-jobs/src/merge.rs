//! One partition's merge: a run of its small index entries (mostly slices of multi-partition
//! flush segments) copied, batches as stored with their real offsets written in, into one chunk
//! of a job's output object, so the partition needs fewer entries and fewer GETs per byte. No
//! record is decoded or re-encoded: offsets sit outside the batch CRC. A transaction marker's
//! entry has no object: its control batch, fully determined by the entry, is written in its
//! place, so markers fold into merged objects and fetches return the same control batches.
//! Merges run in bundles ([`crate::merge_bundle`]); compaction reads its sources with the same
//! helpers.

use bytes::{Bytes, BytesMut};
use skiff_meta::index_entry::TxnMarker;
use skiff_meta::{ControllerState, EntryRef, IndexEntry, JobSpec, OutputEntry};
use skiff_storage::{ChunkMeta, ObjectPath, SegmentStore};

use crate::error::JobFailure;

/// One source entry and what reading it needs, copied out under the state lock.
#[derive(Debug, Clone)]
pub(crate) struct Source {
    pub(crate) entry: IndexEntry,
    pub(crate) key: String,
    /// The object was written by a job: its batches carry their real offsets already.
    pub(crate) real_offsets: bool,
}

pub(crate) fn entry_ref(entry: &IndexEntry) -> EntryRef {
    EntryRef {
        base_offset: entry.base_offset,
        last_offset: entry.last_offset,
        object_id: entry.object_id,
        position: entry.position,
    }
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
            if entry.is_marker() {
                return Ok(Source {
                    entry,
                    key: String::new(),
                    real_offsets: true,
                });
            }
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

/// A transaction marker's control batch, as the fetch path serves it.
pub(crate) fn marker_batch(marker: TxnMarker) -> Bytes {
    Bytes::copy_from_slice(&skiff_records::control_batch(
        &skiff_records::ControlMarker {
            offset: marker.offset,
            producer_id: marker.producer_id,
            producer_epoch: marker.producer_epoch,
            commit: marker.commit,
            timestamp: marker.timestamp,
            coordinator_epoch: TxnMarker::COORDINATOR_EPOCH,
        },
    ))
}

/// One entry's batches with their real offsets, checked against the entry (a marker's
/// control batch, without a read).
pub(crate) async fn read(store: &SegmentStore, source: &Source) -> Result<Bytes, JobFailure> {
    let entry = &source.entry;
    if let Some(marker) = entry.as_marker() {
        return Ok(marker_batch(marker));
    }
    let range = entry.position..entry.position + u64::from(entry.len);
    let raw = store
        .get_range(&ObjectPath::from(source.key.as_str()), range)
        .await?;
    with_real_offsets(source, raw)
}

/// An entry's bytes as read, with the offsets its index entry gives them written in (a
/// flushed segment's batches carry placeholders) or checked (a job's output has them).
pub(crate) fn with_real_offsets(source: &Source, raw: Bytes) -> Result<Bytes, JobFailure> {
    let entry = &source.entry;
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
pub(crate) fn layout(
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
