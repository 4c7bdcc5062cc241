//! Chunk cache: memory hits, eviction to disk and back, single-flight fetches, memory-only
//! mode, and close/reopen never serving old bytes.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use skiff_storage::{CacheConfig, ChunkCache, ChunkKey, StorageError};

const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;
const DEADLINE: Duration = Duration::from_secs(20);

fn key(object_id: u64, position: u64) -> ChunkKey {
    ChunkKey {
        object_id,
        position,
    }
}

fn chunk(seed: u64, len: usize) -> Bytes {
    Bytes::from(
        (0..len)
            .map(|i| (seed as usize * 31 + i) as u8)
            .collect::<Vec<_>>(),
    )
}

fn small_hybrid(dir: &std::path::Path) -> CacheConfig {
    CacheConfig {
        memory_bytes: MIB,
        disk_bytes: 16 * MIB,
        dir: dir.to_path_buf(),
    }
}

/// Polls `get` until it returns bytes or the deadline passes: disk writes happen in the
/// background, so the test waits for the observable outcome instead of sleeping blindly.
async fn get_within_deadline(cache: &ChunkCache, key: &ChunkKey) -> Option<Bytes> {
    let started = Instant::now();
    loop {
        if let Some(bytes) = cache.get(key).await.expect("cache get") {
            return Some(bytes);
        }
        if started.elapsed() > DEADLINE {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn insert_then_get_serves_memory_without_copying() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = ChunkCache::open(&small_hybrid(dir.path()))
        .await
        .expect("open");
    let data = chunk(1, 4 * KIB);
    cache.insert(key(1, 12), data.clone());

    let got = cache.get(&key(1, 12)).await.expect("get").expect("cached");
    assert!(got == data, "cached bytes differ");
    assert_eq!(
        got.as_ptr(),
        data.as_ptr(),
        "memory hit must share the buffer"
    );
    assert_eq!(
        cache.get(&key(1, 13)).await.expect("get other position"),
        None
    );
    assert_eq!(
        cache.get(&key(2, 12)).await.expect("get other object"),
        None
    );

    let stats = cache.stats();
    assert_eq!(stats.inserts, 1);
    assert_eq!(stats.memory_hits, 1);
    assert_eq!(stats.misses, 2);
    assert_eq!(stats.disk_hits, 0);
    cache.close().await.expect("close");
}

#[tokio::test]
async fn evicted_chunks_are_read_back_from_disk() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = ChunkCache::open(&small_hybrid(dir.path()))
        .await
        .expect("open");
    // 24 x 128 KiB = 3 MiB through a 1 MiB memory tier: the first chunks must leave memory.
    let chunks: Vec<Bytes> = (0..24).map(|i| chunk(i, 128 * KIB)).collect();
    for (i, data) in chunks.iter().enumerate() {
        cache.insert(key(7, i as u64 * 1000), data.clone());
    }

    cache.wait_for_disk_writes().await;
    assert_eq!(cache.stats().disk_hits, 0);

    let first = cache
        .get(&key(7, 0))
        .await
        .expect("get")
        .expect("first chunk from disk");
    assert!(first == chunks[0], "first chunk came back different");
    assert_eq!(cache.stats().disk_hits, 1, "stats: {:?}", cache.stats());
    assert_ne!(
        first.as_ptr(),
        chunks[0].as_ptr(),
        "decoded from disk, not the inserted buffer"
    );

    // Every chunk is still served, from one tier or the other, with the right bytes.
    for (i, data) in chunks.iter().enumerate() {
        let got = get_within_deadline(&cache, &key(7, i as u64 * 1000)).await;
        assert!(got.as_ref() == Some(data), "chunk {i} missing or different");
    }
    cache.close().await.expect("close");
}

#[tokio::test(flavor = "current_thread")]
async fn concurrent_misses_run_one_fetch() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = ChunkCache::open(&small_hybrid(dir.path()))
        .await
        .expect("open");
    let fetch_calls = Arc::new(AtomicUsize::new(0));
    let registered = Arc::new(AtomicUsize::new(0));
    let (release, released) = tokio::sync::watch::channel(false);
    let data = chunk(3, 64 * KIB);
    const GETTERS: usize = 32;

    let mut tasks = Vec::new();
    for _ in 0..GETTERS {
        let cache = cache.clone();
        let fetch_calls = Arc::clone(&fetch_calls);
        let registered = Arc::clone(&registered);
        let mut released = released.clone();
        let data = data.clone();
        tasks.push(tokio::spawn(async move {
            // On a current-thread runtime the task runs uninterrupted from here until
            // get_or_fetch first awaits, so counting here means it has joined the flight.
            registered.fetch_add(1, Ordering::SeqCst);
            cache
                .get_or_fetch(key(9, 0), move || async move {
                    fetch_calls.fetch_add(1, Ordering::SeqCst);
                    released
                        .wait_for(|go| *go)
                        .await
                        .map_err(|_| StorageError::Cache {
                            reason: "test released nothing".to_string(),
                        })?;
                    Ok(data)
                })
                .await
        }));
    }

    let started = Instant::now();
    while registered.load(Ordering::SeqCst) < GETTERS {
        assert!(started.elapsed() < DEADLINE, "getters never started");
        tokio::task::yield_now().await;
    }
    release.send(true).expect("release fetch");

    for task in tasks {
        let got = task.await.expect("task").expect("get_or_fetch");
        assert!(got == data, "a getter saw different bytes");
    }
    assert_eq!(fetch_calls.load(Ordering::SeqCst), 1);
    let stats = cache.stats();
    assert_eq!(stats.fetches, 1);
    assert_eq!(
        stats.misses, GETTERS as u64,
        "every getter waited on the one fetch"
    );

    // Now cached: another call is a memory hit and does not fetch.
    let again = cache
        .get_or_fetch(key(9, 0), || async {
            Err(StorageError::Cache {
                reason: "must not run".into(),
            })
        })
        .await
        .expect("cached");
    assert!(again == data, "cached bytes differ");
    assert_eq!(cache.stats().fetches, 1);
    assert_eq!(cache.stats().memory_hits, 1);
    cache.close().await.expect("close");
}

