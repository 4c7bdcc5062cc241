use std::fmt;

pub use crate::codec::Compression;
use crate::error::RecordsError;

/// Bytes before the part of a batch that `batchLength` counts: base offset (8) + batch length (4).
pub const LOG_OVERHEAD: usize = 12;
/// Fixed v2 batch header, up to the first record.
pub const BATCH_HEADER_LEN: usize = 61;
/// Smallest legal `batchLength`: a header with no records.
pub const MIN_BATCH_LENGTH: i32 = (BATCH_HEADER_LEN - LOG_OVERHEAD) as i32;
/// RecordBatch v2.
pub const CURRENT_MAGIC: i8 = 2;

pub(crate) const BASE_OFFSET_AT: usize = 0;
pub(crate) const BATCH_LENGTH_AT: usize = 8;
pub(crate) const PARTITION_LEADER_EPOCH_AT: usize = 12;
pub(crate) const MAGIC_AT: usize = 16;
pub(crate) const CRC_AT: usize = 17;
/// The CRC covers everything from the attributes to the end of the batch.
pub(crate) const CRC_COVERED_FROM: usize = 21;
pub(crate) const ATTRIBUTES_AT: usize = 21;
pub(crate) const LAST_OFFSET_DELTA_AT: usize = 23;
pub(crate) const BASE_TIMESTAMP_AT: usize = 27;
pub(crate) const MAX_TIMESTAMP_AT: usize = 35;
pub(crate) const PRODUCER_ID_AT: usize = 43;
pub(crate) const PRODUCER_EPOCH_AT: usize = 51;
pub(crate) const BASE_SEQUENCE_AT: usize = 53;
pub(crate) const RECORD_COUNT_AT: usize = 57;

pub(crate) const COMPRESSION_MASK: i16 = 0x07;
pub(crate) const TIMESTAMP_TYPE_BIT: i16 = 1 << 3;
pub(crate) const TRANSACTIONAL_BIT: i16 = 1 << 4;
pub(crate) const CONTROL_BIT: i16 = 1 << 5;
pub(crate) const DELETE_HORIZON_BIT: i16 = 1 << 6;

/// Writes a fixed-size big-endian header field in place; a batch too short for it is left as
/// it is (callers write only into headers they have just copied whole).
pub(crate) fn put<const N: usize>(batch: &mut [u8], at: usize, value: [u8; N]) {
    if let Some(field) = batch
        .get_mut(at..)
        .and_then(|rest| rest.first_chunk_mut::<N>())
    {
        *field = value;
    }
}

/// Writes the length field of a batch just written into `batch` (the whole slice is the batch).
pub(crate) fn put_batch_length(batch: &mut [u8]) -> Result<(), RecordsError> {
    let len = batch.len();
    let batch_length =
        i32::try_from(len - LOG_OVERHEAD).map_err(|_| RecordsError::LengthMismatch {
            declared: u64::MAX,
            actual: len,
        })?;
    put(batch, BATCH_LENGTH_AT, batch_length.to_be_bytes());
    Ok(())
}

/// Computes and writes a batch's CRC-32C; call it after every other header write.
pub(crate) fn put_crc(batch: &mut [u8]) {
    let crc = crc32c::crc32c(batch.get(CRC_COVERED_FROM..).unwrap_or_default());
    put(batch, CRC_AT, crc.to_be_bytes());
}

/// Kafka's "no sequence" marker (non-idempotent producers).
pub const NO_SEQUENCE: i32 = -1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimestampType {
    CreateTime,
    LogAppendTime,
}

/// A view over exactly one v2 batch. Construction checks the length field and magic but not
/// the CRC (call [`BatchView::verify_crc`]), so the header getters never fail.
#[derive(Clone, Copy)]
pub struct BatchView<'a> {
    bytes: &'a [u8],
    header: &'a [u8; BATCH_HEADER_LEN],
}

