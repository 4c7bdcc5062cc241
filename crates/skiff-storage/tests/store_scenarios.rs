//! One store scenario run against three backends: memory://, file:// (a temp dir), and a real
//! S3-compatible server when SKIFF_TEST_S3_ENDPOINT is set (bucket from SKIFF_TEST_S3_BUCKET,
//! default "skiff-test"; credentials from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, default "test").

use crate::support;

use std::time::{Duration, Instant};

use bytes::Bytes;
use skiff_storage::{
    ChunkMeta, EncodedSegment, ObjectPath, SegmentBuilder, SegmentError, SegmentStore,
    StorageError, StoreConfig, segment_path,
};
use support::s3::{S3Target, ensure_bucket, s3_config, s3_target, skip};
use uuid::Uuid;

fn meta(i: u32) -> ChunkMeta {
    ChunkMeta {
        topic_id: Uuid::from_u128(0x5EED_0000 + u128::from(i)),
        partition: i,
        batch_count: 1 + i,
        record_count: 10 * (1 + i),
        min_timestamp: 1_000 + i64::from(i),
        max_timestamp: 2_000 + i64::from(i),
    }
}

fn filler(seed: u8, len: usize) -> Bytes {
    Bytes::from(
        (0..len)
            .map(|i| seed.wrapping_add(i as u8))
            .collect::<Vec<_>>(),
    )
}

/// A segment of `chunks` chunks, each made of several pieces; returns each chunk's bytes too.
fn multi_part_segment(chunks: u32, piece_len: usize) -> (EncodedSegment, Vec<Vec<u8>>) {
    let mut builder = SegmentBuilder::new(9, 1_700_000_000_000);
    let mut expected = Vec::new();
    for i in 0..chunks {
        let pieces = vec![
            filler(i as u8, piece_len),
            filler(i as u8 ^ 0x55, piece_len / 2 + 1),
        ];
        expected.push(pieces.iter().flat_map(|p| p.iter().copied()).collect());
        builder.push_chunk(meta(i), pieces);
    }
    (builder.finish(), expected)
}

