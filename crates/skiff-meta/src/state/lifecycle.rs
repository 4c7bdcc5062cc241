//! The life of stored data: retention and DeleteRecords move log start offsets, index entries
//! let go of their objects, and objects nothing references wait here for the collector.
//!
//! Every operation touches only the partitions and objects its command names; the set of
//! unreferenced objects is kept as an index so the collector never scans all objects.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::ControllerState;
use super::jobs::JobTable;
use super::object::ObjectMeta;
use super::partition::PartitionLog;
use crate::command::{
    DELETE_TO_HIGH_WATERMARK, LogDefaults, LogError, PartitionRef, RecordDeletion, Truncation,
};
use crate::ids::TopicId;
use crate::index_entry::IndexEntry;

/// Index entries across the state; see [`ControllerState::index_entry_counts`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IndexEntryCounts {
    pub total: usize,
    pub most_in_one_partition: usize,
}

/// Lifecycle state added in snapshot format 5.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lifecycle {
    pub(super) defaults: LogDefaults,
    /// Objects no index entry points into, with the command time they lost their last one.
    pub(super) unreferenced: BTreeMap<u64, i64>,
    /// Objects written by merge and compaction jobs: their batches carry real offsets.
    pub(super) rewritten: BTreeSet<u64>,
    /// The sizes of every known object, summed.
    pub(super) stored_bytes: u64,
    pub(super) jobs: JobTable,
    /// Per compacted partition, the first offset compaction has not yet cleaned (Kafka's
    /// cleaner checkpoint): entries from there on are dirty.
    pub(super) cleaned_until: BTreeMap<PartitionRef, i64>,
}

impl Lifecycle {
    /// Derives the indexes of an older snapshot, which had none, from its objects.
    pub(super) fn derived_from(objects: &BTreeMap<u64, ObjectMeta>, clock_ms: i64) -> Self {
        Lifecycle {
            unreferenced: objects
                .iter()
                .filter(|(_, o)| o.live_entries == 0)
                .map(|(id, _)| (*id, clock_ms))
                .collect(),
            stored_bytes: objects.values().map(|o| o.size).sum(),
            ..Lifecycle::default()
        }
    }
}

impl ControllerState {
    pub(super) fn partition_log_mut(&mut self, at: PartitionRef) -> Option<&mut PartitionLog> {
        self.topics
            .get_mut(&at.topic_id)?
            .partitions
            .get_mut(usize::try_from(at.partition).ok()?)
    }

    /// One partition's log, by reference.
    pub fn partition_log(&self, at: PartitionRef) -> Option<&PartitionLog> {
        self.topics
            .get(&at.topic_id)?
            .partitions
            .get(usize::try_from(at.partition).ok()?)
    }

    pub(super) fn set_log_defaults(&mut self, defaults: LogDefaults) {
        self.lifecycle.defaults = defaults;
    }

    pub(super) fn enforce_retention(
        &mut self,
        now_ms: i64,
        partitions: &[PartitionRef],
    ) -> Vec<Result<Truncation, LogError>> {
        self.clock_ms = self.clock_ms.max(now_ms);
        partitions
            .iter()
            .map(|at| {
                let topic = self
                    .topics
                    .get(&at.topic_id)
                    .ok_or(LogError::UnknownTopicOrPartition)?;
                // Retention is cluster-wide: the controller's view, no broker's overrides.
                let config = topic.config.effective(self.topic_defaults(None));
                let deletes = config.cleanup_policy().delete;
                let (retention_ms, retention_bytes) =
                    (config.retention_ms(), config.retention_bytes());
                let log = self
                    .partition_log(*at)
                    .ok_or(LogError::UnknownTopicOrPartition)?;
                let cut = deletes
                    .then(|| self.retention_cut(*at, log, now_ms, retention_ms, retention_bytes))
                    .flatten();
                match cut {
                    Some(offset) => self.truncate(*at, offset, now_ms),
                    None => Ok(unchanged(log)),
                }
            })
            .collect()
    }

    /// Where retention moves a partition's log start at `now_ms` (`None`: nowhere): the
    /// entries the limits no longer keep, never one reaching the last stable offset, never
    /// past what an archiving topic has not archived. The leader's check and the apply both
    /// decide with this, so they agree.
    pub fn retention_cut(
        &self,
        at: PartitionRef,
        log: &PartitionLog,
        now_ms: i64,
        retention_ms: i64,
        retention_bytes: i64,
    ) -> Option<i64> {
        let stable = self.last_stable_offset(at.topic_id, at.partition, log);
        let hold = self.archive_hold(at);
        log.retention_cut(now_ms, retention_ms, retention_bytes, stable)
            .map(|cut| hold.map_or(cut, |hold| cut.min(hold)))
            .filter(|cut| *cut > log.log_start_offset())
    }

    pub(super) fn delete_records(
        &mut self,
        now_ms: i64,
        deletions: &[RecordDeletion],
    ) -> Vec<Result<Truncation, LogError>> {
        self.clock_ms = self.clock_ms.max(now_ms);
        deletions
            .iter()
            .map(|d| {
                let at = PartitionRef {
                    topic_id: d.topic_id,
                    partition: d.partition,
                };
                let log = self
                    .partition_log(at)
                    .ok_or(LogError::UnknownTopicOrPartition)?;
                let high_watermark = log.high_watermark();
                let offset = match d.offset {
                    DELETE_TO_HIGH_WATERMARK => high_watermark,
                    offset if (0..=high_watermark).contains(&offset) => offset,
                    offset => {
                        return Err(LogError::OffsetOutOfRange {
                            offset,
                            high_watermark,
                        });
                    }
                };
                self.truncate(at, offset, now_ms)
            })
            .collect()
    }

