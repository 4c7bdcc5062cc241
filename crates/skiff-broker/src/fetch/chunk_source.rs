use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use skiff_meta::IndexEntry;
use skiff_storage::ObjectPath as Path;
use skiff_storage::{ChunkCache, ChunkKey, SegmentStore, StorageError};

use crate::recent_segments::RecentSegments;

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
    let mut raw = raw;
    skiff_records::assign_run_offsets(&mut raw, entry.base_offset, entry.last_offset).map_err(
        |e| StorageError::Other {
            operation: "read",
            path: object_key.to_string(),
            reason: format!("stored batches do not match the index: {e}"),
        },
    )?;
    Ok(raw.freeze())
}