/// The shared scenario: every backend must behave the same way.
async fn run_scenario(store: &SegmentStore) {
    store.check().await.expect("store reachable");
    assert!(!store.describe().is_empty());

    let now_ms = 1_700_000_000_000;
    let path = segment_path(9, now_ms);
    let (segment, expected_chunks) = multi_part_segment(3, 700);
    assert!(segment.parts.len() > 3, "a multi-part upload");
    let whole = segment.to_contiguous();
    let chunks = segment.chunks.clone();

    store
        .put_segment(&path, segment.clone())
        .await
        .expect("first PUT");

    // Create-only: a second PUT to the same path is refused and the object is unchanged.
    match store.put_segment(&path, multi_part_segment(1, 10).0).await {
        Err(StorageError::AlreadyExists { path: reported }) => {
            assert_eq!(reported, path.to_string())
        }
        other => panic!("second PUT should be AlreadyExists, got {other:?}"),
    }
    let read_back = store
        .get_range(&path, 0..whole.len() as u64)
        .await
        .expect("whole object");
    assert_eq!(read_back, whole);

    // Footer: exactly one ranged GET for a small footer.
    let before = store.stats();
    let footer = store.read_footer(&path).await.expect("footer");
    assert_eq!(store.stats().get_ranges - before.get_ranges, 1);
    assert_eq!(footer.chunks, chunks);
    assert_eq!(
        (footer.broker_id, footer.created_ms),
        (9, 1_700_000_000_000)
    );

    // Then exactly the chunk needed.
    for (chunk, expected) in footer.chunks.iter().zip(&expected_chunks) {
        let bytes = store.read_chunk(&path, chunk).await.expect("chunk");
        assert_eq!(bytes.as_ref(), expected.as_slice());
    }
    let middle = store.get_range(&path, 20..45).await.expect("inner range");
    assert_eq!(middle, whole.slice(20..45));
    assert!(
        store
            .get_range(&path, 7..7)
            .await
            .expect("empty range")
            .is_empty()
    );

    // A footer bigger than the first suffix read costs exactly one more GET.
    let big_path = segment_path(9, now_ms + 1);
    let (big, _) = multi_part_segment(1_500, 2);
    let big_chunks = big.chunks.clone();
    store
        .put_segment(&big_path, big)
        .await
        .expect("PUT big footer");
    let before = store.stats();
    let big_footer = store.read_footer(&big_path).await.expect("big footer");
    assert_eq!(store.stats().get_ranges - before.get_ranges, 2);
    assert_eq!(big_footer.chunks, big_chunks);

    // Reads past the end and of missing objects are errors, not short answers.
    let past_end = store
        .get_range(&path, whole.len() as u64 - 4..whole.len() as u64 + 10)
        .await;
    assert!(past_end.is_err(), "read past the end returned {past_end:?}");
    let missing = ObjectPath::from("segments/1999-01-01/missing.seg");
    assert!(matches!(
        store.get_range(&missing, 0..10).await,
        Err(StorageError::NotFound { .. })
    ));
    assert!(matches!(
        store.read_footer(&missing).await,
        Err(SegmentError::Storage(StorageError::NotFound { .. }))
    ));

    // An object that is not a segment gives a format error.
    let junk_path = ObjectPath::from("segments/junk.seg");
    let junk_bytes = Bytes::from(b"this is definitely not a Skiff segment object. ".repeat(3));
    let junk = EncodedSegment {
        len: junk_bytes.len() as u64,
        parts: vec![junk_bytes],
        chunks: Vec::new(),
    };
    store.put_segment(&junk_path, junk).await.expect("PUT junk");
    assert!(matches!(
        store.read_footer(&junk_path).await,
        Err(SegmentError::BadMagic)
    ));

    // List: paths come back relative to the store prefix, with sizes.
    let mut listed = store
        .list(&ObjectPath::from("segments"))
        .await
        .expect("list");
    listed.sort_by(|a, b| a.path.cmp(&b.path));
    let mut names: Vec<String> = listed.iter().map(|o| o.path.to_string()).collect();
    names.sort();
    let mut wanted = vec![
        path.to_string(),
        big_path.to_string(),
        junk_path.to_string(),
    ];
    wanted.sort();
    assert_eq!(names, wanted);
    let listed_whole = listed
        .iter()
        .find(|o| o.path == path)
        .expect("segment listed");
    assert_eq!(listed_whole.size, whole.len() as u64);
    assert!(
        store
            .list(&ObjectPath::from("elsewhere"))
            .await
            .expect("empty list")
            .is_empty()
    );

    // Delete: gone afterwards, and deleting again is not an error.
    store.delete(&path).await.expect("delete");
    assert!(matches!(
        store.get_range(&path, 0..1).await,
        Err(StorageError::NotFound { .. })
    ));
    store.delete(&path).await.expect("second delete is a no-op");
    let after: Vec<String> = store
        .list(&ObjectPath::from("segments"))
        .await
        .expect("list after delete")
        .into_iter()
        .map(|o| o.path.to_string())
        .collect();
    assert!(!after.contains(&path.to_string()));
    assert_eq!(after.len(), 2);

    let stats = store.stats();
    assert!(stats.puts >= 4 && stats.lists >= 3 && stats.deletes >= 2);
    assert!(stats.bytes_written >= whole.len() as u64);
}

#[tokio::test]
async fn scenario_memory() {
    let store = SegmentStore::open(&StoreConfig::for_url("memory://tenant/a")).expect("open");
    assert_eq!(store.describe(), "memory://tenant/a");
    run_scenario(&store).await;
}

#[tokio::test]
async fn scenario_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("nested").join("store");
    let url = format!("file://{}", root.display());
    let store = SegmentStore::open(&StoreConfig::for_url(url)).expect("open");
    assert!(root.is_dir(), "open creates the directory");
    assert!(store.describe().starts_with("file://"));
    run_scenario(&store).await;

    // The objects really are files under the directory.
    let segments = root.join("segments");
    let days: Vec<_> = std::fs::read_dir(&segments)
        .expect("segments dir")
        .collect();
    assert!(!days.is_empty());
}

