//! The segment object format: one object per broker flush, many partitions each.
//!
//! Layout (all integers big-endian):
//!
//! ```text
//! header   magic "SKIFFSEG" | format version u16 | flags u16
//! chunks   one per (topic id, partition): record batches back to back, exactly as produced
//! footer   format version u16 | flags u16 | broker id i32 | created ms i64 | chunk count u32
//!          | chunk entries (fixed size, see CHUNK_ENTRY_LEN)
//! trailer  footer length u32 | footer CRC-32C u32 | magic "SKIFFSEG"
//! ```
//!
//! The footer repeats the format version because a reader fetches only the object's tail.

mod footer;
mod path;
mod writer;

pub use footer::decode_footer;
pub use path::segment_path;
pub use writer::{EncodedSegment, SegmentBuilder};

use uuid::Uuid;

/// Leading and trailing magic of every segment object.
pub const MAGIC: [u8; 8] = *b"SKIFFSEG";
/// The only format version this crate writes and reads.
pub const FORMAT_VERSION: u16 = 1;
/// magic + version + flags.
pub const HEADER_LEN: u64 = 8 + 2 + 2;
/// footer length + footer CRC + magic.
pub const TRAILER_LEN: u64 = 4 + 4 + 8;
/// version + flags + broker id + created ms + chunk count.
pub const FOOTER_FIXED_LEN: u64 = 2 + 2 + 4 + 8 + 4;
/// topic id + partition + position + length + batch count + record count + min ts + max ts.
pub const CHUNK_ENTRY_LEN: u64 = 16 + 4 + 8 + 8 + 4 + 4 + 8 + 8;
/// How many tail bytes a reader asks for first; holds the footer of ~1,000 chunks.
pub const FOOTER_READ_GUESS: u64 = 64 * 1024;
/// Upper bound on a footer a reader will fetch (about a million chunks), so a corrupted
/// trailer cannot make a reader allocate gigabytes.
pub const MAX_FOOTER_LEN: u64 = 64 * 1024 * 1024;

/// What the broker knows about one partition's chunk before it is placed in an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkMeta {
    pub topic_id: Uuid,
    pub partition: u32,
    pub batch_count: u32,
    pub record_count: u32,
    pub min_timestamp: i64,
    pub max_timestamp: i64,
}

/// A chunk's metadata and where its bytes sit inside the object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkLocation {
    pub meta: ChunkMeta,
    /// Byte offset of the chunk from the start of the object.
    pub position: u64,
    pub len: u64,
}

impl ChunkLocation {
    /// The chunk's byte range within the object, ready for a ranged GET.
    pub fn range(&self) -> std::ops::Range<u64> {
        self.position..self.position.saturating_add(self.len)
    }
}

/// The decoded footer of a segment object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentFooter {
    pub broker_id: i32,
    pub created_ms: i64,
    pub chunks: Vec<ChunkLocation>,
}

impl SegmentFooter {
    /// The chunk of one partition, if this segment holds it.
    pub fn find_chunk(&self, topic_id: Uuid, partition: u32) -> Option<&ChunkLocation> {
        self.chunks
            .iter()
            .find(|c| c.meta.topic_id == topic_id && c.meta.partition == partition)
    }
}
