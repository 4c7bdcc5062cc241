//! ListOffsets lookups by time. These decode records (decompressing if needed), which is fine
//! here: they run once per consumer seek, never per fetched batch.
//!
//! A stored batch that cannot be decoded (written before produce validated records, or damaged)
//! never turns into a permanent error: the lookup answers from the batch header instead, as
//! Kafka's time index would, and says what it stepped over so the caller can log it.

use bytes::Bytes;
use skiff_records::{BatchView, DEFAULT_MAX_DECOMPRESSED_BYTES, RecordsError};
use skiff_storage::StorageError;

use super::ChunkSource;
use super::partition_read::PlannedEntry;

/// A lookup's answer, `(offset, timestamp)` if any, and what stopped it from reading records
/// where it had to fall back to batch headers.
#[derive(Debug, Default)]
pub struct TimestampLookup {
    pub found: Option<(i64, i64)>,
    pub unreadable: Vec<Unreadable>,
}

/// Stored data a lookup could not read, with the object it lies in.
#[derive(Debug)]
pub struct Unreadable {
    pub object_key: String,
    pub reason: String,
}

impl TimestampLookup {
    fn note(&mut self, entry: &PlannedEntry, reason: impl ToString) {
        self.unreadable.push(Unreadable {
            object_key: entry.object_key.clone(),
            reason: reason.to_string(),
        });
    }
}

/// The first (offset, timestamp) whose record timestamp is at or after `target`, searching the
/// candidate entries in offset order (those whose max timestamp reaches `target`). Only a store
/// that may answer later (unavailable) is an error; entries that cannot be read at all are
/// stepped over.
pub async fn offset_for_timestamp(
    source: &ChunkSource,
    candidates: &[PlannedEntry],
    target: i64,
) -> Result<TimestampLookup, StorageError> {
    let mut lookup = TimestampLookup::default();
    for candidate in candidates {
        let bytes = match source.entry_bytes(candidate).await {
            Ok(bytes) => bytes,
            Err(error) if error.is_retriable() => return Err(error),
            Err(error) => {
                lookup.note(candidate, error);
                continue;
            }
        };
        if let Some(found) = first_record_at_or_after(&bytes, target, candidate, &mut lookup) {
            lookup.found = Some(found);
            return Ok(lookup);
        }
    }
    Ok(lookup)
}

/// The offset of the first record carrying `max_timestamp` in the batch starting at
/// `batch_base_offset` (Kafka's MAX_TIMESTAMP lookup).
pub async fn offset_for_max_timestamp(
    source: &ChunkSource,
    entry: &PlannedEntry,
    batch_base_offset: i64,
    max_timestamp: i64,
) -> Result<TimestampLookup, StorageError> {
    let mut lookup = TimestampLookup::default();
    let bytes = match source.entry_bytes(entry).await {
        Ok(bytes) => bytes,
        Err(error) if error.is_retriable() => return Err(error),
        Err(error) => {
            // The index alone knows which batch holds the maximum: point at it.
            lookup.note(entry, error);
            lookup.found = Some((batch_base_offset, max_timestamp));
            return Ok(lookup);
        }
    };
    for batch in skiff_records::batches(&bytes) {
        let batch = match batch {
            Ok(batch) => batch,
            Err(error) => {
                lookup.note(entry, error);
                lookup.found = Some((batch_base_offset, max_timestamp));
                return Ok(lookup);
            }
        };
        // The state names the batch by its base offset, or (after the batch that held the
        // maximum was deleted) names where to start looking for the next one that reaches it.
        if batch.last_offset() < batch_base_offset || batch.max_timestamp() != max_timestamp {
            continue;
        }
        match offset_of_timestamp_in(&batch, max_timestamp) {
            Ok(Some(offset)) => lookup.found = Some((offset, max_timestamp)),
            // The header's max timestamp matched no record (a client that mis-set it), or the
            // records cannot be read: report the batch's last offset, which is where Kafka's
            // time index would point.
            Ok(None) => lookup.found = Some((last_offset(&batch), max_timestamp)),
            Err(error) => {
                lookup.note(entry, error);
                lookup.found = Some((last_offset(&batch), max_timestamp));
            }
        }
        return Ok(lookup);
    }
    Ok(lookup)
}

fn offset_of_timestamp_in(
    batch: &BatchView<'_>,
    timestamp: i64,
) -> Result<Option<i64>, RecordsError> {
    let mut records = batch.walk_records(DEFAULT_MAX_DECOMPRESSED_BYTES)?;
    while let Some(record) = records.next_record() {
        let record = record?;
        if record.timestamp == timestamp {
            return Ok(Some(batch.base_offset() + i64::from(record.offset_delta)));
        }
    }
    Ok(None)
}

fn first_record_at_or_after(
    bytes: &Bytes,
    target: i64,
    entry: &PlannedEntry,
    lookup: &mut TimestampLookup,
) -> Option<(i64, i64)> {
    for batch in skiff_records::batches(bytes) {
        let batch = match batch {
            Ok(batch) => batch,
            Err(error) => {
                lookup.note(entry, error);
                return None;
            }
        };
        if batch.max_timestamp() < target {
            continue;
        }
        match first_in_batch(&batch, target) {
            Ok(Some(found)) => return Some(found),
            Ok(None) => {}
            // The header says a record reaches the target: the batch is the answer.
            Err(error) => {
                lookup.note(entry, error);
                return Some((batch.base_offset(), batch.max_timestamp()));
            }
        }
    }
    None
}

fn first_in_batch(batch: &BatchView<'_>, target: i64) -> Result<Option<(i64, i64)>, RecordsError> {
    let mut records = batch.walk_records(DEFAULT_MAX_DECOMPRESSED_BYTES)?;
    while let Some(record) = records.next_record() {
        let record = record?;
        if record.timestamp >= target {
            return Ok(Some((
                batch.base_offset() + i64::from(record.offset_delta),
                record.timestamp,
            )));
        }
    }
    Ok(None)
}

fn last_offset(batch: &BatchView<'_>) -> i64 {
    batch.base_offset() + i64::from(batch.last_offset_delta())
}
