use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use skiff_controller::IndexEntry;
use skiff_records::RecordsError;
use skiff_storage::ObjectPath as Path;
use skiff_storage::{ChunkCache, ChunkKey, SegmentStore, StorageError};
use thiserror::Error;

use crate::produce::RecentSegments;

/// Reads index entries' bytes, with real offsets patched in, through the cache.
#[derive(Clone)]
pub struct ChunkSource {
    cache: ChunkCache,
    store: SegmentStore,
    recent: Arc<RecentSegments>,
}

impl ChunkSource {
    pub fn new(cache: ChunkCache, store: SegmentStore, recent: Arc<RecentSegments>) -> Self {
        ChunkSource {
            cache,
            store,
            recent,
        }
    }

    /// The bytes of one entry. On a miss, a segment this broker is still committing is read
    /// from memory; anything else costs exactly one ranged GET, shared by concurrent readers.
    pub async fn entry_bytes(
        &self,
        object_id: u64,
        object_key: &str,
        entry: IndexEntry,
    ) -> Result<Bytes, StorageError> {
        // A segment still being committed is read from memory before the cache is asked. The
        // committer fills the cache first and forgets the segment after, so in this order a
        // reader cannot miss both; asked the other way round, a lookup that falls through to
        // the disk tier can outlast the fill and the removal and end in a GET.
        if let Some(raw) = self
            .recent
            .get(object_key)
            .and_then(|s| s.copy_range(entry.position, u64::from(entry.len)))
        {
            return patch_for_readers(raw, &entry, object_key);
        }
        let key = ChunkKey {
            object_id,
            position: entry.position,
        };
        let store = self.store.clone();
        let recent = self.recent.clone();
        let object_key = object_key.to_string();
        self.cache
            .get_or_fetch(key, move || async move {
                let len = u64::from(entry.len);
                let raw = match recent
                    .get(&object_key)
                    .and_then(|s| s.copy_range(entry.position, len))
                {
                    Some(bytes) => bytes,
                    None => {
                        let path = Path::from(object_key.as_str());
                        let fetched = store
                            .get_range(&path, entry.position..entry.position + len)
                            .await?;
                        BytesMut::from(fetched)
                    }
                };
                patch_for_readers(raw, &entry, &object_key)
            })
            .await
    }
}

fn patch_for_readers(
    raw: BytesMut,
    entry: &IndexEntry,
    object_key: &str,
) -> Result<Bytes, StorageError> {
    patch_entry(raw, entry).map_err(|e| StorageError::Other {
        operation: "read",
        path: object_key.to_string(),
        reason: format!("stored batches do not match the index: {e}"),
    })
}

/// Stored bytes that disagree with the index entry describing them.
#[derive(Debug, Error)]
pub enum PatchError {
    #[error("entry holds {actual} bytes, the index says {expected}")]
    Length { actual: usize, expected: u32 },
    #[error("batches end at offset {actual}, the index says {expected}")]
    LastOffset { actual: i64, expected: i64 },
    #[error(transparent)]
    Records(#[from] RecordsError),
}

/// Writes the entry's real offsets into its batches and checks they end where the index says.
pub fn patch_entry(mut bytes: BytesMut, entry: &IndexEntry) -> Result<Bytes, PatchError> {
    if bytes.len() != entry.len as usize {
        return Err(PatchError::Length {
            actual: bytes.len(),
            expected: entry.len,
        });
    }
    let next = skiff_records::assign_offsets(&mut bytes, entry.base_offset)?;
    if next != entry.last_offset + 1 {
        return Err(PatchError::LastOffset {
            actual: next - 1,
            expected: entry.last_offset,
        });
    }
    Ok(bytes.freeze())
}
