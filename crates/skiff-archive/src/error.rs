use skiff_records::RecordsError;
use skiff_storage::StorageError;

/// Why an archive pass failed. Nothing is committed after any of these: the table and the
/// progress stay where they were, and the files written so far are garbage to collect.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("object store: {0}")]
    Store(#[from] StorageError),
    #[error("iceberg: {0}")]
    Iceberg(#[from] iceberg::Error),
    #[error("arrow: {0}")]
    Arrow(#[from] arrow_schema::ArrowError),
    #[error("stored records of {topic}-{partition} are unreadable: {source}")]
    Records {
        topic: String,
        partition: i32,
        source: RecordsError,
    },
    #[error(
        "records of {topic}-{partition} arrived out of order: offset {offset} after {previous}"
    )]
    OutOfOrder {
        topic: String,
        partition: i32,
        offset: i64,
        previous: i64,
    },
    #[error("table metadata at {location}: {reason}")]
    Metadata { location: String, reason: String },
}
