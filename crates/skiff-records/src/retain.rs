//! A copy of a batch holding only some of its records: what key compaction writes.
//!
//! The copy keeps what Kafka's cleaner keeps (`MemoryRecords.filterTo`): the base offset and
//! the last offset delta, so the batch still ends where it ended and the offsets of kept
//! records never change (the dropped ones become gaps); the producer id, epoch and base
//! sequence; the partition leader epoch, the attributes (codec, timestamp type, transactional)
//! and the base timestamp. Each kept record is written again with its own offset and timestamp
//! deltas, the records are compressed with the batch's codec, and the CRC is computed afresh.

use crate::batch::{
    ATTRIBUTES_AT, BATCH_HEADER_LEN, BatchView, MAX_TIMESTAMP_AT, RECORD_COUNT_AT, TimestampType,
    put, put_batch_length, put_crc,
};
use crate::compress::compress;
use crate::error::RecordsError;
use crate::record::RecordRef;

/// What [`retain_records`] did with a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retained {
    /// Every record was kept: nothing was written, the batch stays as it is.
    All,
    /// No record was kept: nothing was written, the batch goes away.
    None,
    /// `kept` records (fewer than the batch had) were written as a new batch of `len` bytes
    /// whose largest record timestamp is `max_timestamp`.
    Some {
        kept: u32,
        len: usize,
        max_timestamp: i64,
    },
}

/// Appends to `out` a copy of `batch` with only the records `keep` accepts (see the module
/// docs), reading them within `max_decompressed_bytes`. `scratch` is reused between calls.
/// Control batches are never filtered: they are [`Retained::All`].
pub fn retain_records(
    batch: BatchView<'_>,
    max_decompressed_bytes: usize,
    mut keep: impl FnMut(&RecordRef<'_>) -> bool,
    scratch: &mut Vec<u8>,
    out: &mut Vec<u8>,
) -> Result<Retained, RecordsError> {
    if batch.is_control() {
        return Ok(Retained::All);
    }
    scratch.clear();
    let mut walk = batch.walk_records(max_decompressed_bytes)?;
    let declared = walk.declared();
    let mut kept = 0u32;
    let mut max_timestamp = i64::MIN;
    while let Some(record) = walk.next_record() {
        let record = record?;
        if !keep(&record) {
            continue;
        }
        kept += 1;
        max_timestamp = max_timestamp.max(record.timestamp);
        write_record(&record, scratch);
    }
    if kept == declared {
        return Ok(Retained::All);
    }
    if kept == 0 {
        return Ok(Retained::None);
    }
    let max_timestamp = match batch.timestamp_type() {
        // Every record of a LogAppendTime batch has the batch's time.
        TimestampType::LogAppendTime => batch.max_timestamp(),
        TimestampType::CreateTime => max_timestamp,
    };

    let start = out.len();
    out.extend_from_slice(batch.bytes().get(..BATCH_HEADER_LEN).unwrap_or_default());
    compress(batch.compression()?, scratch, out)?;
    let len = out.len() - start;
    let written = out.get_mut(start..).unwrap_or_default();
    put_batch_length(written)?;
    put(written, MAX_TIMESTAMP_AT, max_timestamp.to_be_bytes());
    put(written, RECORD_COUNT_AT, (kept as i32).to_be_bytes());
    // The attributes stay: the codec and timestamp type did not change.
    debug_assert_eq!(
        written.get(ATTRIBUTES_AT..ATTRIBUTES_AT + 2),
        batch.bytes().get(ATTRIBUTES_AT..ATTRIBUTES_AT + 2)
    );
    put_crc(written);
    Ok(Retained::Some {
        kept,
        len,
        max_timestamp,
    })
}

/// Encodes one record (length prefix included) as Kafka does.
fn write_record(record: &RecordRef<'_>, out: &mut Vec<u8>) {
    let mut body_len = 1
        + varlong_len(record.timestamp_delta)
        + varlong_len(i64::from(record.offset_delta))
        + bytes_len(record.key)
        + bytes_len(record.value)
        + varlong_len(i64::from(record.headers.remaining()));
    for header in record.headers.clone() {
        body_len += varlong_len(header.key.len() as i64) + header.key.len();
        body_len += bytes_len(header.value);
    }
    put_varlong(out, body_len as i64);
    out.push(record.attributes as u8);
    put_varlong(out, record.timestamp_delta);
    put_varlong(out, i64::from(record.offset_delta));
    put_bytes(out, record.key);
    put_bytes(out, record.value);
    put_varlong(out, i64::from(record.headers.remaining()));
    for header in record.headers.clone() {
        put_bytes(out, Some(header.key));
        put_bytes(out, header.value);
    }
}

fn zigzag(value: i64) -> u64 {
    ((value << 1) ^ (value >> 63)) as u64
}

fn varlong_len(value: i64) -> usize {
    let bits = 64 - zigzag(value).leading_zeros() as usize;
    bits.max(1).div_ceil(7)
}

fn bytes_len(bytes: Option<&[u8]>) -> usize {
    match bytes {
        None => varlong_len(-1),
        Some(b) => varlong_len(b.len() as i64) + b.len(),
    }
}

fn put_varlong(out: &mut Vec<u8>, value: i64) {
    let mut v = zigzag(value);
    while v >= 0x80 {
        out.push((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_bytes(out: &mut Vec<u8>, bytes: Option<&[u8]>) {
    match bytes {
        None => put_varlong(out, -1),
        Some(b) => {
            put_varlong(out, b.len() as i64);
            out.extend_from_slice(b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varlong_lengths_match_the_encoding() {
        for value in [0i64, 1, -1, 63, 64, -65, 1 << 20, i64::MAX, i64::MIN] {
            let mut out = Vec::new();
            put_varlong(&mut out, value);
            assert_eq!(out.len(), varlong_len(value), "{value}");
        }
    }
}
