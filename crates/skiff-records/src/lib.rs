//! Kafka RecordBatch v2 without copying: a read-only view of batch bytes, produce-side
//! validation, offset and LogAppendTime patching for the fetch path, a record walk (in place,
//! or decompressing as it goes within a byte limit) shared by validation and timestamp
//! lookups, a rewrite that keeps only some of a batch's records (key compaction), a copy of a
//! batch in another codec (a topic's `compression.type`), and the codecs (bounded
//! decompression, and compression in the framings the Java client writes) that clients plug
//! into kafka-protocol. No I/O, no async.
//!
//! Hot-path functions ([`batches`], [`assign_offsets`], [`set_base_offset`],
//! [`set_log_append_time`]) read fixed header fields only. [`validate_record_set`] also walks
//! every record ([`RecordWalk`]), without copying uncompressed records and without allocating
//! per record.

mod batch;
mod codec;
mod compress;
mod compression;
mod control;
mod cursor;
mod error;
mod iter;
mod patch;
mod recompress;
mod record;
mod records;
mod retain;
mod timestamp_lookup;
mod validate;
mod walk;

pub use batch::{
    BATCH_HEADER_LEN, BatchView, CURRENT_MAGIC, Compression, LOG_OVERHEAD, MIN_BATCH_LENGTH,
    NO_SEQUENCE, TimestampType,
};
pub use compress::{compress, compress_at};
pub use compression::{DEFAULT_MAX_DECOMPRESSED_BYTES, decompress};
pub use control::{CONTROL_BATCH_LEN, ControlMarker, control_batch};
pub use error::{
    FieldProblem, InvalidBatch, InvalidRecords, MAX_REPORTED_REJECTIONS, RecordError, RecordField,
    RecordRejection, RecordsError, RejectReason,
};
pub use iter::{BatchIter, batches};
pub use patch::{
    assign_offsets, assign_run_offsets, check_run_offsets, set_base_offset, set_log_append_time,
};
pub use recompress::{TargetCodec, needs_recompression, recompress_batch, recompress_record_set};
pub use record::{Header, HeaderIter, RecordRef};
pub use records::{DecodedRecords, RecordIter};
pub use retain::{Retained, retain_records};
pub use timestamp_lookup::{first_offset_delta_at_or_after, offset_delta_of_max_timestamp};
pub use validate::{BatchSummary, ProduceRules, validate_record_set};
pub use walk::RecordWalk;