#[tokio::test]
async fn scenario_s3() {
    let Some(target) = s3_target() else {
        return skip();
    };
    ensure_bucket(&target).await;
    let prefix = format!("scenario-{}", ulid::Ulid::new());
    let store = SegmentStore::open(&s3_config(&target, &prefix)).expect("open");
    let description = store.describe();
    assert!(
        description.contains(&format!("s3://{}/{prefix}", target.bucket)),
        "{description}"
    );
    assert!(description.contains(&target.endpoint), "{description}");
    run_scenario(&store).await;

    // Objects sit under the prefix: a store without it sees them one level down.
    let unprefixed = SegmentStore::open(&s3_config(&target, "")).expect("open unprefixed");
    let under_prefix = unprefixed
        .list(&ObjectPath::from(prefix.as_str()))
        .await
        .expect("list under prefix");
    assert_eq!(under_prefix.len(), 2);
    assert!(under_prefix.iter().all(|o| {
        o.path
            .to_string()
            .starts_with(&format!("{prefix}/segments/"))
    }));
}

#[tokio::test]
async fn s3_missing_bucket_is_an_error_not_a_hang() {
    let Some(target) = s3_target() else {
        return skip();
    };
    let missing = S3Target {
        endpoint: target.endpoint.clone(),
        bucket: format!(
            "no-such-bucket-{}",
            ulid::Ulid::new().to_string().to_lowercase()
        ),
    };
    let store = SegmentStore::open(&s3_config(&missing, "p")).expect("open");
    let result = store
        .put_segment(&segment_path(1, 0), multi_part_segment(1, 8).0)
        .await;
    assert!(result.is_err(), "PUT into a missing bucket succeeded");
}

#[tokio::test]
async fn unreachable_endpoint_is_a_quick_retriable_unavailable() {
    // Bind and drop a listener to get a port nothing listens on.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let mut cfg = StoreConfig::for_url("s3://bucket/prefix");
    cfg.endpoint = Some(format!("http://127.0.0.1:{port}"));
    cfg.access_key_id = Some("test".to_string());
    cfg.secret_access_key = Some("test".to_string());
    cfg.region = Some("us-east-1".to_string());
    cfg.connect_timeout_ms = 200;
    cfg.request_timeout_ms = 1_000;
    cfg.max_retries = 1;
    cfg.retry_timeout_ms = 1_000;
    let store = SegmentStore::open(&cfg).expect("open does not connect");
    assert!(
        store
            .describe()
            .contains(&format!("http://127.0.0.1:{port}"))
    );
    assert!(!store.describe().contains("no access key"));
    // Without a key from settings or environment, the description (in the startup line and
    // in the "not reachable" error) says so: object_store's instance-metadata fallback fails
    // with an error about 169.254.169.254 that does not.
    if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
        let mut keyless = cfg.clone();
        keyless.access_key_id = None;
        keyless.secret_access_key = None;
        let keyless = SegmentStore::open(&keyless).expect("open does not connect");
        assert!(
            keyless.describe().ends_with(", no access key given)"),
            "{}",
            keyless.describe()
        );
    }

    let started = Instant::now();
    let check = store.check().await;
    let put = store
        .put_segment(&segment_path(1, 0), multi_part_segment(2, 16).0)
        .await;
    let get = store.get_range(&ObjectPath::from("x"), 0..4).await;
    let elapsed = started.elapsed();

    for (what, result) in [("check", check), ("put", put), ("get", get.map(|_| ()))] {
        match result {
            Err(err @ StorageError::Unavailable { .. }) => {
                assert!(err.is_retriable());
                assert!(!err.to_string().is_empty());
            }
            other => panic!("{what} against a closed port should be Unavailable, got {other:?}"),
        }
    }
    assert!(elapsed < Duration::from_secs(10), "took {elapsed:?}");
    assert_eq!(store.stats().failures, 3);
}

#[test]
fn bad_urls_are_config_errors() {
    for url in ["", "gs://bucket", "s3://", "/plain/path"] {
        match SegmentStore::open(&StoreConfig::for_url(url)) {
            Err(StorageError::Config(message)) => assert!(
                message.contains("URL") || message.contains("url"),
                "{message}"
            ),
            other => panic!("{url:?} gave {other:?}"),
        }
    }
    let mut zero_timeout = StoreConfig::for_url("s3://bucket");
    zero_timeout.request_timeout_ms = 0;
    assert!(matches!(
        SegmentStore::open(&zero_timeout),
        Err(StorageError::Config(_))
    ));
}
