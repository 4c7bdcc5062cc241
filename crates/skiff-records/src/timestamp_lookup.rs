//! Record-level timestamp lookups for ListOffsets (cold path).

use crate::batch::BatchView;
use crate::compression::DEFAULT_MAX_DECOMPRESSED_BYTES;
use crate::error::RecordsError;

/// Offset delta of the first record whose timestamp is `>= target_ms`, or `None` if no record
/// in the batch qualifies.
///
/// The batch is always decoded rather than trusting the header's max timestamp: Skiff does not
/// rewrite client-supplied max timestamps the way a Kafka broker does. Callers scanning many
/// batches may skip those whose `max_timestamp()` is below the target first.
pub fn first_offset_delta_at_or_after(
    batch: BatchView<'_>,
    target_ms: i64,
) -> Result<Option<i32>, RecordsError> {
    let mut records = batch.walk_records(DEFAULT_MAX_DECOMPRESSED_BYTES)?;
    while let Some(record) = records.next_record() {
        let record = record?;
        if record.timestamp >= target_ms {
            return Ok(Some(record.offset_delta));
        }
    }
    Ok(None)
}

/// `(timestamp, offset_delta)` of the first record carrying the batch's largest timestamp (Kafka's
/// `MAX_TIMESTAMP` ListOffsets spec), or `None` for a batch without records. The maximum is taken
/// over the records themselves, not the header.
pub fn offset_delta_of_max_timestamp(
    batch: BatchView<'_>,
) -> Result<Option<(i64, i32)>, RecordsError> {
    let mut records = batch.walk_records(DEFAULT_MAX_DECOMPRESSED_BYTES)?;
    let mut best: Option<(i64, i32)> = None;
    while let Some(record) = records.next_record() {
        let record = record?;
        if best.is_none_or(|(timestamp, _)| record.timestamp > timestamp) {
            best = Some((record.timestamp, record.offset_delta));
        }
    }
    Ok(best)
}