impl<'a> BatchView<'a> {
    pub fn new(bytes: &'a [u8]) -> Result<Self, RecordsError> {
        let Some(header) = bytes.first_chunk::<BATCH_HEADER_LEN>() else {
            // Say how long the batch claims to be when at least the length field is present.
            let needed = declared_size(bytes).unwrap_or(BATCH_HEADER_LEN as u64);
            return Err(RecordsError::PartialBatch {
                needed: needed.max(BATCH_HEADER_LEN as u64),
                available: bytes.len(),
            });
        };
        let batch_length = i32::from_be_bytes(read_array::<BATCH_LENGTH_AT, 4>(header));
        if batch_length < MIN_BATCH_LENGTH {
            return Err(RecordsError::BatchLengthTooSmall { batch_length });
        }
        let declared = LOG_OVERHEAD as u64 + u64::from(batch_length.unsigned_abs());
        if declared > bytes.len() as u64 {
            return Err(RecordsError::PartialBatch {
                needed: declared,
                available: bytes.len(),
            });
        }
        if declared != bytes.len() as u64 {
            return Err(RecordsError::LengthMismatch {
                declared,
                actual: bytes.len(),
            });
        }
        let magic = i8::from_be_bytes(read_array::<MAGIC_AT, 1>(header));
        if magic != CURRENT_MAGIC {
            return Err(RecordsError::UnsupportedMagic { magic });
        }
        Ok(BatchView { bytes, header })
    }

    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// Whole batch size, log overhead included (what `max.message.bytes` limits).
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Always false: a batch holds at least its header. Present for API symmetry with `len`.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    pub fn base_offset(&self) -> i64 {
        i64::from_be_bytes(self.field::<BASE_OFFSET_AT, 8>())
    }

    pub fn batch_length(&self) -> i32 {
        i32::from_be_bytes(self.field::<BATCH_LENGTH_AT, 4>())
    }

    pub fn partition_leader_epoch(&self) -> i32 {
        i32::from_be_bytes(self.field::<PARTITION_LEADER_EPOCH_AT, 4>())
    }

    pub fn magic(&self) -> i8 {
        i8::from_be_bytes(self.field::<MAGIC_AT, 1>())
    }

    pub fn crc(&self) -> u32 {
        u32::from_be_bytes(self.field::<CRC_AT, 4>())
    }

    pub fn attributes(&self) -> i16 {
        i16::from_be_bytes(self.field::<ATTRIBUTES_AT, 2>())
    }

    pub fn compression(&self) -> Result<Compression, RecordsError> {
        // The mask keeps the value in 0..=7, so the narrowing cannot lose bits.
        let codec = (self.attributes() & COMPRESSION_MASK) as u8;
        Compression::from_id(codec).ok_or(RecordsError::UnknownCompression { codec })
    }

    pub fn timestamp_type(&self) -> TimestampType {
        if self.attributes() & TIMESTAMP_TYPE_BIT != 0 {
            TimestampType::LogAppendTime
        } else {
            TimestampType::CreateTime
        }
    }

    pub fn is_transactional(&self) -> bool {
        self.attributes() & TRANSACTIONAL_BIT != 0
    }

    pub fn is_control(&self) -> bool {
        self.attributes() & CONTROL_BIT != 0
    }

    pub fn has_delete_horizon(&self) -> bool {
        self.attributes() & DELETE_HORIZON_BIT != 0
    }

    pub fn last_offset_delta(&self) -> i32 {
        i32::from_be_bytes(self.field::<LAST_OFFSET_DELTA_AT, 4>())
    }

    pub fn base_timestamp(&self) -> i64 {
        i64::from_be_bytes(self.field::<BASE_TIMESTAMP_AT, 8>())
    }

    pub fn max_timestamp(&self) -> i64 {
        i64::from_be_bytes(self.field::<MAX_TIMESTAMP_AT, 8>())
    }

    pub fn producer_id(&self) -> i64 {
        i64::from_be_bytes(self.field::<PRODUCER_ID_AT, 8>())
    }

    pub fn producer_epoch(&self) -> i16 {
        i16::from_be_bytes(self.field::<PRODUCER_EPOCH_AT, 2>())
    }

    pub fn base_sequence(&self) -> i32 {
        i32::from_be_bytes(self.field::<BASE_SEQUENCE_AT, 4>())
    }

    pub fn record_count(&self) -> i32 {
        i32::from_be_bytes(self.field::<RECORD_COUNT_AT, 4>())
    }

