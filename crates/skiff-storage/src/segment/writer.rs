use bytes::Bytes;

use super::footer::encode_footer_and_trailer;
use super::{ChunkLocation, ChunkMeta, FORMAT_VERSION, HEADER_LEN, MAGIC};

const HEADER: [u8; HEADER_LEN as usize] = {
    let version = FORMAT_VERSION.to_be_bytes();
    [
        MAGIC[0], MAGIC[1], MAGIC[2], MAGIC[3], MAGIC[4], MAGIC[5], MAGIC[6], MAGIC[7], version[0],
        version[1], 0, 0,
    ]
};

/// Assembles one segment object from partition chunks without copying chunk bytes:
/// the pieces handed in are carried through to the upload as they are.
#[derive(Debug)]
pub struct SegmentBuilder {
    broker_id: i32,
    created_ms: i64,
    parts: Vec<Bytes>,
    chunks: Vec<ChunkLocation>,
    len: u64,
}

impl SegmentBuilder {
    pub fn new(broker_id: i32, created_ms: i64) -> Self {
        Self {
            broker_id,
            created_ms,
            parts: vec![Bytes::from_static(&HEADER)],
            chunks: Vec::new(),
            len: HEADER_LEN,
        }
    }

    /// Appends one partition's chunk; `pieces` concatenated are the chunk's bytes.
    ///
    /// The format expects one chunk per (topic id, partition) per segment; the broker's
    /// pending segment groups batches by partition before calling this.
    pub fn push_chunk(&mut self, meta: ChunkMeta, pieces: Vec<Bytes>) {
        let position = self.len;
        let mut chunk_len = 0u64;
        for piece in pieces {
            chunk_len += piece.len() as u64;
            // Empty pieces add nothing to the object but would cost a slot in the upload.
            if !piece.is_empty() {
                self.parts.push(piece);
            }
        }
        self.len += chunk_len;
        self.chunks.push(ChunkLocation {
            meta,
            position,
            len: chunk_len,
        });
    }

    /// Number of chunks pushed so far.
    pub fn chunk_count(&self) -> usize {
        self.chunks.len()
    }

    /// Bytes the object will have without its footer and trailer.
    pub fn data_len(&self) -> u64 {
        self.len
    }

    pub fn finish(self) -> EncodedSegment {
        let Self {
            broker_id,
            created_ms,
            mut parts,
            chunks,
            len,
        } = self;
        let tail = encode_footer_and_trailer(broker_id, created_ms, &chunks);
        let len = len + tail.len() as u64;
        parts.push(tail);
        EncodedSegment { parts, len, chunks }
    }
}

/// A finished segment: the object's bytes as zero-copy parts plus the chunk index.
#[derive(Debug, Clone)]
pub struct EncodedSegment {
    /// Header, chunk pieces in order, then footer and trailer; ready for `PutPayload`.
    pub parts: Vec<Bytes>,
    /// Total object length in bytes.
    pub len: u64,
    pub chunks: Vec<ChunkLocation>,
}

impl EncodedSegment {
    /// The whole object as one contiguous buffer. Copies every byte: meant for tests and
    /// tools, never for the flush path.
    pub fn to_contiguous(&self) -> Bytes {
        let mut out = Vec::with_capacity(usize::try_from(self.len).unwrap_or(0));
        for part in &self.parts {
            out.extend_from_slice(part);
        }
        Bytes::from(out)
    }
}
