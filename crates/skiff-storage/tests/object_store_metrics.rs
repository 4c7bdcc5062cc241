//! The `skiff_object_store_*` metrics: each request kind moves its own counters, byte counts
//! and latency histogram, through `MeteredStore` directly and through the store
//! `SegmentStore::open` builds.

use crate::support;

use std::sync::Arc;

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use skiff_storage::metric_names::{
    OBJECT_STORE_BYTES_TOTAL as BYTES, OBJECT_STORE_ERRORS_TOTAL as ERRORS,
    OBJECT_STORE_REQUEST_SECONDS as SECONDS, OBJECT_STORE_REQUESTS_TOTAL as REQUESTS,
};
use skiff_storage::{
    ChunkMeta, MeteredStore, SegmentBuilder, SegmentStore, StorageError, StoreConfig, segment_path,
};
use support::recorded::{Recorded, built_with_recorder};
use support::s3::{ensure_bucket, s3_config, s3_target, skip};
use uuid::Uuid;

fn metered_memory() -> (MeteredStore, metrics_util::debugging::Snapshotter) {
    built_with_recorder(|| MeteredStore::new(Arc::new(InMemory::new())))
}

fn pattern(len: usize) -> Bytes {
    Bytes::from((0..len).map(|i| (i % 251) as u8).collect::<Vec<_>>())
}

/// Asserts that exactly one request of `kind` was recorded, without error, and that the
/// counters of every other kind stayed still.
fn assert_one_clean_request(recorded: &Recorded, kind: &str, bytes: u64) {
    assert_eq!(recorded.counter(REQUESTS, kind), 1, "requests{{{kind}}}");
    assert_eq!(recorded.counter(ERRORS, kind), 0, "errors{{{kind}}}");
    assert_eq!(recorded.counter(BYTES, kind), bytes, "bytes{{{kind}}}");
    let samples = recorded.samples(SECONDS, kind);
    assert_eq!(samples.len(), 1, "latency samples for {kind}: {samples:?}");
    assert!(samples[0] >= 0.0 && samples[0] < 60.0, "{samples:?}");
    let mut expected = vec![(REQUESTS.to_string(), kind.to_string())];
    if bytes > 0 {
        expected.push((BYTES.to_string(), kind.to_string()));
    }
    expected.sort();
    assert_eq!(recorded.moved_counters(), expected);
}

#[tokio::test]
async fn put_get_range_head_list_and_delete_each_move_their_own_kind() {
    let (store, snapshotter) = metered_memory();
    let path = Path::from("segments/a.seg");
    let data = pattern(10_000);

    store
        .put(&path, PutPayload::from(data.clone()))
        .await
        .expect("put");
    assert_one_clean_request(&Recorded::take(&snapshotter), "put", 10_000);

    let whole = store
        .get(&path)
        .await
        .expect("get")
        .bytes()
        .await
        .expect("body");
    assert_eq!(whole, data);
    assert_one_clean_request(&Recorded::take(&snapshotter), "get", 10_000);

    let part = store.get_range(&path, 100..1_100).await.expect("get_range");
    assert_eq!(part, data.slice(100..1_100));
    assert_one_clean_request(&Recorded::take(&snapshotter), "get_range", 1_000);

    let meta = store.head(&path).await.expect("head");
    assert_eq!(meta.size, 10_000);
    assert_one_clean_request(&Recorded::take(&snapshotter), "head", 0);

    store
        .put(&Path::from("segments/b.seg"), PutPayload::from_static(b"b"))
        .await
        .expect("second put");
    Recorded::take(&snapshotter);
    let listed: Vec<_> = store
        .list(Some(&Path::from("segments")))
        .try_collect()
        .await
        .expect("list");
    assert_eq!(listed.len(), 2);
    assert_one_clean_request(&Recorded::take(&snapshotter), "list", 0);

    let with_delimiter = store
        .list_with_delimiter(Some(&Path::from("segments")))
        .await
        .expect("list_with_delimiter");
    assert_eq!(with_delimiter.objects.len(), 2);
    assert_one_clean_request(&Recorded::take(&snapshotter), "list", 0);

    store.delete(&path).await.expect("delete");
    assert_one_clean_request(&Recorded::take(&snapshotter), "delete", 0);
}