    /// Offsets this batch occupies: `last_offset_delta + 1`, or 0 for a nonsensical negative
    /// delta (which validation rejects anyway).
    pub fn offset_count(&self) -> u32 {
        u32::try_from(i64::from(self.last_offset_delta()) + 1).unwrap_or(0)
    }

    /// Offset of the batch's last record, given its current base offset.
    pub fn last_offset(&self) -> i64 {
        self.base_offset()
            .wrapping_add(i64::from(self.last_offset_delta()))
    }

    /// Sequence of the last record. Sequences wrap from `i32::MAX` to 0 (not to `i32::MIN`),
    /// matching Kafka's `DefaultRecordBatch.incrementSequence`.
    pub fn last_sequence(&self) -> i32 {
        last_sequence(self.base_sequence(), self.last_offset_delta())
    }

    pub fn verify_crc(&self) -> Result<(), RecordsError> {
        let stored = self.crc();
        let computed = crc32c::crc32c(self.crc_covered());
        if stored == computed {
            Ok(())
        } else {
            Err(RecordsError::CrcMismatch { stored, computed })
        }
    }

    /// The (possibly compressed) records section after the fixed header.
    pub fn records_bytes(&self) -> &'a [u8] {
        self.bytes.get(BATCH_HEADER_LEN..).unwrap_or_default()
    }

    fn crc_covered(&self) -> &'a [u8] {
        self.bytes.get(CRC_COVERED_FROM..).unwrap_or_default()
    }

    fn field<const AT: usize, const N: usize>(&self) -> [u8; N] {
        read_array::<AT, N>(self.header)
    }
}

/// Reads a fixed-position header field; the bound is checked at compile time.
fn read_array<const AT: usize, const N: usize>(header: &[u8; BATCH_HEADER_LEN]) -> [u8; N] {
    const { assert!(AT + N <= BATCH_HEADER_LEN) };
    let mut out = [0u8; N];
    out.copy_from_slice(&header[AT..AT + N]);
    out
}

pub(crate) fn last_sequence(base_sequence: i32, last_offset_delta: i32) -> i32 {
    if base_sequence == NO_SEQUENCE {
        return NO_SEQUENCE;
    }
    increment_sequence(base_sequence, last_offset_delta)
}

/// Total batch size from the length field, if the log overhead is present and the length is
/// not negative.
fn declared_size(bytes: &[u8]) -> Option<u64> {
    let overhead = bytes.first_chunk::<LOG_OVERHEAD>()?;
    let mut length = [0u8; 4];
    length.copy_from_slice(&overhead[BATCH_LENGTH_AT..]);
    let length = u32::try_from(i32::from_be_bytes(length)).ok()?;
    Some(LOG_OVERHEAD as u64 + u64::from(length))
}

/// Kafka's `DefaultRecordBatch.incrementSequence`: sequences wrap from `i32::MAX` to 0.
fn increment_sequence(sequence: i32, increment: i32) -> i32 {
    let next = i64::from(sequence) + i64::from(increment);
    if next > i64::from(i32::MAX) {
        // Kafka wraps past i32::MAX to 0: MAX + 1 -> 0.
        (next - i64::from(i32::MAX) - 1) as i32
    } else {
        next as i32
    }
}

impl fmt::Debug for BatchView<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BatchView")
            .field("len", &self.len())
            .field("base_offset", &self.base_offset())
            .field("attributes", &self.attributes())
            .field("last_offset_delta", &self.last_offset_delta())
            .field("record_count", &self.record_count())
            .field("base_timestamp", &self.base_timestamp())
            .field("max_timestamp", &self.max_timestamp())
            .field("producer_id", &self.producer_id())
            .field("producer_epoch", &self.producer_epoch())
            .field("base_sequence", &self.base_sequence())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::increment_sequence;

    #[test]
    fn sequence_wraps_past_i32_max_to_zero() {
        assert_eq!(increment_sequence(5, 3), 8);
        assert_eq!(increment_sequence(i32::MAX, 0), i32::MAX);
        assert_eq!(increment_sequence(i32::MAX, 1), 0);
        assert_eq!(increment_sequence(i32::MAX - 1, 3), 1);
    }
}
