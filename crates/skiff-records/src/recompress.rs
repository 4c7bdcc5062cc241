//! A copy of a batch in another codec: what a topic with a `compression.type` other than
//! `producer` stores when a producer sent a different one (Kafka's `LogValidator` does the
//! same). Only the codec bits of the attributes, the batch length and the CRC change: offsets,
//! timestamps, producer id, epoch and sequence, and every record byte stay as they were.

use crate::batch::{
    ATTRIBUTES_AT, BATCH_HEADER_LEN, BatchView, COMPRESSION_MASK, put, put_batch_length, put_crc,
};
use crate::codec::Compression;
use crate::compress::compress_at;
use crate::compression::decompress;
use crate::error::RecordsError;
use crate::validate::BatchSummary;

/// The codec a topic stores its batches in, with its level for gzip and zstd.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TargetCodec {
    pub codec: Compression,
    /// gzip 1-9 or a zstd level (see [`compress_at`]); `None` for the codec's default.
    pub level: Option<i32>,
}

impl TargetCodec {
    /// `codec` at its default level.
    pub fn new(codec: Compression) -> Self {
        TargetCodec { codec, level: None }
    }
}

/// Appends to `out` a copy of `batch` whose records are compressed with `target` (see the
/// module docs), reading them within `max_decompressed_bytes`, and returns its length.
/// Control batches are copied unchanged: Kafka never compresses them.
pub fn recompress_batch(
    batch: BatchView<'_>,
    target: TargetCodec,
    max_decompressed_bytes: usize,
    out: &mut Vec<u8>,
) -> Result<usize, RecordsError> {
    let source = batch.compression()?;
    if batch.is_control() || source == target.codec {
        out.extend_from_slice(batch.bytes());
        return Ok(batch.len());
    }
    let inflated;
    let records = match source {
        Compression::None => batch.records_bytes(),
        codec => {
            inflated = decompress(codec, batch.records_bytes(), max_decompressed_bytes)?;
            &inflated[..]
        }
    };
    let start = out.len();
    out.extend_from_slice(batch.bytes().get(..BATCH_HEADER_LEN).unwrap_or_default());
    compress_at(target.codec, target.level, records, out)?;
    let written = out.get_mut(start..).unwrap_or_default();
    put_batch_length(written)?;
    let attributes = (batch.attributes() & !COMPRESSION_MASK) | i16::from(target.codec.id());
    put(written, ATTRIBUTES_AT, attributes.to_be_bytes());
    put_crc(written);
    Ok(written.len())
}

/// Whether any of a validated record set's batches is in a codec other than `target`'s.
pub fn needs_recompression(batches: &[BatchSummary], target: TargetCodec) -> bool {
    batches.iter().any(|b| b.compression != target.codec)
}

/// Appends to `out` the record set `records` (validated into `batches`) with every batch in
/// `target`'s codec, and moves each summary to its batch's new position and length.
pub fn recompress_record_set(
    records: &[u8],
    batches: &mut [BatchSummary],
    target: TargetCodec,
    max_decompressed_bytes: usize,
    out: &mut Vec<u8>,
) -> Result<(), RecordsError> {
    let base = out.len();
    for summary in batches.iter_mut() {
        let bytes = records
            .get(summary.range())
            .ok_or(RecordsError::LengthMismatch {
                declared: summary.len as u64,
                actual: records.len().saturating_sub(summary.position),
            })?;
        let position = out.len() - base;
        let len = recompress_batch(BatchView::new(bytes)?, target, max_decompressed_bytes, out)?;
        summary.position = position;
        summary.len = len;
        summary.compression = target.codec;
    }
    Ok(())
}
