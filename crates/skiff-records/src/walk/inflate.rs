//! Streaming decompression for record walks: each codec hands out its output a buffer at a
//! time, so a walk never holds a whole decompressed batch (snappy blocks excepted: a block is
//! decompressed whole, after its declared size is checked against the limit).

use std::io::Read;

use crate::batch::Compression;
use crate::compression::{XERIAL_HEADER_LEN, XERIAL_MAGIC, zstd_decoder};
use crate::error::RecordError;

/// A decompressor over a batch's records section.
pub(crate) enum Inflater<'a> {
    Gzip(flate2::read::MultiGzDecoder<&'a [u8]>),
    Lz4(lz4_flex::frame::FrameDecoder<&'a [u8]>),
    /// Reads concatenated frames one after another, as a records section may hold several.
    Zstd(Box<zstd::stream::read::Decoder<'a, &'a [u8]>>),
    Snappy(SnappyBlocks<'a>),
    /// Framing found broken before decompressing: fails on first read.
    Broken(Compression, &'static str),
}

impl<'a> Inflater<'a> {
    /// `limit` is the most output the walk accepts; codecs that must allocate a whole block
    /// check its declared size against it first.
    pub(crate) fn new(codec: Compression, input: &'a [u8], limit: usize) -> Option<Self> {
        Some(match codec {
            Compression::None => return None,
            Compression::Gzip => Inflater::Gzip(flate2::read::MultiGzDecoder::new(input)),
            Compression::Lz4 => match lz4_frames_end_properly(input) {
                Ok(()) => Inflater::Lz4(lz4_flex::frame::FrameDecoder::new(input)),
                Err(detail) => Inflater::Broken(Compression::Lz4, detail),
            },
            Compression::Zstd => match zstd_decoder(input, limit) {
                Ok(decoder) => Inflater::Zstd(Box::new(decoder)),
                Err(_) => Inflater::Broken(Compression::Zstd, "cannot set up a zstd decoder"),
            },
            Compression::Snappy => Inflater::Snappy(SnappyBlocks {
                xerial: input.starts_with(XERIAL_MAGIC),
                rest: input,
                block: Vec::new(),
                position: 0,
                produced: 0,
                limit,
            }),
        })
    }

    pub(crate) fn codec(&self) -> Compression {
        match self {
            Inflater::Gzip(_) => Compression::Gzip,
            Inflater::Lz4(_) => Compression::Lz4,
            Inflater::Zstd(_) => Compression::Zstd,
            Inflater::Snappy(_) => Compression::Snappy,
            Inflater::Broken(codec, _) => *codec,
        }
    }

    /// Fills the front of `out`; 0 means the stream ended.
    pub(crate) fn read(&mut self, out: &mut [u8]) -> Result<usize, RecordError> {
        let codec = self.codec();
        let failed = |error: std::io::Error| RecordError::Decompression {
            codec,
            detail: error.to_string(),
        };
        match self {
            Inflater::Gzip(decoder) => decoder.read(out).map_err(failed),
            Inflater::Lz4(decoder) => decoder.read(out).map_err(failed),
            Inflater::Zstd(decoder) => decoder.read(out).map_err(failed),
            Inflater::Snappy(blocks) => blocks.read(out),
            Inflater::Broken(codec, detail) => Err(RecordError::Decompression {
                codec: *codec,
                detail: (*detail).to_owned(),
            }),
        }
    }
}

/// Snappy as clients send it: xerial framing (Java) or one raw block (librdkafka).
pub(crate) struct SnappyBlocks<'a> {
    xerial: bool,
    rest: &'a [u8],
    block: Vec<u8>,
    position: usize,
    produced: usize,
    limit: usize,
}

impl SnappyBlocks<'_> {
    fn read(&mut self, out: &mut [u8]) -> Result<usize, RecordError> {
        while self.position == self.block.len() {
            if self.rest.is_empty() {
                return Ok(0);
            }
            self.next_block()?;
        }
        let available = self.block.get(self.position..).unwrap_or_default();
        let n = available.len().min(out.len());
        if let (Some(to), Some(from)) = (out.get_mut(..n), available.get(..n)) {
            to.copy_from_slice(from);
        }
        self.position += n;
        Ok(n)
    }

    fn next_block(&mut self) -> Result<(), RecordError> {
        let compressed = if self.xerial {
            if self.rest.starts_with(XERIAL_MAGIC) {
                self.rest = self
                    .rest
                    .get(XERIAL_HEADER_LEN..)
                    .ok_or_else(|| snappy_error("truncated xerial header"))?;
                self.block.clear();
                self.position = 0;
                return Ok(());
            }
            let (length, after) = self
                .rest
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
            self.rest = after;
            block
        } else {
            std::mem::take(&mut self.rest)
        };
        if compressed.is_empty() {
            self.block.clear();
            self.position = 0;
            return Ok(());
        }
        let declared = snap::raw::decompress_len(compressed)
            .map_err(|error| snappy_error(&error.to_string()))?;
        // The declared size is the sender's word: check it before allocating for it.
        if self.produced.saturating_add(declared) > self.limit {
            return Err(RecordError::DecompressedTooLarge {
                codec: Compression::Snappy,
                limit: self.limit,
            });
        }
        self.block.resize(declared, 0);
        let written = snap::raw::Decoder::new()
            .decompress(compressed, &mut self.block)
            .map_err(|error| snappy_error(&error.to_string()))?;
        self.block.truncate(written);
        self.position = 0;
        self.produced += written;
        Ok(())
    }
}

fn snappy_error(detail: &str) -> RecordError {
    RecordError::Decompression {
        codec: Compression::Snappy,
        detail: detail.to_owned(),
    }
}

const LZ4_FRAME_MAGIC: [u8; 4] = [0x04, 0x22, 0x4d, 0x18];

/// Checks that the section is whole LZ4 frames, each closed by its end mark (and content
/// checksum when flagged). lz4_flex reads a frame cut off before its end mark as complete,
/// but Java's consumer fails on it, so such a batch must not be stored. Jumps from block size
/// to block size: cost per block, not per byte.
fn lz4_frames_end_properly(mut input: &[u8]) -> Result<(), &'static str> {
    const CUT_OFF: &str = "an LZ4 frame is cut off before its end mark";
    fn skip(input: &[u8], n: usize) -> Result<&[u8], &'static str> {
        input.get(n..).ok_or(CUT_OFF)
    }
    while !input.is_empty() {
        let (magic, rest) = input.split_first_chunk::<4>().ok_or(CUT_OFF)?;
        if *magic != LZ4_FRAME_MAGIC {
            return Err("the records section is not an LZ4 frame");
        }
        let (&[flags, _block_descriptor], mut rest) =
            rest.split_first_chunk::<2>().ok_or(CUT_OFF)?;
        let block_checksums = flags & 0x10 != 0;
        let content_size = flags & 0x08 != 0;
        let content_checksum = flags & 0x04 != 0;
        let dictionary = flags & 0x01 != 0;
        // Optional content size and dictionary id, then the header checksum byte.
        rest = skip(
            rest,
            usize::from(content_size) * 8 + usize::from(dictionary) * 4 + 1,
        )?;
        loop {
            let (size, after) = rest.split_first_chunk::<4>().ok_or(CUT_OFF)?;
            rest = after;
            let size = u32::from_le_bytes(*size);
            if size == 0 {
                break;
            }
            let len = usize::try_from(size & 0x7fff_ffff).map_err(|_| CUT_OFF)?;
            rest = skip(rest, len.saturating_add(usize::from(block_checksums) * 4))?;
        }
        input = skip(rest, usize::from(content_checksum) * 4)?;
    }
    Ok(())
}
