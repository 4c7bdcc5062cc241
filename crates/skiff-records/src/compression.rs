//! Bounded decompression of a batch's records section (cold path only).

use std::io::Read;

use crate::codec::Compression;
use crate::error::RecordsError;

/// Default cap on a batch's decompressed records, so a small hostile batch cannot make us
/// allocate gigabytes.
pub const DEFAULT_MAX_DECOMPRESSED_BYTES: usize = 64 * 1024 * 1024;

/// Java's xerial snappy-java `SnappyOutputStream` stream header: magic, version, compatible version.
pub(crate) const XERIAL_MAGIC: &[u8; 8] = b"\x82SNAPPY\x00";
pub(crate) const XERIAL_HEADER_LEN: usize = 16;

/// zstd frames may declare a window far larger than their content (Java's streaming encoder
/// does, 2 MiB at the default level). Accept up to 8 MiB (windowLog 23) even when the output
/// cap is smaller; the output cap still bounds what we actually produce.
pub(crate) const MIN_ZSTD_WINDOW: u64 = 8 * 1024 * 1024;

/// Decompresses a batch's records section, failing once the output would pass `limit` bytes.
/// Snappy is read in both framings clients send: xerial blocks (Java) and one raw block.
pub fn decompress(codec: Compression, input: &[u8], limit: usize) -> Result<Vec<u8>, RecordsError> {
    match codec {
        Compression::None => bounded_copy(input, limit),
        Compression::Gzip => read_bounded(codec, flate2::read::MultiGzDecoder::new(input), limit),
        Compression::Snappy if input.starts_with(XERIAL_MAGIC) => xerial_snappy(input, limit),
        Compression::Snappy => raw_snappy(input, limit),
        Compression::Lz4 => read_bounded(codec, lz4_flex::frame::FrameDecoder::new(input), limit),
        Compression::Zstd => zstd(input, limit),
    }
}

fn bounded_copy(input: &[u8], limit: usize) -> Result<Vec<u8>, RecordsError> {
    if input.len() > limit {
        return Err(RecordsError::DecompressedTooLarge {
            codec: Compression::None,
            limit,
        });
    }
    Ok(input.to_vec())
}

/// Reads at most `limit + 1` bytes so an oversized stream is detected without buffering it.
fn read_bounded(
    codec: Compression,
    reader: impl Read,
    limit: usize,
) -> Result<Vec<u8>, RecordsError> {
    let mut out = Vec::new();
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    reader
        .take(cap)
        .read_to_end(&mut out)
        .map_err(|error| RecordsError::Decompression {
            codec,
            detail: error.to_string(),
        })?;
    if out.len() > limit {
        return Err(RecordsError::DecompressedTooLarge { codec, limit });
    }
    Ok(out)
}

fn zstd(input: &[u8], limit: usize) -> Result<Vec<u8>, RecordsError> {
    let codec = Compression::Zstd;
    let decoder = zstd_decoder(input, limit).map_err(|error| RecordsError::Decompression {
        codec,
        detail: error.to_string(),
    })?;
    read_bounded(codec, decoder, limit)
}

/// A decoder over every frame of `input` (a records section may hold several concatenated
/// ones), which refuses frames whose window is larger than [`MIN_ZSTD_WINDOW`] or `limit`,
/// whichever is larger: a frame cannot make it allocate more than that.
pub(crate) fn zstd_decoder(
    input: &[u8],
    limit: usize,
) -> std::io::Result<zstd::stream::read::Decoder<'_, &[u8]>> {
    let window = MIN_ZSTD_WINDOW.max(u64::try_from(limit).unwrap_or(u64::MAX));
    // The smallest power of two at least `window`, within what zstd's decoder accepts.
    let window_log = (u64::BITS - window.saturating_sub(1).leading_zeros()).clamp(10, 31);
    let mut decoder = zstd::stream::read::Decoder::with_buffer(input)?;
    decoder.window_log_max(window_log)?;
    Ok(decoder)
}

fn raw_snappy(input: &[u8], limit: usize) -> Result<Vec<u8>, RecordsError> {
    let mut out = Vec::new();
    append_snappy_block(input, limit, &mut out)?;
    Ok(out)
}

/// xerial framing: a 16-byte header, then blocks of (big-endian u32 length, raw snappy block).
/// snappy-java also accepts a second header mid-stream (concatenated streams), so do we.
fn xerial_snappy(input: &[u8], limit: usize) -> Result<Vec<u8>, RecordsError> {
    let mut rest = input;
    let mut out = Vec::new();
    while !rest.is_empty() {
        if rest.starts_with(XERIAL_MAGIC) {
            rest = rest
                .get(XERIAL_HEADER_LEN..)
                .ok_or_else(|| snappy_error("truncated xerial header"))?;
            continue;
        }
        let (length, after) = rest
            .split_first_chunk::<4>()
            .ok_or_else(|| snappy_error("truncated xerial block length"))?;
        let length = usize::try_from(u32::from_be_bytes(*length))
            .map_err(|_| snappy_error("xerial block length does not fit in memory"))?;
        if length > after.len() {
            return Err(snappy_error(
                "xerial block runs past the end of the records",
            ));
        }
        let (block, after) = after.split_at(length);
        append_snappy_block(block, limit, &mut out)?;
        rest = after;
    }
    Ok(out)
}

fn append_snappy_block(block: &[u8], limit: usize, out: &mut Vec<u8>) -> Result<(), RecordsError> {
    let codec = Compression::Snappy;
    if block.is_empty() {
        return Ok(());
    }
    let block_len =
        snap::raw::decompress_len(block).map_err(|error| snappy_error(&error.to_string()))?;
    // The declared length is checked before allocating: it is attacker-controlled.
    let start = out.len();
    let end = start
        .checked_add(block_len)
        .filter(|&end| end <= limit)
        .ok_or(RecordsError::DecompressedTooLarge { codec, limit })?;
    out.resize(end, 0);
    let written = snap::raw::Decoder::new()
        .decompress(block, out.get_mut(start..).unwrap_or_default())
        .map_err(|error| snappy_error(&error.to_string()))?;
    out.truncate(start + written);
    Ok(())
}

fn snappy_error(detail: &str) -> RecordsError {
    RecordsError::Decompression {
        codec: Compression::Snappy,
        detail: detail.to_owned(),
    }
}
