use std::fmt;

use crate::codec::Compression;

/// Everything that can be wrong with RecordBatch bytes, or with asking for something a batch
/// cannot give.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordsError {
    #[error("the record set is empty")]
    EmptyRecordSet,

    /// The bytes end inside a batch. Fetch responses may legitimately end this way (Kafka lets
    /// a partial trailing batch fill `max_bytes`), so callers can tell it apart with
    /// [`RecordsError::is_partial_batch`].
    #[error("the bytes end inside a batch: it needs {needed} bytes but only {available} remain")]
    PartialBatch { needed: u64, available: usize },

    #[error("batch length field is {batch_length}, below the minimum of 49 for a v2 batch")]
    BatchLengthTooSmall { batch_length: i32 },

    #[error("batch length field says the batch is {declared} bytes but {actual} bytes were given")]
    LengthMismatch { declared: u64, actual: usize },

    #[error("record batch magic is {magic}; only magic 2 (RecordBatch v2) is supported")]
    UnsupportedMagic { magic: i8 },

    #[error(
        "CRC-32C mismatch: the batch stores {stored:#010x} but its contents hash to {computed:#010x}"
    )]
    CrcMismatch { stored: u32, computed: u32 },

    #[error("unknown compression codec {codec} in the batch attributes")]
    UnknownCompression { codec: u8 },

    #[error("batch declares a negative record count ({record_count})")]
    NegativeRecordCount { record_count: i32 },

    #[error("{codec} records decompress to more than the {limit}-byte limit")]
    DecompressedTooLarge { codec: Compression, limit: usize },

    #[error("records cannot be compressed with {codec}: {detail}")]
    Compression { codec: Compression, detail: String },

    #[error("{codec} records cannot be decompressed: {detail}")]
    Decompression { codec: Compression, detail: String },

    /// A record inside the batch is malformed, or the records do not match the header.
    #[error(transparent)]
    Record(#[from] RecordError),

    #[error("assigning offsets from {first_offset} overflows the 64-bit offset range")]
    OffsetOverflow { first_offset: i64 },

    #[error("the stored batches end at offset {actual}, the index says {expected}")]
    RunEndsElsewhere { actual: i64, expected: i64 },
}

impl RecordsError {
    /// True when the bytes simply stop inside a batch (as a fetch response may), rather than
    /// containing something malformed.
    pub fn is_partial_batch(&self) -> bool {
        matches!(self, RecordsError::PartialBatch { .. })
    }
}

/// Why a produce record set is refused. Maps onto the Kafka error code the partition gets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidRecords {
    #[error("batch {batch_index} is corrupt: {cause}")]
    Corrupt {
        batch_index: usize,
        cause: RecordsError,
    },

    #[error("batch {batch_index} is {size} bytes, over the {max}-byte limit")]
    TooLarge {
        batch_index: usize,
        size: usize,
        max: usize,
    },

    #[error("batch {batch_index} is invalid: {reason}")]
    InvalidRecord {
        batch_index: usize,
        reason: InvalidBatch,
    },

    /// The records inside the batch cannot be read (encoding, decompression, count).
    #[error("batch {batch_index}: {cause}")]
    UnreadableRecords {
        batch_index: usize,
        /// Records in the batches before this one, so record indices can be given for the
        /// whole record set, as KIP-467 reports them.
        records_before: u32,
        cause: RecordError,
    },

    /// Readable records that break the topic's rules; up to [`MAX_REPORTED_REJECTIONS`] of
    /// them are kept, `total` counts all.
    #[error(
        "batch {batch_index}: {total} record(s) refused, the first: {}",
        rejected.first().map(ToString::to_string).unwrap_or_default()
    )]
    RejectedRecords {
        batch_index: usize,
        records_before: u32,
        rejected: Vec<RecordRejection>,
        total: u32,
    },
}

/// Refused records listed one by one in a produce response; the rest are only counted, so a
/// batch of a million keyless records cannot make a response of a million entries.
pub const MAX_REPORTED_REJECTIONS: usize = 100;

/// Kafka error codes for the produce response.
const CORRUPT_MESSAGE: i16 = 2;
const MESSAGE_TOO_LARGE: i16 = 10;
const INVALID_TIMESTAMP: i16 = 32;
const INVALID_RECORD: i16 = 87;

impl InvalidRecords {
    pub fn kafka_error_code(&self) -> i16 {
        match self {
            InvalidRecords::Corrupt { .. } => CORRUPT_MESSAGE,
            InvalidRecords::TooLarge { .. } => MESSAGE_TOO_LARGE,
            InvalidRecords::InvalidRecord {
                reason: InvalidBatch::LogAppendTimeFromClient,
                ..
            } => INVALID_TIMESTAMP,
            InvalidRecords::InvalidRecord { .. } => INVALID_RECORD,
            InvalidRecords::UnreadableRecords { cause, .. } => match cause {
                // Like an oversized batch: the Java producer splits the batch and retries.
                RecordError::DecompressedTooLarge { .. } => MESSAGE_TOO_LARGE,
                // Kafka's "premature EOF" / "records still remaining" cases.
                RecordError::MissingRecords { .. } | RecordError::TrailingBytes { .. } => {
                    INVALID_RECORD
                }
                RecordError::Malformed { .. }
                | RecordError::LengthMismatch { .. }
                | RecordError::Decompression { .. } => CORRUPT_MESSAGE,
            },
            // Kafka answers INVALID_TIMESTAMP if any refused record has a bad timestamp.
            InvalidRecords::RejectedRecords { rejected, .. } => {
                if rejected.iter().any(|r| r.reason.is_timestamp()) {
                    INVALID_TIMESTAMP
                } else {
                    INVALID_RECORD
                }
            }
        }
    }

