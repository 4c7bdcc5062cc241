//! Stored batches of a topic, read from the object store by the controller's index: each
//! index entry's byte range of its segment object, given its real offsets as the fetch path
//! does. An archive pass reads here rather than through the Kafka protocol so it needs no
//! broker (a job runs on one anyway), costs one ranged GET per entry, and sees exactly what the
//! index says is stored.

use bytes::BytesMut;
use futures::StreamExt;
use skiff_meta::state::ArchiveProgress;
use skiff_meta::{CommitArchive, ControllerState, IndexEntry, Topic};
use skiff_storage::{ObjectPath, SegmentStore, StorageError};

use crate::error::ArchiveError;
use crate::pass::{ArchiveCommit, ArchivePass, PassConfig};
use crate::rows::ReadBounds;

/// Stored entries a pass reads ahead of the one it converts.
const READS_IN_FLIGHT: usize = 4;

/// One entry to read, copied out of the state so no lock is held while reading.
#[derive(Debug, Clone)]
struct PlannedRead {
    entry: IndexEntry,
    object_key: String,
    real_offsets: bool,
}

/// What to archive of one topic, planned from one state snapshot.
#[derive(Debug, Clone)]
pub struct TopicPlan {
    pub topic: Topic,
    pub progress: Option<ArchiveProgress>,
    partitions: Vec<PartitionPlan>,
}

/// One partition's reads: from its next unarchived offset, the entries before its last stable
/// offset, and which of their records are committed.
#[derive(Debug, Clone)]
struct PartitionPlan {
    partition: i32,
    from: i64,
    reads: Vec<PlannedRead>,
    bounds: ReadBounds,
}

impl TopicPlan {
    /// Plans `topic` from `state`: for each partition, the entries from one past its last
    /// archived offset. `None` when the topic does not exist.
    pub fn from_state(state: &ControllerState, topic: &str) -> Option<Self> {
        Self::from_state_within(state, topic, u64::MAX)
    }

    /// Like [`TopicPlan::from_state`], reading at most about `max_bytes` of stored batches
    /// (each partition an equal share, and at least one entry), so one pass over a large
    /// backlog stays bounded and the rest waits for the next pass.
    ///
    /// Only what a READ_COMMITTED consumer reads is archived: entries before the last stable
    /// offset (an open transaction's data waits for a later pass), without the batches of
    /// aborted transactions; markers (entries without an object) are never read.
    pub fn from_state_within(state: &ControllerState, topic: &str, max_bytes: u64) -> Option<Self> {
        let topic = state.topic_by_name(topic)?.clone();
        let progress = state.archive_progress(&topic.id).cloned();
        let mut partitions = (0u32..)
            .zip(&topic.partitions)
            .map(|(partition, log)| {
                let from = progress.as_ref().map_or(0, |p| p.next_offset(partition));
                let stable_offset = state.last_stable_offset(topic.id, partition, log);
                let reads = log
                    .entries_from(from)
                    .take_while(|entry| entry.base_offset < stable_offset)
                    .filter_map(|entry| {
                        Some(PlannedRead {
                            entry: *entry,
                            object_key: state.object_key(entry.object_id)?.to_string(),
                            real_offsets: state.object_has_real_offsets(entry.object_id),
                        })
                    })
                    .collect();
                let aborted = state
                    .txns()
                    .aborted_overlapping(topic.id, partition, from, stable_offset)
                    .copied()
                    .collect();
                PartitionPlan {
                    partition: partition as i32,
                    from,
                    reads,
                    bounds: ReadBounds {
                        stable_offset,
                        aborted,
                    },
                }
            })
            .collect::<Vec<PartitionPlan>>();
        let busy = partitions.iter().filter(|p| !p.reads.is_empty()).count();
        let share = max_bytes / (busy.max(1) as u64);
        for PartitionPlan { reads, .. } in &mut partitions {
            let mut taken = 0u64;
            let keep = reads
                .iter()
                .take_while(|read| {
                    let fits =
                        taken == 0 || taken.saturating_add(u64::from(read.entry.len)) <= share;
                    taken = taken.saturating_add(u64::from(read.entry.len));
                    fits
                })
                .count();
            reads.truncate(keep);
        }
        Some(Self {
            topic,
            progress,
            partitions,
        })
    }

