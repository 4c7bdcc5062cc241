//! The archive's progress: per topic the Iceberg table's current metadata file, per partition
//! the last offset archived. An archive pass writes Parquet and a new metadata version first,
//! then commits both here in one proposal that applies only if the progress it started from
//! is still current, so each offset lands in the table exactly once.

use serde::{Deserialize, Serialize};

use crate::ids::TopicId;

/// Moves a topic's archive from `expected_metadata` (`None`: no table yet) to
/// `metadata_location`, with each listed partition archived up to its offset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitArchive {
    pub topic_id: TopicId,
    pub expected_metadata: Option<String>,
    pub metadata_location: String,
    /// (partition, last archived offset), each partition once.
    pub last_offsets: Vec<(u32, i64)>,
    /// Rows and data bytes the commit added, for status.
    pub rows: u64,
    pub data_bytes: u64,
    pub data_files: u32,
}

/// Why an archive commit was refused. Nothing changed; the pass's files are garbage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum ArchiveCommitError {
    #[error("unknown topic")]
    UnknownTopic,
    /// Another pass committed since this one started (or this one is a retry of a commit
    /// that already applied).
    #[error("the archive moved to {current:?} since the pass started at {expected:?}")]
    Moved {
        expected: Option<String>,
        current: Option<String>,
    },
    #[error("partition {partition} does not exist")]
    UnknownPartition { partition: u32 },
    #[error("partition {partition} listed twice")]
    DuplicatePartition { partition: u32 },
    #[error(
        "partition {partition}: offset {offset} is not after the archived {archived} and before the high watermark {high_watermark}"
    )]
    BadOffset {
        partition: u32,
        offset: i64,
        archived: i64,
        high_watermark: i64,
    },
}