    /// Index (0-based) of the offending batch within the record set.
    pub fn batch_index(&self) -> usize {
        match self {
            InvalidRecords::Corrupt { batch_index, .. }
            | InvalidRecords::TooLarge { batch_index, .. }
            | InvalidRecords::InvalidRecord { batch_index, .. }
            | InvalidRecords::UnreadableRecords { batch_index, .. }
            | InvalidRecords::RejectedRecords { batch_index, .. } => *batch_index,
        }
    }

    /// KIP-467's per-record errors: (index of the record in the record set, message).
    pub fn record_errors(&self) -> Vec<(u32, String)> {
        match self {
            InvalidRecords::UnreadableRecords {
                records_before,
                cause,
                ..
            } => cause
                .record_index()
                .map(|index| (records_before.saturating_add(index), cause.to_string()))
                .into_iter()
                .collect(),
            InvalidRecords::RejectedRecords {
                records_before,
                rejected,
                ..
            } => rejected
                .iter()
                .map(|r| (records_before.saturating_add(r.index), r.to_string()))
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// Well-formed batches that Kafka nevertheless refuses from a client (`INVALID_RECORD`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InvalidBatch {
    #[error("record count is {record_count}; a batch must hold at least one record")]
    NoRecords { record_count: i32 },

    #[error(
        "last offset delta {last_offset_delta} does not match record count {record_count} (expected {})",
        i64::from(*record_count) - 1
    )]
    OffsetRangeMismatch {
        last_offset_delta: i32,
        record_count: i32,
    },

    #[error("clients may not write control batches")]
    ControlBatch,

    #[error("producer id {producer_id} is set but base sequence is {base_sequence}")]
    MissingSequence {
        producer_id: i64,
        base_sequence: i32,
    },

    #[error("producers may not set the LogAppendTime timestamp type; the broker sets it")]
    LogAppendTimeFromClient,
}

/// A field of the record encoding, to say where a record is broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordField {
    Length,
    Attributes,
    TimestampDelta,
    OffsetDelta,
    KeyLength,
    Key,
    ValueLength,
    Value,
    HeaderCount,
    HeaderKeyLength,
    HeaderKey,
    HeaderValueLength,
    HeaderValue,
}

impl fmt::Display for RecordField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RecordField::Length => "length",
            RecordField::Attributes => "attributes",
            RecordField::TimestampDelta => "timestamp delta",
            RecordField::OffsetDelta => "offset delta",
            RecordField::KeyLength => "key length",
            RecordField::Key => "key",
            RecordField::ValueLength => "value length",
            RecordField::Value => "value",
            RecordField::HeaderCount => "header count",
            RecordField::HeaderKeyLength => "header key length",
            RecordField::HeaderKey => "header key",
            RecordField::HeaderValueLength => "header value length",
            RecordField::HeaderValue => "header value",
        })
    }
}

/// What is wrong with one field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FieldProblem {
    #[error("is cut off by the end of the data")]
    Truncated,
    #[error("is a varint longer than its type allows")]
    Overlong,
    #[error("is negative ({0})")]
    Negative(i64),
    #[error("of {len} bytes runs past the end of the data ({available} bytes left)")]
    PastEnd { len: usize, available: usize },
    /// Header keys are strings; consumers that decode them (kafka-python) fail otherwise.
    #[error("is not valid UTF-8")]
    NotUtf8,
}

/// Why the records inside a batch cannot be read: the walk over them stops here. Record
/// indices count from 0 within the batch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("record {index}: {field} {problem}")]
    Malformed {
        index: u32,
        field: RecordField,
        problem: FieldProblem,
    },

    #[error("record {index}: its length says {declared} bytes but its fields end after {used}")]
    LengthMismatch {
        index: u32,
        declared: usize,
        used: usize,
    },

    #[error("the batch declares {declared} records but its data ends after {found}")]
    MissingRecords { declared: u32, found: u32 },

    #[error("{trailing} bytes follow the last of the batch's {declared} declared records")]
    TrailingBytes { declared: u32, trailing: usize },

    #[error("{codec} records cannot be decompressed: {detail}")]
    Decompression { codec: Compression, detail: String },

    #[error("{codec} records decompress to more than the {limit}-byte limit")]
    DecompressedTooLarge { codec: Compression, limit: usize },
}

impl RecordError {
    /// The record the walk stopped at, when the problem lies in one record.
    pub fn record_index(&self) -> Option<u32> {
        match self {
            RecordError::Malformed { index, .. } | RecordError::LengthMismatch { index, .. } => {
                Some(*index)
            }
            RecordError::MissingRecords { found, .. } => Some(*found),
            RecordError::TrailingBytes { .. }
            | RecordError::Decompression { .. }
            | RecordError::DecompressedTooLarge { .. } => None,
        }
    }
}

/// A well-formed record that the topic's rules refuse. Unlike [`RecordError`] the walk goes
/// on, so every such record of a batch can be reported (KIP-467).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("record {index} {reason}")]
pub struct RecordRejection {
    /// Index within its batch.
    pub index: u32,
    pub reason: RejectReason,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RejectReason {
    #[error("has offset delta {found}; records must count up from 0 by one")]
    OffsetDelta { found: i32 },

    #[error("has timestamp delta {delta}, which overflows the base timestamp {base}")]
    TimestampOverflow { base: i64, delta: i64 },

    #[error("has timestamp {timestamp}, outside the accepted range [{earliest}, {latest}]")]
    TimestampOutOfRange {
        timestamp: i64,
        earliest: i64,
        latest: i64,
    },

    #[error("has no key; a compacted topic needs one on every record")]
    KeyRequired,
}

impl RejectReason {
    fn is_timestamp(&self) -> bool {
        matches!(self, RejectReason::TimestampOutOfRange { .. })
    }
}
