//! Objects put into and listed from a real store, for the GC and lifecycle tests.

use bytes::Bytes;
use skiff_storage::{EncodedSegment, ObjectPath, SegmentStore};

/// Puts `body` at `key` as a segment with no chunk index.
pub async fn put_object(store: &SegmentStore, key: &str, body: &'static [u8]) {
    store
        .put_segment(
            &ObjectPath::from(key),
            EncodedSegment {
                parts: vec![Bytes::from_static(body)],
                len: body.len() as u64,
                chunks: Vec::new(),
            },
        )
        .await
        .expect("put");
}

/// Every key under `segments/`, sorted.
pub async fn segment_keys(store: &SegmentStore) -> Vec<String> {
    let mut keys: Vec<String> = store
        .list(&ObjectPath::from("segments"))
        .await
        .expect("list")
        .into_iter()
        .map(|o| o.path.to_string())
        .collect();
    keys.sort();
    keys
}
