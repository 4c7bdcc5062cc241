use skiff_archive::ArchiveError;
use skiff_meta::{ArchiveCommitError, JobError, ProposeError};
use skiff_storage::StorageError;

/// Why a job did not commit.
#[derive(Debug, thiserror::Error)]
pub enum JobFailure {
    #[error("the job's source entries are no longer in the index as planned")]
    SourceChanged,
    #[error("the object {key} holding a source entry is unknown to the controller")]
    UnknownObject { key: String, object_id: u64 },
    #[error("could not read or write the job's data: {0}")]
    Storage(#[from] StorageError),
    #[error("stored batches of object {key} do not match their index entry: {reason}")]
    BadSource { key: String, reason: String },
    #[error("the controller did not take the job's commit: {0}")]
    Propose(#[from] ProposeError),
    #[error("the controller refused the job's commit: {0}")]
    Refused(#[from] JobError),
    #[error("the job's worker thread failed: {0}")]
    Worker(String),
    #[error("the job was cancelled")]
    Cancelled,
    #[error("archive pass failed: {0}")]
    Archive(#[from] ArchiveError),
    #[error("the controller refused the archive commit: {0}")]
    ArchiveRefused(ArchiveCommitError),
}
