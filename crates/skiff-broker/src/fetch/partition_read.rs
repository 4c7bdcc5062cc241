use bytes::Bytes;
use skiff_meta::{ControllerState, IndexEntry, PartitionLog};

/// An index entry to read, with what the state knows of its object copied out while the state
/// lock was held.
#[derive(Debug, Clone)]
pub struct PlannedEntry {
    pub object_id: u64,
    pub object_key: String,
    pub entry: IndexEntry,
    /// The object's batches carry their real offsets (a merge or compaction wrote it); a
    /// flushed segment's get them from the entry.
    pub real_offsets: bool,
}

impl PlannedEntry {
    /// `None` when the entry's object is unknown (it cannot be read).
    pub fn new(state: &ControllerState, entry: &IndexEntry) -> Option<PlannedEntry> {
        let object_key = state.object_key(entry.object_id)?;
        Some(PlannedEntry {
            object_id: entry.object_id,
            object_key: object_key.to_string(),
            entry: *entry,
            real_offsets: state.object_has_real_offsets(entry.object_id),
        })
    }
}

/// What one partition's fetch will read, decided under the state lock so no await happens
/// while it is held.
#[derive(Debug)]
pub struct PartitionReadPlan {
    pub high_watermark: i64,
    pub log_start_offset: i64,
    pub entries: Vec<PlannedEntry>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadError {
    OffsetOutOfRange,
}

/// Picks the entries from `offset` on until about `max_bytes` are covered (always at least
/// one, so a batch larger than the limit can still be returned, as KIP-74 requires).
pub fn plan_partition_read(
    state: &ControllerState,
    log: &PartitionLog,
    offset: i64,
    max_bytes: usize,
) -> Result<PartitionReadPlan, ReadError> {
    let high_watermark = log.high_watermark();
    let log_start_offset = log.log_start_offset();
    if offset < log_start_offset || offset > high_watermark {
        return Err(ReadError::OffsetOutOfRange);
    }
    let mut entries = Vec::new();
    let mut planned = 0usize;
    for entry in log.entries_from(offset) {
        if planned >= max_bytes {
            break;
        }
        let Some(planned_entry) = PlannedEntry::new(state, entry) else {
            break;
        };
        // Only the part of the first entry from `offset` on counts, but we cannot know its
        // size without reading it; counting the whole entry errs towards reading less.
        planned += entry.len as usize;
        entries.push(planned_entry);
    }
    Ok(PartitionReadPlan {
        high_watermark,
        log_start_offset,
        entries,
    })
}

/// Cuts whole batches out of an entry's bytes: skips batches that end before `from_offset`
/// and stops before exceeding `budget`. With `allow_oversized_first` the first batch is taken
/// even if it alone exceeds the budget. Returns the slice (zero-copy) and whether the budget
/// stopped it early.
pub fn slice_batches(
    bytes: &Bytes,
    from_offset: i64,
    budget: usize,
    allow_oversized_first: bool,
) -> (Bytes, bool) {
    let mut position = 0usize;
    let mut start = None;
    let mut end = 0usize;
    let mut full = false;
    for batch in skiff_records::batches(bytes) {
        let Ok(batch) = batch else { break };
        let len = batch.len();
        let last_offset = batch.base_offset() + i64::from(batch.last_offset_delta());
        if last_offset < from_offset {
            position += len;
            continue;
        }
        let first = *start.get_or_insert(position);
        let taken = position - first;
        if taken + len > budget && !(taken == 0 && allow_oversized_first) {
            full = true;
            break;
        }
        position += len;
        end = position;
    }
    match start {
        Some(first) if end > first => (bytes.slice(first..end), full),
        _ => (Bytes::new(), full),
    }
}
