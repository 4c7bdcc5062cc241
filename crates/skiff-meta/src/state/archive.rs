//! Archive progress per topic (see `command/archive.rs`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::ControllerState;
use crate::command::{ArchiveCommitError, CommitArchive, PartitionRef};
use crate::ids::TopicId;

/// Where a topic's archive stands.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchiveProgress {
    /// The Iceberg table's current metadata file.
    pub metadata_location: String,
    /// Last archived offset by partition; a partition never archived is absent.
    pub last_offsets: BTreeMap<u32, i64>,
    pub commits: u64,
    pub rows: u64,
    pub data_bytes: u64,
    pub data_files: u64,
    /// State clock at the last commit.
    pub last_commit_ms: i64,
}

impl ArchiveProgress {
    /// The first offset of `partition` not archived yet.
    pub fn next_offset(&self, partition: u32) -> i64 {
        self.last_offsets.get(&partition).map_or(0, |o| o + 1)
    }
}

impl ControllerState {
    pub(super) fn commit_archive(
        &mut self,
        commit: &CommitArchive,
    ) -> Result<(), ArchiveCommitError> {
        let topic = self
            .topics
            .get(&commit.topic_id)
            .ok_or(ArchiveCommitError::UnknownTopic)?;
        let current = self.archives.get(&commit.topic_id);
        let current_location = current.map(|p| p.metadata_location.clone());
        if current_location != commit.expected_metadata {
            return Err(ArchiveCommitError::Moved {
                expected: commit.expected_metadata.clone(),
                current: current_location,
            });
        }
        let mut seen = std::collections::BTreeSet::new();
        for &(partition, offset) in &commit.last_offsets {
            if !seen.insert(partition) {
                return Err(ArchiveCommitError::DuplicatePartition { partition });
            }
            let log = usize::try_from(partition)
                .ok()
                .and_then(|p| topic.partitions.get(p))
                .ok_or(ArchiveCommitError::UnknownPartition { partition })?;
            let archived = current.map_or(-1, |p| p.next_offset(partition) - 1);
            if offset <= archived || offset >= log.high_watermark() {
                return Err(ArchiveCommitError::BadOffset {
                    partition,
                    offset,
                    archived,
                    high_watermark: log.high_watermark(),
                });
            }
        }
        let now = self.clock_ms;
        let progress = self.archives.entry(commit.topic_id).or_default();
        progress.metadata_location = commit.metadata_location.clone();
        progress
            .last_offsets
            .extend(commit.last_offsets.iter().copied());
        progress.commits += 1;
        progress.rows += commit.rows;
        progress.data_bytes += commit.data_bytes;
        progress.data_files += u64::from(commit.data_files);
        progress.last_commit_ms = now;
        Ok(())
    }

    /// While a topic archives (`skiff.archive.enable`), the first offset of the partition
    /// not archived yet: retention never moves the log start past it and compaction never
    /// touches records from it on, so the archive stays complete. `None` when the topic does
    /// not archive (or does not exist).
    pub fn archive_hold(&self, at: PartitionRef) -> Option<i64> {
        let topic = self.topics.get(&at.topic_id)?;
        if !topic.config.archive_enabled() {
            return None;
        }
        Some(
            self.archives
                .get(&at.topic_id)
                .map_or(0, |p| p.next_offset(at.partition)),
        )
    }

    /// A topic's archive progress, `None` before its first commit.
    pub fn archive_progress(&self, topic_id: &TopicId) -> Option<&ArchiveProgress> {
        self.archives.get(topic_id)
    }

    pub(super) fn forget_topic_archive(&mut self, topic_id: TopicId) {
        self.archives.remove(&topic_id);
    }
}
