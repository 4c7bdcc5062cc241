//! ListOffsets lookups by time. These decode records (decompressing if needed), which is fine
//! here: they run once per consumer seek, never per fetched batch.

use bytes::Bytes;
use skiff_records::{BatchView, RecordsError};
use skiff_storage::StorageError;

use super::ChunkSource;
use super::partition_read::PlannedEntry;

/// The first (offset, timestamp) whose record timestamp is at or after `target`, searching the
/// candidate entries in offset order (those whose max timestamp reaches `target`).
pub async fn offset_for_timestamp(
    source: &ChunkSource,
    candidates: &[PlannedEntry],
    target: i64,
) -> Result<Option<(i64, i64)>, StorageError> {
    for candidate in candidates {
        let bytes = source.entry_bytes(candidate).await?;
        if let Some(found) = first_record_at_or_after(&bytes, target).map_err(corrupt)? {
            return Ok(Some(found));
        }
    }
    Ok(None)
}

/// The offset of the first record carrying `max_timestamp` in the batch starting at
/// `batch_base_offset` (Kafka's MAX_TIMESTAMP lookup).
pub async fn offset_for_max_timestamp(
    source: &ChunkSource,
    entry: &PlannedEntry,
    batch_base_offset: i64,
    max_timestamp: i64,
) -> Result<Option<(i64, i64)>, StorageError> {
    let bytes = source.entry_bytes(entry).await?;
    for batch in skiff_records::batches(&bytes) {
        let batch = batch.map_err(corrupt)?;
        // The state names the batch by its base offset, or (after the batch that held the
        // maximum was deleted) names where to start looking for the next one that reaches it.
        if batch.last_offset() < batch_base_offset || batch.max_timestamp() != max_timestamp {
            continue;
        }
        let records = batch.records().map_err(corrupt)?;
        for record in records.iter() {
            let record = record.map_err(corrupt)?;
            if record.timestamp == max_timestamp {
                return Ok(Some((
                    batch.base_offset() + i64::from(record.offset_delta),
                    record.timestamp,
                )));
            }
        }
        // The header's max timestamp matched no record (a client that mis-set it): report the
        // batch's last offset, which is where Kafka's time index would point.
        return Ok(Some((last_offset(&batch), max_timestamp)));
    }
    Ok(None)
}

fn first_record_at_or_after(
    bytes: &Bytes,
    target: i64,
) -> Result<Option<(i64, i64)>, RecordsError> {
    for batch in skiff_records::batches(bytes) {
        let batch = batch?;
        if batch.max_timestamp() < target {
            continue;
        }
        let records = batch.records()?;
        for record in records.iter() {
            let record = record?;
            if record.timestamp >= target {
                return Ok(Some((
                    batch.base_offset() + i64::from(record.offset_delta),
                    record.timestamp,
                )));
            }
        }
    }
    Ok(None)
}

fn last_offset(batch: &BatchView<'_>) -> i64 {
    batch.base_offset() + i64::from(batch.last_offset_delta())
}

fn corrupt(e: RecordsError) -> StorageError {
    StorageError::Other {
        operation: "decode",
        path: String::new(),
        reason: format!("stored batch could not be read: {e}"),
    }
}