    /// Moves one partition's log start to `offset` and releases the entries wholly below it.
    fn truncate(
        &mut self,
        at: PartitionRef,
        offset: i64,
        now_ms: i64,
    ) -> Result<Truncation, LogError> {
        let log = self
            .partition_log_mut(at)
            .ok_or(LogError::UnknownTopicOrPartition)?;
        let dropped = log.truncate_front(offset);
        let log_start = log.log_start_offset();
        let mut truncation = unchanged(log);
        self.txns.truncated(at.topic_id, at.partition, log_start);
        truncation.dropped_entries = u32::try_from(dropped.len()).unwrap_or(u32::MAX);
        truncation.dropped_bytes = dropped.iter().map(|e| u64::from(e.len)).sum();
        self.release_entries(&dropped, now_ms);
        Ok(truncation)
    }

    /// Index entries went away: their objects lose a reference each, and an object left with
    /// none becomes garbage as of `now_ms`. Returns how many objects became unreferenced.
    pub(super) fn release_entries(&mut self, entries: &[IndexEntry], now_ms: i64) -> u32 {
        let mut released = 0;
        for entry in entries {
            if let Some(object) = self.objects.get_mut(&entry.object_id) {
                object.live_entries = object.live_entries.saturating_sub(1);
                if object.live_entries == 0 {
                    self.lifecycle
                        .unreferenced
                        .entry(entry.object_id)
                        .or_insert(now_ms);
                    released += 1;
                }
            }
        }
        released
    }

    /// Registers a new object under the next id.
    pub(super) fn register_object(&mut self, meta: ObjectMeta, rewritten: bool) -> u64 {
        let id = self.next_object_id;
        self.next_object_id = self.next_object_id.saturating_add(1);
        self.lifecycle.stored_bytes = self.lifecycle.stored_bytes.saturating_add(meta.size);
        if meta.live_entries == 0 {
            self.lifecycle.unreferenced.insert(id, meta.created_ms);
        }
        if rewritten {
            self.lifecycle.rewritten.insert(id);
        }
        self.objects.insert(id, meta);
        id
    }

    /// Forgets objects the collector deleted; one that gained references meanwhile is kept.
    pub(super) fn forget_objects(&mut self, ids: &[u64]) {
        for id in ids {
            if self.objects.get(id).is_some_and(|o| o.live_entries == 0) {
                if let Some(object) = self.objects.remove(id) {
                    self.lifecycle.stored_bytes =
                        self.lifecycle.stored_bytes.saturating_sub(object.size);
                }
                self.lifecycle.unreferenced.remove(id);
                self.lifecycle.rewritten.remove(id);
            }
        }
    }

    /// Drops what the lifecycle keeps for a deleted topic.
    pub(super) fn forget_topic_lifecycle(&mut self, topic: TopicId) {
        let cleaned: Vec<PartitionRef> = self
            .lifecycle
            .cleaned_until
            .range(PartitionRef::all_of(topic))
            .map(|(k, _)| *k)
            .collect();
        for key in cleaned {
            self.lifecycle.cleaned_until.remove(&key);
        }
        self.lifecycle.jobs.forget_topic(topic);
    }

    /// The cluster-wide retention defaults topics without their own fall back on.
    pub fn log_defaults(&self) -> LogDefaults {
        self.lifecycle.defaults
    }

    /// Objects no index entry points into any more, with the command time they lost their last
    /// reference: what the collector deletes once the grace period has passed.
    pub fn unreferenced_objects(&self) -> impl Iterator<Item = (u64, &ObjectMeta, i64)> {
        self.lifecycle
            .unreferenced
            .iter()
            .filter_map(|(id, since)| self.objects.get(id).map(|o| (*id, o, *since)))
    }

    pub fn unreferenced_object_count(&self) -> usize {
        self.lifecycle.unreferenced.len()
    }

    /// Whether an object's batches carry their real offsets (written by a job) rather than
    /// offsets the index assigns (a flushed segment).
    pub fn object_has_real_offsets(&self, object_id: u64) -> bool {
        self.lifecycle.rewritten.contains(&object_id)
    }

    /// Bytes of every object the controller knows (referenced or waiting for collection).
    pub fn stored_bytes(&self) -> u64 {
        self.lifecycle.stored_bytes
    }

    pub fn object_count(&self) -> usize {
        self.objects.len()
    }

    /// Index entries of every partition, and the most any one partition has: what merges keep
    /// bounded, and most of what a snapshot holds.
    pub fn index_entry_counts(&self) -> IndexEntryCounts {
        let mut counts = IndexEntryCounts::default();
        for log in self.topics.values().flat_map(|t| &t.partitions) {
            let entries = log.entries().len();
            counts.total += entries;
            counts.most_in_one_partition = counts.most_in_one_partition.max(entries);
        }
        counts
    }

    /// The first offset compaction has not cleaned yet in a partition (0 if never cleaned).
    pub fn cleaned_until(&self, at: PartitionRef) -> i64 {
        self.lifecycle.cleaned_until.get(&at).copied().unwrap_or(0)
    }
}

fn unchanged(log: &PartitionLog) -> Truncation {
    Truncation {
        log_start_offset: log.log_start_offset(),
        dropped_entries: 0,
        dropped_bytes: 0,
    }
}
