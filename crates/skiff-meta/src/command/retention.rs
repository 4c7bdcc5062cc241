//! Retention and DeleteRecords: moving a partition's log start offset forward and dropping the
//! index entries below it, plus the cluster-wide retention defaults topics fall back on.

use serde::{Deserialize, Serialize};

use crate::ids::TopicId;

pub use crate::broker_config::{DEFAULT_LOG_RETENTION_MS, LogDefaults};

/// Replaces the cluster-wide retention defaults. Proposed by the controller leader when its
/// settings differ from the replicated ones, so every broker describes the same defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetLogDefaults(pub LogDefaults);

/// One partition, by topic id and index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PartitionRef {
    pub topic_id: TopicId,
    pub partition: u32,
}

impl PartitionRef {
    /// Every partition of one topic, for range operations on maps keyed by partition.
    pub fn all_of(topic: TopicId) -> std::ops::RangeInclusive<PartitionRef> {
        PartitionRef {
            topic_id: topic,
            partition: 0,
        }..=PartitionRef {
            topic_id: topic,
            partition: u32::MAX,
        }
    }
}

/// Proposed by the leader's retention check: each named partition drops the whole index
/// entries its `retention.ms` (at `now_ms`) and `retention.bytes` no longer keep. Applying it
/// decides again from the state at that point, so a config change or a write that raced the
/// check is respected. Answers one result per partition, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnforceRetention {
    /// The leader's clock when it proposed: the state machine's only notion of "now".
    pub now_ms: i64,
    pub partitions: Vec<PartitionRef>,
}

/// Kafka's DeleteRecords: moves each partition's log start offset to `offset` (-1: the high
/// watermark). Entries wholly below the new start are dropped; one that straddles it stays, so
/// the start may lie inside an entry. Answers one result per partition, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteRecords {
    pub now_ms: i64,
    pub partitions: Vec<RecordDeletion>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordDeletion {
    pub topic_id: TopicId,
    pub partition: u32,
    /// The new log start offset; [`DELETE_TO_HIGH_WATERMARK`] for the high watermark.
    pub offset: i64,
}

/// DeleteRecords' "everything up to the high watermark".
pub const DELETE_TO_HIGH_WATERMARK: i64 = -1;

/// What moving a log start offset did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Truncation {
    /// The log start offset afterwards (Kafka's low watermark).
    pub log_start_offset: i64,
    pub dropped_entries: u32,
    pub dropped_bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum LogError {
    #[error("unknown topic or partition")]
    UnknownTopicOrPartition,
    #[error("offset {offset} is beyond the high watermark {high_watermark}")]
    OffsetOutOfRange { offset: i64, high_watermark: i64 },
}

/// Proposed by the collector before it deletes objects it found in the store but not in the
/// state (orphans: uploaded, never committed). Applying it decides, in log order, which keys
/// really are unknown, and marks those as collected, so a commit of one of them that arrives
/// later (a broker paused between its PUT and its commit) is refused rather than leaving an
/// index entry that points at a deleted object. Answers one flag per key, in order: `true`
/// when the key was unknown and may now be deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CondemnOrphans {
    /// The leader's clock when it proposed; marks older than
    /// [`CONDEMNED_KEYS_KEPT_MS`] before it are dropped in the same apply.
    pub now_ms: i64,
    pub keys: Vec<String>,
}

/// How long the state remembers a collected orphan's key (7 days of the leader's clock). A
/// segment commit stamped (by its broker, after the upload) before the oldest remembered mark
/// is refused whatever its key, so a key forgotten from the set can never be committed either.
pub const CONDEMNED_KEYS_KEPT_MS: i64 = 7 * 24 * 60 * 60 * 1000;
