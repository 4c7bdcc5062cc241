use std::ops::Range;

use crate::batch::{BatchView, Compression, last_sequence};
use crate::error::{InvalidBatch, InvalidRecords, RecordsError};
use crate::iter::batches;

/// What the produce path needs to know about one accepted batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchSummary {
    /// Byte position of the batch within the record set.
    pub position: usize,
    /// Batch size including the log overhead.
    pub len: usize,
    pub offset_count: u32,
    pub record_count: u32,
    pub base_timestamp: i64,
    pub max_timestamp: i64,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
    pub transactional: bool,
    pub compression: Compression,
}

impl BatchSummary {
    /// Where the batch lies in the record set (for slicing it out, e.g. to stamp it).
    pub fn range(&self) -> Range<usize> {
        self.position..self.position + self.len
    }

    /// Sequence of the batch's last record, wrapping like Kafka (see [`BatchView::last_sequence`]).
    pub fn last_sequence(&self) -> i32 {
        let last_offset_delta =
            i32::try_from(self.offset_count.saturating_sub(1)).unwrap_or(i32::MAX);
        last_sequence(self.base_sequence, last_offset_delta)
    }
}

/// Checks a client's produce record set the way Kafka's broker does before appending it,
/// without decoding records. `out` is cleared and refilled so the caller can reuse it.
///
/// Per batch, in order: framing and magic, size against `max_batch_bytes` (log overhead
/// included, like `max.message.bytes`), CRC, compression codec, then the client-only rules.
pub fn validate_record_set(
    buf: &[u8],
    max_batch_bytes: usize,
    out: &mut Vec<BatchSummary>,
) -> Result<(), InvalidRecords> {
    out.clear();
    if buf.is_empty() {
        return Err(InvalidRecords::Corrupt {
            batch_index: 0,
            cause: RecordsError::EmptyRecordSet,
        });
    }
    let mut iter = batches(buf);
    let mut batch_index = 0;
    while let Some(next) = iter.next() {
        let corrupt = |cause| InvalidRecords::Corrupt { batch_index, cause };
        let batch = next.map_err(corrupt)?;
        let position = iter.position() - batch.len();
        out.push(validate_batch(
            batch,
            batch_index,
            position,
            max_batch_bytes,
        )?);
        batch_index += 1;
    }
    Ok(())
}

fn validate_batch(
    batch: BatchView<'_>,
    batch_index: usize,
    position: usize,
    max_batch_bytes: usize,
) -> Result<BatchSummary, InvalidRecords> {
    let corrupt = |cause| InvalidRecords::Corrupt { batch_index, cause };
    let invalid = |reason| InvalidRecords::InvalidRecord {
        batch_index,
        reason,
    };

    if batch.len() > max_batch_bytes {
        return Err(InvalidRecords::TooLarge {
            batch_index,
            size: batch.len(),
            max: max_batch_bytes,
        });
    }
    batch.verify_crc().map_err(corrupt)?;
    let compression = batch.compression().map_err(corrupt)?;

    let record_count = batch.record_count();
    let last_offset_delta = batch.last_offset_delta();
    let Ok(record_count_u32 @ 1..) = u32::try_from(record_count) else {
        return Err(invalid(InvalidBatch::NoRecords { record_count }));
    };
    if i64::from(last_offset_delta) != i64::from(record_count) - 1 {
        return Err(invalid(InvalidBatch::OffsetRangeMismatch {
            last_offset_delta,
            record_count,
        }));
    }
    if batch.is_control() {
        return Err(invalid(InvalidBatch::ControlBatch));
    }
    let producer_id = batch.producer_id();
    let base_sequence = batch.base_sequence();
    // Kafka's LogValidator: an idempotent batch without a sequence cannot be deduplicated.
    if producer_id >= 0 && base_sequence < 0 {
        return Err(invalid(InvalidBatch::MissingSequence {
            producer_id,
            base_sequence,
        }));
    }

    Ok(BatchSummary {
        position,
        len: batch.len(),
        offset_count: batch.offset_count(),
        record_count: record_count_u32,
        base_timestamp: batch.base_timestamp(),
        max_timestamp: batch.max_timestamp(),
        producer_id,
        producer_epoch: batch.producer_epoch(),
        base_sequence,
        transactional: batch.is_transactional(),
        compression,
    })
}