#[tokio::test]
async fn missing_objects_move_the_error_counter_of_their_kind() {
    let (store, snapshotter) = metered_memory();
    let missing = Path::from("segments/missing.seg");

    assert!(matches!(
        store.get(&missing).await,
        Err(object_store::Error::NotFound { .. })
    ));
    assert!(store.get_range(&missing, 0..10).await.is_err());
    assert!(store.head(&missing).await.is_err());

    let recorded = Recorded::take(&snapshotter);
    for kind in ["get", "get_range", "head"] {
        assert_eq!(recorded.counter(REQUESTS, kind), 1, "requests{{{kind}}}");
        assert_eq!(recorded.counter(ERRORS, kind), 1, "errors{{{kind}}}");
        assert_eq!(recorded.counter(BYTES, kind), 0, "bytes{{{kind}}}");
        assert_eq!(recorded.samples(SECONDS, kind).len(), 1, "{kind}");
    }
}

#[tokio::test]
async fn a_get_is_timed_until_its_body_is_read() {
    let (store, snapshotter) = metered_memory();
    let path = Path::from("x");
    store
        .put(&path, PutPayload::from(pattern(4_096)))
        .await
        .expect("put");
    Recorded::take(&snapshotter);

    let response = store.get(&path).await.expect("get");
    let in_flight = Recorded::take(&snapshotter);
    assert_eq!(in_flight.counter(REQUESTS, "get"), 1, "counted when issued");
    assert!(
        in_flight.samples(SECONDS, "get").is_empty(),
        "latency recorded before the body was read"
    );

    let body = response.bytes().await.expect("body");
    let done = Recorded::take(&snapshotter);
    assert_eq!(done.samples(SECONDS, "get").len(), 1);
    assert_eq!(done.counter(BYTES, "get"), body.len() as u64);
    assert_eq!(done.counter(REQUESTS, "get"), 0, "not counted twice");
}

#[tokio::test]
async fn a_body_dropped_unread_is_recorded_once_without_error() {
    let (store, snapshotter) = metered_memory();
    let path = Path::from("x");
    store
        .put(&path, PutPayload::from(pattern(100)))
        .await
        .expect("put");
    Recorded::take(&snapshotter);

    drop(store.get(&path).await.expect("get"));
    let recorded = Recorded::take(&snapshotter);
    assert_eq!(recorded.counter(REQUESTS, "get"), 1);
    assert_eq!(recorded.counter(ERRORS, "get"), 0);
    assert_eq!(recorded.counter(BYTES, "get"), 0, "nothing was read");
    assert_eq!(recorded.samples(SECONDS, "get").len(), 1);
}

#[tokio::test]
async fn a_multipart_upload_is_one_put_and_an_aborted_one_is_an_error() {
    let (store, snapshotter) = metered_memory();

    let mut upload = store
        .put_multipart(&Path::from("big"))
        .await
        .expect("start upload");
    upload
        .put_part(PutPayload::from(pattern(300)))
        .await
        .expect("part 1");
    upload
        .put_part(PutPayload::from(pattern(200)))
        .await
        .expect("part 2");
    upload.complete().await.expect("complete");
    assert_one_clean_request(&Recorded::take(&snapshotter), "put", 500);
    assert_eq!(
        store.head(&Path::from("big")).await.expect("head").size,
        500
    );
    Recorded::take(&snapshotter);

    let mut upload = store
        .put_multipart(&Path::from("abandoned"))
        .await
        .expect("start upload");
    upload
        .put_part(PutPayload::from(pattern(10)))
        .await
        .expect("part");
    upload.abort().await.expect("abort");
    drop(upload);
    let recorded = Recorded::take(&snapshotter);
    assert_eq!(recorded.counter(REQUESTS, "put"), 1);
    assert_eq!(
        recorded.counter(ERRORS, "put"),
        1,
        "recorded once, as failed"
    );
    assert_eq!(recorded.counter(BYTES, "put"), 0);
}

fn one_chunk_segment(len: usize) -> skiff_storage::EncodedSegment {
    let mut builder = SegmentBuilder::new(3, 1_700_000_000_000);
    builder.push_chunk(
        ChunkMeta {
            topic_id: Uuid::from_u128(7),
            partition: 0,
            batch_count: 1,
            record_count: 1,
            min_timestamp: 1,
            max_timestamp: 1,
        },
        vec![pattern(len)],
    );
    builder.finish()
}

