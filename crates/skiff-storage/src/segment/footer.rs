use bytes::Bytes;
use uuid::Uuid;

use super::{
    CHUNK_ENTRY_LEN, ChunkLocation, ChunkMeta, FOOTER_FIXED_LEN, FORMAT_VERSION, HEADER_LEN, MAGIC,
    MAX_FOOTER_LEN, SegmentFooter, TRAILER_LEN,
};
use crate::error::SegmentError;

/// Encodes the footer followed by the trailer as one buffer.
pub(super) fn encode_footer_and_trailer(
    broker_id: i32,
    created_ms: i64,
    chunks: &[ChunkLocation],
) -> Bytes {
    let footer_len = FOOTER_FIXED_LEN + CHUNK_ENTRY_LEN * chunks.len() as u64;
    let mut out = Vec::with_capacity((footer_len + TRAILER_LEN) as usize);
    out.extend_from_slice(&FORMAT_VERSION.to_be_bytes());
    out.extend_from_slice(&0u16.to_be_bytes());
    out.extend_from_slice(&broker_id.to_be_bytes());
    out.extend_from_slice(&created_ms.to_be_bytes());
    // A broker's pending segment is bounded by flush_bytes, so the chunk count and the footer
    // length stay far below u32::MAX; saturating keeps an impossible overflow from panicking
    // (the reader would reject such a footer).
    out.extend_from_slice(
        &u32::try_from(chunks.len())
            .unwrap_or(u32::MAX)
            .to_be_bytes(),
    );
    for chunk in chunks {
        let meta = &chunk.meta;
        out.extend_from_slice(meta.topic_id.as_bytes());
        out.extend_from_slice(&meta.partition.to_be_bytes());
        out.extend_from_slice(&chunk.position.to_be_bytes());
        out.extend_from_slice(&chunk.len.to_be_bytes());
        out.extend_from_slice(&meta.batch_count.to_be_bytes());
        out.extend_from_slice(&meta.record_count.to_be_bytes());
        out.extend_from_slice(&meta.min_timestamp.to_be_bytes());
        out.extend_from_slice(&meta.max_timestamp.to_be_bytes());
    }
    let crc = crc32c::crc32c(&out);
    out.extend_from_slice(&u32::try_from(footer_len).unwrap_or(u32::MAX).to_be_bytes());
    out.extend_from_slice(&crc.to_be_bytes());
    out.extend_from_slice(&MAGIC);
    Bytes::from(out)
}

/// Decodes the footer from the last `tail.len()` bytes of an `object_len`-byte object.
///
/// Returns [`SegmentError::NeedMoreTail`] when the footer starts before `tail`; the caller
/// then fetches that many bytes from the end and calls again.
pub fn decode_footer(tail: &[u8], object_len: u64) -> Result<SegmentFooter, SegmentError> {
    let min_len = HEADER_LEN + FOOTER_FIXED_LEN + TRAILER_LEN;
    if object_len < min_len {
        return Err(SegmentError::ObjectTooShort {
            object_len,
            min_len,
        });
    }
    let tail_len = tail.len() as u64;
    if tail_len > object_len {
        return Err(SegmentError::TailLongerThanObject {
            tail_len,
            object_len,
        });
    }
    if tail_len < TRAILER_LEN {
        return Err(SegmentError::NeedMoreTail {
            needed: TRAILER_LEN,
            have: tail_len,
        });
    }

    let mut trailer = Reader::new(&tail[tail.len() - TRAILER_LEN as usize..]);
    let footer_len = u64::from(trailer.u32()?);
    let stored_crc = trailer.u32()?;
    if trailer.array::<8>()? != MAGIC {
        return Err(SegmentError::BadMagic);
    }

    if footer_len > MAX_FOOTER_LEN {
        return Err(SegmentError::FooterTooLarge {
            footer_len,
            max_len: MAX_FOOTER_LEN,
        });
    }
    let entries_len = footer_len.checked_sub(FOOTER_FIXED_LEN);
    let fits = HEADER_LEN + footer_len + TRAILER_LEN <= object_len;
    let Some(entries_len) = entries_len.filter(|len| fits && len % CHUNK_ENTRY_LEN == 0) else {
        return Err(SegmentError::BadFooterLength {
            footer_len,
            object_len,
        });
    };
    let needed = footer_len + TRAILER_LEN;
    if tail_len < needed {
        return Err(SegmentError::NeedMoreTail {
            needed,
            have: tail_len,
        });
    }

    let footer = &tail[(tail_len - needed) as usize..(tail_len - TRAILER_LEN) as usize];
    let computed_crc = crc32c::crc32c(footer);
    if computed_crc != stored_crc {
        return Err(SegmentError::ChecksumMismatch {
            stored: stored_crc,
            computed: computed_crc,
        });
    }

    let mut reader = Reader::new(footer);
    let version = reader.u16()?;
    if version != FORMAT_VERSION {
        return Err(SegmentError::UnsupportedVersion(version));
    }
    let flags = reader.u16()?;
    if flags != 0 {
        return Err(SegmentError::UnsupportedFlags(flags));
    }
    let broker_id = reader.i32()?;
    let created_ms = reader.i64()?;
    let stated = reader.u32()?;
    let actual = entries_len / CHUNK_ENTRY_LEN;
    if u64::from(stated) != actual {
        return Err(SegmentError::ChunkCountMismatch { stated, actual });
    }

    let data_end = object_len - footer_len - TRAILER_LEN;
    let mut previous_end = HEADER_LEN;
    let mut chunks = Vec::with_capacity(actual as usize);
    for index in 0..actual as usize {
        let topic_id = Uuid::from_bytes(reader.array::<16>()?);
        let partition = reader.u32()?;
        let position = reader.u64()?;
        let len = reader.u64()?;
        let meta = ChunkMeta {
            topic_id,
            partition,
            batch_count: reader.u32()?,
            record_count: reader.u32()?,
            min_timestamp: reader.i64()?,
            max_timestamp: reader.i64()?,
        };
        let end = position.checked_add(len);
        if position < previous_end || end.is_none_or(|end| end > data_end) {
            return Err(SegmentError::ChunkOutOfBounds {
                index,
                position,
                len,
                data_start: HEADER_LEN,
                data_end,
            });
        }
        previous_end = position + len;
        chunks.push(ChunkLocation {
            meta,
            position,
            len,
        });
    }

    Ok(SegmentFooter {
        broker_id,
        created_ms,
        chunks,
    })
}

/// Big-endian cursor whose reads fail instead of panicking when the input runs out.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self { rest: bytes }
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], SegmentError> {
        let Some((head, rest)) = self.rest.split_first_chunk::<N>() else {
            return Err(SegmentError::FooterEndedEarly);
        };
        self.rest = rest;
        Ok(*head)
    }

    fn u16(&mut self) -> Result<u16, SegmentError> {
        self.array().map(u16::from_be_bytes)
    }

    fn u32(&mut self) -> Result<u32, SegmentError> {
        self.array().map(u32::from_be_bytes)
    }

    fn i32(&mut self) -> Result<i32, SegmentError> {
        self.array().map(i32::from_be_bytes)
    }

    fn u64(&mut self) -> Result<u64, SegmentError> {
        self.array().map(u64::from_be_bytes)
    }

    fn i64(&mut self) -> Result<i64, SegmentError> {
        self.array().map(i64::from_be_bytes)
    }
}
