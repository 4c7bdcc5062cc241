use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use skiff_meta::IndexEntry;
use skiff_meta::index_entry::TxnMarker;
use skiff_records::ControlMarker;
use skiff_storage::ObjectPath as Path;
use skiff_storage::{ChunkCache, ChunkKey, SegmentStore, StorageError};

use super::partition_read::PlannedEntry;
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

    /// Where the objects are, for people (DescribeLogDirs' log directory).
    pub fn store_description(&self) -> String {
        self.store.describe()
    }

    /// The bytes of one entry. On a miss, a segment this broker is still committing is read
    /// from memory; anything else costs exactly one ranged GET, shared by concurrent readers.
    pub async fn entry_bytes(&self, planned: &PlannedEntry) -> Result<Bytes, StorageError> {
        if let Some(marker) = planned.marker {
            return Ok(marker_batch(marker));
        }
        let (object_id, object_key, entry) = (
            planned.object_id,
            planned.object_key.as_str(),
            planned.entry,
        );
        let real_offsets = planned.real_offsets;
        // A segment still being committed is read from memory before the cache is asked. The
        // committer fills the cache first and forgets the segment after, so in this order a
        // reader cannot miss both; asked the other way round, a lookup that falls through to
        // the disk tier can outlast the fill and the removal and end in a GET.
        if let Some(raw) = self
            .recent
            .get(object_key)
            .and_then(|s| s.copy_range(entry.position, u64::from(entry.len)))
        {
            return patch_for_readers(raw, &entry, object_key, real_offsets);
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
                patch_for_readers(raw, &entry, &object_key, real_offsets)
            })
            .await
    }
}

/// A transaction marker's control batch, built from its index entry (78 bytes, once per
/// marker read: markers are one per transaction and partition, not per record).
pub fn marker_batch(marker: TxnMarker) -> Bytes {
    Bytes::copy_from_slice(&skiff_records::control_batch(&ControlMarker {
        offset: marker.offset,
        producer_id: marker.producer_id,
        producer_epoch: marker.producer_epoch,
        commit: marker.commit,
        timestamp: marker.timestamp,
        coordinator_epoch: TxnMarker::COORDINATOR_EPOCH,
    }))
}

/// Gives a flushed segment's batches their offsets from the index entry, or checks that a
/// rewritten object's batches (which carry their real offsets) lie inside the entry.
fn patch_for_readers(
    raw: BytesMut,
    entry: &IndexEntry,
    object_key: &str,
    real_offsets: bool,
) -> Result<Bytes, StorageError> {
    let mut raw = raw;
    let checked = if real_offsets {
        skiff_records::check_run_offsets(&raw, entry.base_offset, entry.last_offset)
    } else {
        skiff_records::assign_run_offsets(&mut raw, entry.base_offset, entry.last_offset)
    };
    checked.map_err(|e| StorageError::Other {
        operation: "read",
        path: object_key.to_string(),
        reason: format!("stored batches do not match the index: {e}"),
    })?;
    Ok(raw.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;
    use skiff_meta::ControllerState;

    #[test]
    fn a_marker_entry_is_planned_without_an_object_and_read_as_its_control_batch() {
        let marker = TxnMarker {
            offset: 12,
            producer_id: 1000,
            producer_epoch: 2,
            commit: false,
            timestamp: 1_700_000_000_000,
        };
        let entry = IndexEntry::marker(marker);
        let planned = PlannedEntry::new(&ControllerState::default(), &entry)
            .expect("planned without an object");
        assert_eq!(planned.marker, Some(marker));
        let bytes = marker_batch(marker);
        assert_eq!(
            bytes.len(),
            entry.len as usize,
            "the entry counts the batch's bytes"
        );
        let batch = skiff_records::BatchView::new(&bytes).expect("a batch");
        batch.verify_crc().expect("valid CRC");
        assert!(batch.is_control() && batch.is_transactional());
        assert_eq!((batch.base_offset(), batch.producer_id()), (12, 1000));
        // The fetch path cuts it like any stored batch.
        let (slice, full) = crate::fetch::slice_batches(&bytes, 12, i64::MAX, 1 << 20, false);
        assert_eq!((slice.len(), full), (bytes.len(), false));
    }
}