/// Drives a segment through the store `SegmentStore::open` built, proving the wrapper is
/// applied there: the file store answers gets with local files, the memory store with
/// streams, and both must be metered the same way.
async fn segment_round_trip_is_metered(url: String) {
    let (store, snapshotter) =
        built_with_recorder(|| SegmentStore::open(&StoreConfig::for_url(url)).expect("open"));
    let path = segment_path(3, 1_700_000_000_000);
    let segment = one_chunk_segment(5_000);
    let object_len = segment.len;

    store.put_segment(&path, segment).await.expect("put");
    assert_one_clean_request(&Recorded::take(&snapshotter), "put", object_len);

    let footer = store.read_footer(&path).await.expect("footer");
    let footer_read = Recorded::take(&snapshotter);
    assert_eq!(footer_read.counter(REQUESTS, "get_range"), 1);
    assert_eq!(
        footer_read.counter(BYTES, "get_range"),
        object_len.min(64 * 1024)
    );

    let chunk = &footer.chunks[0];
    let bytes = store.read_chunk(&path, chunk).await.expect("chunk");
    assert_eq!(bytes, pattern(5_000));
    assert_one_clean_request(&Recorded::take(&snapshotter), "get_range", 5_000);

    let listed = store.list(&Path::from("segments")).await.expect("list");
    assert_eq!(listed.len(), 1);
    assert_one_clean_request(&Recorded::take(&snapshotter), "list", 0);

    match store.get_range(&path, object_len..object_len + 10).await {
        Err(StorageError::Other { .. } | StorageError::NotFound { .. }) => {}
        other => panic!("reading past the end should fail, got {other:?}"),
    }
    let failed = Recorded::take(&snapshotter);
    assert_eq!(failed.counter(REQUESTS, "get_range"), 1);
    assert_eq!(failed.counter(ERRORS, "get_range"), 1);

    store.delete(&path).await.expect("delete");
    assert_one_clean_request(&Recorded::take(&snapshotter), "delete", 0);
}

#[tokio::test]
async fn segment_store_meters_the_memory_backend() {
    segment_round_trip_is_metered("memory://".to_string()).await;
}

#[tokio::test]
async fn segment_store_meters_the_file_backend() {
    let dir = tempfile::tempdir().expect("tempdir");
    segment_round_trip_is_metered(format!("file://{}", dir.path().display())).await;
}

#[tokio::test]
async fn the_startup_probe_is_one_head_that_finds_nothing() {
    let (store, snapshotter) = built_with_recorder(|| {
        SegmentStore::open(&StoreConfig::for_url("memory://")).expect("open")
    });
    store.check().await.expect("check");
    let recorded = Recorded::take(&snapshotter);
    assert_eq!(recorded.counter(REQUESTS, "head"), 1);
    // The probe key never exists, so the store answers NotFound: counted as the error it is.
    assert_eq!(recorded.counter(ERRORS, "head"), 1);
}

#[tokio::test]
async fn segment_store_meters_the_s3_backend() {
    let Some(target) = s3_target() else {
        return skip();
    };
    ensure_bucket(&target).await;
    let prefix = format!("metrics-{}", ulid::Ulid::new());
    let url = s3_config(&target, &prefix).url;
    let (store, snapshotter) =
        built_with_recorder(|| SegmentStore::open(&s3_config(&target, &prefix)).expect("open"));
    assert!(store.describe().starts_with(&url), "{}", store.describe());
    let path = segment_path(3, 1_700_000_000_000);
    let segment = one_chunk_segment(5_000);
    let object_len = segment.len;

    store.put_segment(&path, segment).await.expect("put");
    assert_one_clean_request(&Recorded::take(&snapshotter), "put", object_len);
    let footer = store.read_footer(&path).await.expect("footer");
    let bytes = store
        .read_chunk(&path, &footer.chunks[0])
        .await
        .expect("chunk");
    assert_eq!(bytes, pattern(5_000));
    let reads = Recorded::take(&snapshotter);
    assert_eq!(reads.counter(REQUESTS, "get_range"), 2, "footer and chunk");
    assert_eq!(reads.counter(BYTES, "get_range"), object_len + 5_000);
    assert_eq!(reads.samples(SECONDS, "get_range").len(), 2);

    assert!(matches!(
        store
            .get_range(&Path::from("segments/none.seg"), 0..10)
            .await,
        Err(StorageError::NotFound { .. })
    ));
    let missing = Recorded::take(&snapshotter);
    assert_eq!(missing.counter(ERRORS, "get_range"), 1);

    store.delete(&path).await.expect("delete");
    assert_one_clean_request(&Recorded::take(&snapshotter), "delete", 0);
}
