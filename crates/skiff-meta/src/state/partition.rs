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

    /// Every producer with idempotence state on this partition, by producer id.
    pub fn producers(&self) -> impl Iterator<Item = (i64, &ProducerPartitionState)> {
        self.producers.iter().map(|(id, state)| (*id, state))
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

    /// Appends a transaction marker entry at the high watermark (its offset must be that);
    /// `None`, and nothing appended, when it is not or the offset space is exhausted.
    pub(super) fn append_marker(&mut self, entry: IndexEntry) -> Option<i64> {
        let offset = entry.base_offset;
        let end = offset.checked_add(1)?;
        if offset != self.high_watermark || !entry.is_marker() {
            return None;
        }
        self.push_entry(entry);
        self.high_watermark = end;
        Some(offset)
    }

    pub(super) fn push_entry(&mut self, entry: IndexEntry) {
        self.size_bytes = self.size_bytes.saturating_add(u64::from(entry.len));
        self.entries.push_back(entry);
    }

    /// Where retention would move the log start: past every leading entry whose max
    /// timestamp is older than `now_ms - retention_ms`, or that the partition can lose and
    /// still hold at least `retention_bytes` (Kafka's rules, applied per index entry instead of
    /// per segment). `None` when nothing is due. Visits only the entries it would drop.
    ///
    /// Entries reaching `stable_offset` (the last stable offset) stay whatever their age or
    /// size: an open transaction's first batch, and everything after it, outlives retention
    /// until the transaction ends, so its LSO never falls below the log start.
    pub fn retention_cut(
        &self,
        now_ms: i64,
        retention_ms: i64,
        retention_bytes: i64,
        stable_offset: i64,
    ) -> Option<i64> {
        let time_cutoff = (retention_ms >= 0).then(|| now_ms.saturating_sub(retention_ms));
        let size_limit = u64::try_from(retention_bytes).ok();
        let mut remaining = self.size_bytes;
        let mut cut = None;
        for entry in &self.entries {
            let expired = time_cutoff.is_some_and(|cutoff| entry.max_timestamp < cutoff);
            let oversize = size_limit
                .is_some_and(|limit| remaining.saturating_sub(u64::from(entry.len)) >= limit);
            if !(expired || oversize) || entry.last_offset >= stable_offset {
                break;
            }
            remaining = remaining.saturating_sub(u64::from(entry.len));
            cut = Some(entry.last_offset.saturating_add(1));
        }
        cut.filter(|c| *c > self.log_start_offset)
    }

    /// Moves the log start offset to `offset` (never backwards, never past the high
    /// watermark) and removes the entries wholly below it, returning them so their objects
    /// can be released.
    pub(super) fn truncate_front(&mut self, offset: i64) -> Vec<IndexEntry> {
        let offset = offset.min(self.high_watermark);
        if offset <= self.log_start_offset {
            return Vec::new();
        }
        self.log_start_offset = offset;
        let below = self.entries.partition_point(|e| e.last_offset < offset);
        let dropped: Vec<IndexEntry> = self.entries.drain(..below).collect();
        for entry in &dropped {
            self.size_bytes = self.size_bytes.saturating_sub(u64::from(entry.len));
        }
        if self
            .max_timestamp
            .is_some_and(|m| m.batch_base_offset < offset)
        {
            self.recompute_max_timestamp();
        }
        dropped
    }

    /// The position of the entry starting at `base_offset`, if there is one.
    pub(super) fn entry_index(&self, base_offset: i64) -> Option<usize> {
        let i = self
            .entries
            .partition_point(|e| e.base_offset < base_offset);
        self.entries
            .get(i)
            .is_some_and(|e| e.base_offset == base_offset)
            .then_some(i)
    }

    /// The entries at positions `at..at + count`, when they all exist.
    pub(super) fn entries_at(
        &self,
        at: usize,
        count: usize,
    ) -> Option<impl DoubleEndedIterator<Item = &IndexEntry>> {
        (at.checked_add(count)? <= self.entries.len()).then(|| self.entries.range(at..at + count))
    }

    /// Replaces the `count` entries at position `at` by `replacement` (already checked to
    /// cover the same offsets), returning the replaced ones. Costs the entries after `at`.
    /// Unless every batch was kept (a merge), the batch holding the partition's max timestamp
    /// may be gone, so the max is found again.
    pub(super) fn replace_entries(
        &mut self,
        at: usize,
        count: usize,
        replacement: &[IndexEntry],
        keeps_every_batch: bool,
    ) -> Vec<IndexEntry> {
        let tail = self
            .entries
            .split_off(at.saturating_add(count).min(self.entries.len()));
        let replaced: Vec<IndexEntry> = self.entries.drain(at.min(self.entries.len())..).collect();
        for entry in &replaced {
            self.size_bytes = self.size_bytes.saturating_sub(u64::from(entry.len));
        }
        for entry in replacement {
            self.size_bytes = self.size_bytes.saturating_add(u64::from(entry.len));
            self.entries.push_back(*entry);
        }
        self.entries.extend(tail);
        if !keeps_every_batch
            && self.max_timestamp.is_some_and(|m| {
                replaced.first().zip(replaced.last()).is_some_and(|(f, l)| {
                    (f.base_offset..=l.last_offset).contains(&m.batch_base_offset)
                })
            })
        {
            self.recompute_max_timestamp();
        }
        replaced
    }

    /// The largest entry max timestamp and where its entry starts, after the batch that held
    /// the maximum went away. ListOffsets looks for that timestamp from the entry's start.
    fn recompute_max_timestamp(&mut self) {
        let mut best: Option<MaxTimestamp> = None;
        for entry in &self.entries {
            if best.is_none_or(|b| entry.max_timestamp > b.timestamp) {
                best = Some(MaxTimestamp {
                    timestamp: entry.max_timestamp,
                    batch_base_offset: entry.base_offset.max(self.log_start_offset),
                });
            }
        }
        self.max_timestamp = best;
    }
}
