//! One partition's committed log: offsets, the offset→object index, and producer state.

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};

use super::producer::ProducerPartitionState;
use crate::index_entry::IndexEntry;

/// The largest batch max timestamp in a partition and the base offset of the first batch that
/// reached it (what ListOffsets with MAX_TIMESTAMP needs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaxTimestamp {
    pub timestamp: i64,
    pub batch_base_offset: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionLog {
    log_start_offset: i64,
    high_watermark: i64,
    size_bytes: u64,
    entries: VecDeque<IndexEntry>,
    max_timestamp: Option<MaxTimestamp>,
    pub(super) producers: BTreeMap<i64, ProducerPartitionState>,
}

impl PartitionLog {
    pub fn log_start_offset(&self) -> i64 {
        self.log_start_offset
    }

    /// The next offset to assign, which is also the end of the committed log.
    pub fn high_watermark(&self) -> i64 {
        self.high_watermark
    }

    /// Sum of the index entries' byte lengths.
    pub fn size_bytes(&self) -> u64 {
        self.size_bytes
    }

    /// All index entries, oldest first.
    pub fn entries(&self) -> impl DoubleEndedIterator<Item = &IndexEntry> + ExactSizeIterator {
        self.entries.iter()
    }

    /// Entries from the one containing `offset` onwards; when no entry contains it (below the
    /// log start), from the first entry after it. Empty when `offset` is at or past the end.
    pub fn entries_from(
        &self,
        offset: i64,
    ) -> impl DoubleEndedIterator<Item = &IndexEntry> + ExactSizeIterator {
        let first = self.entries.partition_point(|e| e.last_offset < offset);
        self.entries.range(first..)
    }

    /// The first entry (in offset order) whose max timestamp is at or after `ts`: where a
    /// ListOffsets by timestamp starts looking. A linear scan: entry timestamps are not sorted.
    pub fn first_entry_with_max_timestamp_at_or_after(&self, ts: i64) -> Option<&IndexEntry> {
        self.entries.iter().find(|e| e.max_timestamp >= ts)
    }

    pub fn max_timestamp(&self) -> Option<MaxTimestamp> {
        self.max_timestamp
    }

    /// The idempotence state of one producer on this partition.
    pub fn producer_state(&self, producer_id: i64) -> Option<&ProducerPartitionState> {
        self.producers.get(&producer_id)
    }

    /// Number of producers with idempotence state on this partition.
    pub fn producer_count(&self) -> usize {
        self.producers.len()
    }

    /// Claims `offset_count` offsets at the end of the log, or `None` if the offset space is
    /// exhausted.
    pub(super) fn next_offsets(&self, offset_count: u32) -> Option<(i64, i64)> {
        let base = self.high_watermark;
        base.checked_add(i64::from(offset_count))
            .map(|end| (base, end))
    }

    pub(super) fn advance(&mut self, base_offset: i64, end_offset: i64, batch_max_timestamp: i64) {
        self.high_watermark = end_offset;
        // Strictly greater: the first batch to reach the maximum keeps it.
        if self
            .max_timestamp
            .is_none_or(|m| batch_max_timestamp > m.timestamp)
        {
            self.max_timestamp = Some(MaxTimestamp {
                timestamp: batch_max_timestamp,
                batch_base_offset: base_offset,
            });
        }
    }

    pub(super) fn push_entry(&mut self, entry: IndexEntry) {
        self.size_bytes = self.size_bytes.saturating_add(u64::from(entry.len));
        self.entries.push_back(entry);
    }
}
