use std::collections::HashMap;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use parking_lot::Mutex;

/// One chunk of a just-flushed segment: where it sits in the object and its bytes as received.
pub(crate) struct RecentChunk {
    pub position: u64,
    pub len: u64,
    pub pieces: Vec<Bytes>,
}

/// The bytes of a segment this broker uploaded, kept from upload until its chunks are in the
/// cache. A consumer that sees the commit before the cache is filled reads from here instead
/// of issuing a GET for data that is still in memory.
pub(crate) struct RecentSegment {
    pub chunks: Vec<RecentChunk>,
}

impl RecentSegment {
    /// Copies `len` bytes starting at object `position`, if they lie within one chunk.
    pub fn copy_range(&self, position: u64, len: u64) -> Option<BytesMut> {
        let chunk = self
            .chunks
            .iter()
            .find(|c| c.position <= position && position + len <= c.position + c.len)?;
        let mut skip = (position - chunk.position) as usize;
        let mut remaining = len as usize;
        let mut out = BytesMut::with_capacity(remaining);
        for piece in &chunk.pieces {
            if remaining == 0 {
                break;
            }
            if skip >= piece.len() {
                skip -= piece.len();
                continue;
            }
            let take = (piece.len() - skip).min(remaining);
            out.extend_from_slice(&piece[skip..skip + take]);
            remaining -= take;
            skip = 0;
        }
        (remaining == 0).then_some(out)
    }
}

/// Segments between upload and cache fill, by object key. Holds at most the in-flight flushes.
#[derive(Default)]
pub struct RecentSegments {
    by_key: Mutex<HashMap<String, Arc<RecentSegment>>>,
}

impl RecentSegments {
    pub(crate) fn insert(&self, key: String, segment: Arc<RecentSegment>) {
        self.by_key.lock().insert(key, segment);
    }

    pub(crate) fn remove(&self, key: &str) {
        self.by_key.lock().remove(key);
    }

    pub(crate) fn get(&self, key: &str) -> Option<Arc<RecentSegment>> {
        self.by_key.lock().get(key).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_ranges_across_piece_boundaries() {
        let segment = RecentSegment {
            chunks: vec![
                RecentChunk {
                    position: 10,
                    len: 4,
                    pieces: vec![Bytes::from_static(b"abcd")],
                },
                RecentChunk {
                    position: 14,
                    len: 6,
                    pieces: vec![Bytes::from_static(b"ef"), Bytes::from_static(b"ghij")],
                },
            ],
        };
        assert_eq!(&segment.copy_range(15, 4).unwrap()[..], b"fghi");
        assert_eq!(&segment.copy_range(10, 4).unwrap()[..], b"abcd");
        assert_eq!(&segment.copy_range(14, 6).unwrap()[..], b"efghij");
        assert!(
            segment.copy_range(12, 4).is_none(),
            "ranges never span chunks"
        );
        assert!(segment.copy_range(18, 5).is_none());
    }
}
