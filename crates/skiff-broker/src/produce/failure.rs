//! Why a flushed segment's producers did not get offsets. Every cause maps to a code clients
//! retry on (see `kafka_error::flush_failure_code`), so producers resend and nothing
//! acknowledged is lost.

use skiff_meta::ProposeError;
use skiff_storage::StorageError;

#[derive(Debug, thiserror::Error)]
pub enum FlushFailure {
    #[error("object store write failed: {0}")]
    Upload(#[source] StorageError),
    #[error("segment upload task failed: {0}")]
    UploadTask(#[source] tokio::task::JoinError),
    #[error("commit failed: {0}")]
    Commit(#[source] ProposeError),
    #[error("the broker stopped before this write was committed")]
    Abandoned,
}
