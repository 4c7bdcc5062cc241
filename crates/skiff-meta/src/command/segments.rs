//! Committing a flushed segment object: offsets are assigned here, producer sequences checked,
//! and index entries appended.

use serde::{Deserialize, Serialize};

use crate::ids::TopicId;
use crate::index_entry::IndexEntry;

/// One flushed segment object: many partitions' chunks in one object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentCommit {
    pub object_key: String,
    pub object_size: u64,
    pub broker_id: i32,
    /// The command's notion of "now": the only clock the state machine ever sees.
    pub append_time_ms: i64,
    pub chunks: Vec<ChunkCommit>,
}

/// One partition's bytes inside a segment object. The batches lie back to back starting at
/// `position`: batch i starts at `position + sum(len of batches 0..i)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkCommit {
    pub topic_id: TopicId,
    pub partition: u32,
    pub position: u64,
    pub batches: Vec<BatchCommit>,
}

/// The header fields of one record batch that offset assignment and idempotence need.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchCommit {
    /// Bytes of the batch in the object.
    pub len: u32,
    /// Offsets the batch occupies (last offset delta + 1).
    pub offset_count: u32,
    pub record_count: u32,
    pub max_timestamp: i64,
    /// Below zero: not an idempotent producer, no sequence checks.
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
}

/// The `object_id` of a refused commit: ids are handed out counting up from 0, so no object
/// ever gets this one.
pub const COLLECTED_OBJECT_ID: u64 = u64::MAX;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentCommitResult {
    /// The id the object was registered under (a counter, never reused), or
    /// [`COLLECTED_OBJECT_ID`] when the commit was refused because the object was collected.
    pub object_id: u64,
    /// One per `ChunkCommit`, same order.
    pub chunks: Vec<ChunkOutcome>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChunkOutcome {
    /// `batches` has one outcome per `BatchCommit`, same order; `entries` are the index entries
    /// this chunk added (one per run of consecutive appended batches).
    Committed {
        batches: Vec<BatchOutcome>,
        entries: Vec<IndexEntry>,
    },
    /// The topic was deleted or the partition does not exist: nothing was appended.
    UnknownTopicOrPartition,
    /// The object was collected as an orphan before this commit applied (its broker took
    /// longer than the collector's grace period between upload and commit): nothing of the
    /// whole commit was appended, and the producer should retry.
    ObjectCollected,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum BatchOutcome {
    Appended {
        base_offset: i64,
    },
    /// Already appended earlier; the producer gets the original base offset back.
    Duplicate {
        base_offset: i64,
    },
    Rejected(ProduceError),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum ProduceError {
    #[error("out-of-order sequence number: expected {expected}, got {got}")]
    OutOfOrderSequence { expected: i32, got: i32 },
    #[error("producer epoch {got} is older than the current epoch {current}")]
    InvalidProducerEpoch { current: i16, got: i16 },
    /// The batch's header fields or byte range cannot be right (the broker validates batches,
    /// so this means a broker bug or a corrupt commit, never a client mistake).
    #[error("invalid batch: {0}")]
    InvalidBatch(BatchProblem),
    /// A transactional producer's batch for a partition not added to its open transaction
    /// (or with no transaction open).
    #[error("the producer's transaction does not include this partition")]
    InvalidTxnState,
}

/// What is wrong with a committed batch's header fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum BatchProblem {
    #[error("batch has zero length")]
    ZeroLength,
    #[error("batch covers no offsets")]
    NoOffsets,
    #[error("batch bytes {start}..{end} lie beyond the object's {object_size} bytes")]
    BeyondObject {
        start: u64,
        end: u64,
        object_size: u64,
    },
    #[error("idempotent batch with a negative sequence or epoch")]
    NegativeSequenceOrEpoch,
    #[error("partition offset space exhausted")]
    OffsetsExhausted,
    #[error("batch byte range overflows")]
    RangeOverflow,
}
