use std::ops::Range;

use crate::batch::{BatchView, Compression, TimestampType, last_sequence};
use crate::error::{
    InvalidBatch, InvalidRecords, MAX_REPORTED_REJECTIONS, RecordRejection, RecordsError,
    RejectReason,
};
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

/// What a topic asks of the records written to it, beyond their encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProduceRules {
    /// `max.message.bytes`: the largest batch, log overhead included.
    pub max_batch_bytes: usize,
    /// The most a compressed batch may decompress to; a larger one is refused as too large.
    pub max_decompressed_bytes: usize,
    /// Refuse records without a key (`cleanup.policy=compact`).
    pub require_keys: bool,
    /// Inclusive range for CreateTime record timestamps (`message.timestamp.before/after.max.ms`
    /// around the broker's clock); `None` accepts any (and LogAppendTime topics ignore them).
    pub timestamp_range: Option<(i64, i64)>,
}

impl ProduceRules {
    /// Only the size limit, with decompression capped at [`crate::DEFAULT_MAX_DECOMPRESSED_BYTES`].
    pub fn with_max_batch_bytes(max_batch_bytes: usize) -> Self {
        ProduceRules {
            max_batch_bytes,
            max_decompressed_bytes: crate::DEFAULT_MAX_DECOMPRESSED_BYTES,
            require_keys: false,
            timestamp_range: None,
        }
    }
}

/// Kafka's "no timestamp": exempt from the timestamp range, as in Kafka.
const NO_TIMESTAMP: i64 = -1;

/// Checks a client's produce record set the way Kafka's broker (its `LogValidator`) does before
/// appending it. `out` is cleared and refilled so the caller can reuse it.
///
/// Per batch, in order: framing and magic, size against `max_batch_bytes` (log overhead
/// included, like `max.message.bytes`), CRC, compression codec, the client-only header rules,
/// then every record (decompressing as it goes, within `max_decompressed_bytes`): its encoding,
/// the record count against the header's, offset deltas counting up from 0, timestamp deltas,
/// the timestamp range, and keys where required. Nothing is copied or allocated per record.
pub fn validate_record_set(
    buf: &[u8],
    rules: &ProduceRules,
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
    let mut records_before = 0u32;
    while let Some(next) = iter.next() {
        let corrupt = |cause| InvalidRecords::Corrupt { batch_index, cause };
        let batch = next.map_err(corrupt)?;
        let position = iter.position() - batch.len();
        let summary = validate_batch(batch, batch_index, position, records_before, rules)?;
        records_before = records_before.saturating_add(summary.record_count);
        out.push(summary);
        batch_index += 1;
    }
    Ok(())
}

fn validate_batch(
    batch: BatchView<'_>,
    batch_index: usize,
    position: usize,
    records_before: u32,
    rules: &ProduceRules,
) -> Result<BatchSummary, InvalidRecords> {
    let corrupt = |cause| InvalidRecords::Corrupt { batch_index, cause };
    let invalid = |reason| InvalidRecords::InvalidRecord {
        batch_index,
        reason,
    };

    if batch.len() > rules.max_batch_bytes {
        return Err(InvalidRecords::TooLarge {
            batch_index,
            size: batch.len(),
            max: rules.max_batch_bytes,
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
    if batch.timestamp_type() == TimestampType::LogAppendTime {
        return Err(invalid(InvalidBatch::LogAppendTimeFromClient));
    }

    let max_timestamp = walk_records(batch, batch_index, records_before, rules)?;

    Ok(BatchSummary {
        position,
        len: batch.len(),
        offset_count: batch.offset_count(),
        record_count: record_count_u32,
        base_timestamp: batch.base_timestamp(),
        max_timestamp,
        producer_id,
        producer_epoch: batch.producer_epoch(),
        base_sequence,
        transactional: batch.is_transactional(),
        compression,
    })
}

/// Reads every record of the batch and applies the per-record rules. Returns the largest record
/// timestamp, which is what the index keeps (as Kafka rewrites the header's, we never trust it).
fn walk_records(
    batch: BatchView<'_>,
    batch_index: usize,
    records_before: u32,
    rules: &ProduceRules,
) -> Result<i64, InvalidRecords> {
    let unreadable = |cause| InvalidRecords::UnreadableRecords {
        batch_index,
        records_before,
        cause,
    };
    let mut walk = batch
        .walk_records(rules.max_decompressed_bytes)
        .map_err(|cause| InvalidRecords::Corrupt { batch_index, cause })?;
    let base_timestamp = batch.base_timestamp();
    let mut max_timestamp = i64::MIN;
    // Allocated only once a record is refused.
    let mut rejected: Vec<RecordRejection> = Vec::new();
    let mut total_rejected = 0u32;
    let mut index = 0u32;
    while let Some(record) = walk.next_record() {
        let record = record.map_err(unreadable)?;
        let mut reject = |reason| {
            total_rejected = total_rejected.saturating_add(1);
            if rejected.len() < MAX_REPORTED_REJECTIONS {
                rejected.push(RecordRejection { index, reason });
            }
        };
        if i64::from(record.offset_delta) != i64::from(index) {
            reject(RejectReason::OffsetDelta {
                found: record.offset_delta,
            });
        }
        match base_timestamp.checked_add(record.timestamp_delta) {
            None => reject(RejectReason::TimestampOverflow {
                base: base_timestamp,
                delta: record.timestamp_delta,
            }),
            Some(timestamp) => {
                if let Some((earliest, latest)) = rules.timestamp_range
                    && timestamp != NO_TIMESTAMP
                    && !(earliest..=latest).contains(&timestamp)
                {
                    reject(RejectReason::TimestampOutOfRange {
                        timestamp,
                        earliest,
                        latest,
                    });
                }
                max_timestamp = max_timestamp.max(timestamp);
            }
        }
        if rules.require_keys && record.key.is_none() {
            reject(RejectReason::KeyRequired);
        }
        index += 1;
    }
    if total_rejected > 0 {
        return Err(InvalidRecords::RejectedRecords {
            batch_index,
            records_before,
            rejected,
            total: total_rejected,
        });
    }
    Ok(max_timestamp)
}
