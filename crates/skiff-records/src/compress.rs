//! Compression of a batch's records section, the producer-side mirror of `compression.rs`.
//! Each codec writes the framing Kafka's Java client writes, so every client and broker reads
//! what we produce.

use std::io::Write;

use crate::batch::Compression;
use crate::error::RecordsError;

/// xerial snappy-java `SnappyOutputStream` header: magic, version 1, compatible version 1.
const XERIAL_HEADER: &[u8; 16] = b"\x82SNAPPY\x00\x00\x00\x00\x01\x00\x00\x00\x01";
/// snappy-java's default block size; each block is compressed on its own.
const XERIAL_BLOCK_LEN: usize = 32 * 1024;

/// Compresses an uncompressed records section with `codec`, appending the result to `out`.
///
/// The framings are the ones the Java client writes: gzip members, snappy in xerial blocks,
/// LZ4 frames with independent 64 KiB blocks, and one zstd frame.
pub fn compress(codec: Compression, input: &[u8], out: &mut Vec<u8>) -> Result<(), RecordsError> {
    compress_at(codec, None, input, out)
}

/// [`compress`] at a level: for gzip 1-9, for zstd any level zstd takes (Kafka's
/// `compression.zstd.level` range, -131072 to 22); `None` is each codec's default (gzip 6, zstd
/// 3, as `-1` and `3` are in Kafka). LZ4 and snappy have one level each here: lz4_flex writes
/// only LZ4's fast mode.
pub fn compress_at(
    codec: Compression,
    level: Option<i32>,
    input: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), RecordsError> {
    match codec {
        Compression::None => out.extend_from_slice(input),
        Compression::Gzip => gzip(input, level, out)?,
        Compression::Snappy => xerial_snappy(input, out)?,
        Compression::Lz4 => lz4(input, out)?,
        Compression::Zstd => zstd(input, level, out)?,
    }
    Ok(())
}

/// One frame, as Java's producer writes (its streaming encoder leaves the content size out;
/// ours records it, which every reader accepts).
fn zstd(input: &[u8], level: Option<i32>, out: &mut Vec<u8>) -> Result<(), RecordsError> {
    // zstd's level 0 means its default, 3: the same as Kafka's default.
    let mut encoder = zstd::stream::write::Encoder::new(out, level.unwrap_or(0))
        .map_err(|error| failed(Compression::Zstd, &error))?;
    encoder
        .set_pledged_src_size(u64::try_from(input.len()).ok())
        .and_then(|()| encoder.write_all(input))
        .and_then(|()| encoder.finish().map(|_| ()))
        .map_err(|error| failed(Compression::Zstd, &error))
}

fn gzip(input: &[u8], level: Option<i32>, out: &mut Vec<u8>) -> Result<(), RecordsError> {
    let level = match level.and_then(|l| u32::try_from(l).ok()) {
        Some(l) => flate2::Compression::new(l.clamp(1, 9)),
        None => flate2::Compression::default(),
    };
    let mut encoder = flate2::write::GzEncoder::new(out, level);
    encoder
        .write_all(input)
        .and_then(|()| encoder.try_finish())
        .map_err(|error| failed(Compression::Gzip, &error))
}

fn xerial_snappy(input: &[u8], out: &mut Vec<u8>) -> Result<(), RecordsError> {
    out.extend_from_slice(XERIAL_HEADER);
    let mut encoder = snap::raw::Encoder::new();
    for block in input.chunks(XERIAL_BLOCK_LEN) {
        let length_at = out.len();
        out.extend_from_slice(&[0; 4]);
        let start = out.len();
        out.resize(start + snap::raw::max_compress_len(block.len()), 0);
        let written = encoder
            .compress(block, out.get_mut(start..).unwrap_or_default())
            .map_err(|error| failed(Compression::Snappy, &error))?;
        out.truncate(start + written);
        let length = u32::try_from(written).map_err(|_| {
            failed(
                Compression::Snappy,
                &"a compressed block does not fit a 32-bit length",
            )
        })?;
        if let Some(slot) = out.get_mut(length_at..start) {
            slot.copy_from_slice(&length.to_be_bytes());
        }
    }
    Ok(())
}

fn lz4(input: &[u8], out: &mut Vec<u8>) -> Result<(), RecordsError> {
    // Java's KafkaLZ4BlockInputStream reads independent blocks only and no content size.
    let info = lz4_flex::frame::FrameInfo::new()
        .block_size(lz4_flex::frame::BlockSize::Max64KB)
        .block_mode(lz4_flex::frame::BlockMode::Independent);
    let mut encoder = lz4_flex::frame::FrameEncoder::with_frame_info(info, out);
    encoder
        .write_all(input)
        .map_err(|error| failed(Compression::Lz4, &error))?;
    encoder
        .finish()
        .map(|_| ())
        .map_err(|error| failed(Compression::Lz4, &error))
}

fn failed(codec: Compression, error: &dyn std::fmt::Display) -> RecordsError {
    RecordsError::Compression {
        codec,
        detail: error.to_string(),
    }
}
