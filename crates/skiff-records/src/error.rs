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

    #[error("record {record_index} is malformed: {reason}")]
    MalformedRecord {
        record_index: u32,
        reason: &'static str,
    },

    #[error("batch declares {declared} records but its data ends after {found}")]
    MissingRecords { declared: u32, found: u32 },

    #[error("{trailing} bytes follow the last of the batch's {declared} declared records")]
    TrailingRecordBytes { declared: u32, trailing: usize },

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
}

/// Kafka error codes for the produce response.
const CORRUPT_MESSAGE: i16 = 2;
const MESSAGE_TOO_LARGE: i16 = 10;
const INVALID_RECORD: i16 = 87;

impl InvalidRecords {
    pub fn kafka_error_code(&self) -> i16 {
        match self {
            InvalidRecords::Corrupt { .. } => CORRUPT_MESSAGE,
            InvalidRecords::TooLarge { .. } => MESSAGE_TOO_LARGE,
            InvalidRecords::InvalidRecord { .. } => INVALID_RECORD,
        }
    }

    /// Index (0-based) of the offending batch within the record set.
    pub fn batch_index(&self) -> usize {
        match self {
            InvalidRecords::Corrupt { batch_index, .. }
            | InvalidRecords::TooLarge { batch_index, .. }
            | InvalidRecords::InvalidRecord { batch_index, .. } => *batch_index,
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
}
