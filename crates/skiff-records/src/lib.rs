//! Kafka RecordBatch v2 without copying: a read-only view of batch bytes, produce-side
//! validation, offset and LogAppendTime patching for the fetch path, and a cold-path record
//! decoder for ListOffsets by timestamp, and the codecs (bounded decompression, and compression
//! in the framings the Java client writes) that clients plug into kafka-protocol. No I/O, no async.
//!
//! Hot-path functions ([`batches`], [`validate_record_set`], [`assign_offsets`],
//! [`set_base_offset`], [`set_log_append_time`]) read fixed header fields only: they never
//! decode, decompress or allocate per record.

mod batch;
mod codec;
mod compress;
mod compression;
mod cursor;
mod error;
mod iter;
mod patch;
mod records;
mod timestamp_lookup;
mod validate;

pub use batch::{
    BATCH_HEADER_LEN, BatchView, CURRENT_MAGIC, Compression, LOG_OVERHEAD, MIN_BATCH_LENGTH,
    NO_SEQUENCE, TimestampType,
};
pub use compress::compress;
pub use compression::{DEFAULT_MAX_DECOMPRESSED_BYTES, decompress};
pub use error::{InvalidBatch, InvalidRecords, RecordsError};
pub use iter::{BatchIter, batches};
pub use patch::{
    assign_offsets, assign_run_offsets, check_run_offsets, set_base_offset, set_log_append_time,
};
pub use records::{DecodedRecords, Header, HeaderIter, RecordIter, RecordRef};
pub use timestamp_lookup::{first_offset_delta_at_or_after, offset_delta_of_max_timestamp};
pub use validate::{BatchSummary, validate_record_set};