    /// Index entries to read.
    pub fn entries(&self) -> usize {
        self.partitions.iter().map(|p| p.reads.len()).sum()
    }

    /// Bytes of stored batches to read.
    pub fn bytes(&self) -> u64 {
        self.partitions
            .iter()
            .flat_map(|p| &p.reads)
            .map(|read| u64::from(read.entry.len))
            .sum()
    }

    /// Runs one archive pass over the plan, calling `progress` with the bytes read after each
    /// entry. Returns what to commit, `None` when nothing was new.
    pub async fn archive(
        &self,
        store: &SegmentStore,
        config: &PassConfig,
        mut progress: impl FnMut(u64),
    ) -> Result<Option<ArchiveCommit>, ArchiveError> {
        let current = self.progress.as_ref().map(|p| p.metadata_location.as_str());
        let config = PassConfig {
            retention: self.topic.config.archive_retention(),
            ..config.clone()
        };
        let mut pass = ArchivePass::begin(store, &self.topic.name, current, &config).await?;
        for PartitionPlan {
            partition,
            from,
            reads,
            bounds,
        } in &self.partitions
        {
            pass.start_partition_within(*partition, *from, bounds.clone())
                .await?;
            // A few GETs in flight, appended in order: at most READS_IN_FLIGHT entries held.
            // Each read owns what it needs, so the pass's future is Send for any borrow.
            let mut runs = futures::stream::iter(reads.iter().cloned().map(|read| {
                let store = store.clone();
                async move {
                    let bytes = read_entry(&store, &read).await?;
                    Ok::<_, ArchiveError>((bytes, read.entry.len))
                }
            }))
            .buffered(READS_IN_FLIGHT);
            while let Some(run) = runs.next().await {
                let (bytes, len) = run?;
                pass.append(&bytes).await?;
                progress(u64::from(len));
            }
        }
        pass.commit().await
    }

    /// The proposal that commits `commit` if the progress this plan started from is still
    /// current.
    pub fn commit_command(&self, commit: &ArchiveCommit) -> CommitArchive {
        CommitArchive {
            topic_id: self.topic.id,
            expected_metadata: self.progress.as_ref().map(|p| p.metadata_location.clone()),
            metadata_location: commit.metadata_location.clone(),
            last_offsets: commit
                .last_offsets
                .iter()
                .map(|(partition, offset)| (*partition as u32, *offset))
                .collect(),
            rows: commit.rows,
            data_bytes: commit.data_bytes,
            data_files: u32::try_from(commit.data_files).unwrap_or(u32::MAX),
        }
    }
}

async fn read_entry(store: &SegmentStore, read: &PlannedRead) -> Result<BytesMut, ArchiveError> {
    let path = ObjectPath::parse(&read.object_key).map_err(|err| StorageError::Other {
        operation: "read",
        path: read.object_key.clone(),
        reason: err.to_string(),
    })?;
    let start = read.entry.position;
    let bytes = store
        .get_range(&path, start..start + u64::from(read.entry.len))
        .await?;
    let mut run = BytesMut::from(bytes);
    let checked = if read.real_offsets {
        skiff_records::check_run_offsets(&run, read.entry.base_offset, read.entry.last_offset)
    } else {
        skiff_records::assign_run_offsets(&mut run, read.entry.base_offset, read.entry.last_offset)
    };
    checked.map_err(|err| StorageError::Other {
        operation: "read",
        path: read.object_key.clone(),
        reason: format!("stored batches do not match the index: {err}"),
    })?;
    Ok(run)
}