#[tokio::test]
async fn fetch_errors_reach_the_caller_and_are_not_cached() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = ChunkCache::open(&small_hybrid(dir.path()))
        .await
        .expect("open");
    let failed = cache
        .get_or_fetch(key(4, 4), || async {
            Err(StorageError::Unavailable {
                operation: "GET-range",
                path: "segments/x.seg".to_string(),
                reason: "connection refused".to_string(),
            })
        })
        .await;
    match failed {
        Err(err @ StorageError::Unavailable { .. }) => assert!(err.is_retriable()),
        other => panic!("expected the fetch's own error, got {other:?}"),
    }

    let data = chunk(4, 100);
    let expected = data.clone();
    let got = cache
        .get_or_fetch(key(4, 4), move || async move { Ok(data) })
        .await
        .expect("second fetch");
    assert!(got == expected, "fetched bytes differ");
    assert_eq!(cache.stats().fetches, 2);
    cache.close().await.expect("close");
}

#[tokio::test]
async fn memory_only_mode_forgets_evicted_chunks_and_touches_no_disk() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache_dir = dir.path().join("never-created");
    let cfg = CacheConfig {
        memory_bytes: MIB,
        disk_bytes: 0,
        dir: cache_dir.clone(),
    };
    let cache = ChunkCache::open(&cfg).await.expect("open");
    cache.insert(key(1, 0), chunk(0, 256 * KIB));
    assert!(cache.get(&key(1, 0)).await.expect("get").is_some());

    // 2 MiB more through a 1 MiB cache pushes the first chunk out for good.
    for i in 1..9 {
        cache.insert(key(1, i), chunk(i, 256 * KIB));
    }
    assert!(
        cache.get(&key(1, 0)).await.expect("get evicted").is_none(),
        "evicted chunk served"
    );
    let newest = cache.get(&key(1, 8)).await.expect("get newest");
    assert!(
        newest == Some(chunk(8, 256 * KIB)),
        "newest chunk missing or different"
    );
    assert_eq!(cache.stats().disk_hits, 0);
    assert!(
        !cache_dir.exists(),
        "memory-only mode must not create the disk directory"
    );
    cache.close().await.expect("close");
}

#[tokio::test]
async fn reopening_never_serves_chunks_from_a_previous_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = small_hybrid(dir.path());
    let cache = ChunkCache::open(&cfg).await.expect("open");
    for i in 0..24 {
        cache.insert(key(5, i), chunk(i, 128 * KIB));
    }
    // Make sure the first chunk really reached disk before closing.
    cache.wait_for_disk_writes().await;
    assert!(cache.get(&key(5, 0)).await.expect("get").is_some());
    assert_eq!(cache.stats().disk_hits, 1);
    cache.close().await.expect("close");
    drop(cache);

    let reopened = ChunkCache::open(&cfg).await.expect("reopen");
    for i in 0..24 {
        let stale = reopened.get(&key(5, i)).await.expect("get");
        assert!(stale.is_none(), "chunk {i} survived the restart");
    }
    reopened.close().await.expect("close reopened");
}

#[tokio::test]
async fn unusable_sizes_are_config_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let zero_memory = CacheConfig {
        memory_bytes: 0,
        disk_bytes: 0,
        dir: dir.path().to_path_buf(),
    };
    assert!(matches!(
        ChunkCache::open(&zero_memory).await,
        Err(StorageError::Config(_))
    ));
    let tiny_disk = CacheConfig {
        memory_bytes: MIB,
        disk_bytes: MIB,
        dir: dir.path().to_path_buf(),
    };
    assert!(matches!(
        ChunkCache::open(&tiny_disk).await,
        Err(StorageError::Config(_))
    ));
}
