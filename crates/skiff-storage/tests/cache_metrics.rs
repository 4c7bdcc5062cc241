//! The `skiff_cache_*` metrics: a memory hit, a disk hit after eviction, misses, inserts,
//! and the configured-size gauges.
//!
//! Each test runs on a current-thread runtime inside `with_local_recorder`, because the cache
//! registers its handles inside the async `ChunkCache::open`.

use crate::support;

use std::future::Future;

use bytes::Bytes;
use metrics_util::debugging::{DebuggingRecorder, Snapshotter};
use skiff_storage::metric_names::{
    CACHE_DISK_BYTES_CONFIGURED, CACHE_HITS_TOTAL, CACHE_INSERTS_TOTAL,
    CACHE_MEMORY_BYTES_CONFIGURED, CACHE_MISSES_TOTAL,
};
use skiff_storage::{CacheConfig, ChunkCache, ChunkKey, StorageError};
use support::recorded::Recorded;

const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;

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

fn run_recorded<F, Fut>(test: F)
where
    F: FnOnce(Snapshotter) -> Fut,
    Fut: Future<Output = ()>,
{
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    metrics::with_local_recorder(&recorder, || runtime.block_on(test(snapshotter)));
}

#[test]
fn open_reports_the_configured_sizes() {
    run_recorded(|snapshotter| async move {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = ChunkCache::open(&small_hybrid(dir.path()))
            .await
            .expect("open");
        let recorded = Recorded::take(&snapshotter);
        assert_eq!(
            recorded.gauge(CACHE_MEMORY_BYTES_CONFIGURED, ""),
            Some(MIB as f64)
        );
        assert_eq!(
            recorded.gauge(CACHE_DISK_BYTES_CONFIGURED, ""),
            Some(16.0 * MIB as f64)
        );
        cache.close().await.expect("close");
    });
}

#[test]
fn a_memory_hit_and_a_miss_move_their_counters() {
    run_recorded(|snapshotter| async move {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = ChunkCache::open(&small_hybrid(dir.path()))
            .await
            .expect("open");
        Recorded::take(&snapshotter);

        cache.insert(key(1, 0), chunk(1, 4 * KIB));
        assert!(cache.get(&key(1, 0)).await.expect("get").is_some());
        assert!(cache.get(&key(1, 1)).await.expect("get").is_none());

        let recorded = Recorded::take(&snapshotter);
        assert_eq!(recorded.counter(CACHE_INSERTS_TOTAL, ""), 1);
        assert_eq!(recorded.counter(CACHE_HITS_TOTAL, "memory"), 1);
        assert_eq!(recorded.counter(CACHE_HITS_TOTAL, "disk"), 0);
        assert_eq!(recorded.counter(CACHE_MISSES_TOTAL, ""), 1);
        cache.close().await.expect("close");
    });
}

#[test]
fn a_chunk_evicted_from_memory_is_a_disk_hit() {
    run_recorded(|snapshotter| async move {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = ChunkCache::open(&small_hybrid(dir.path()))
            .await
            .expect("open");
        // 24 x 128 KiB = 3 MiB through a 1 MiB memory tier: the first chunk must leave memory,
        // and waiting for the disk writes makes it readable only from disk.
        for i in 0..24 {
            cache.insert(key(7, i * 1000), chunk(i, 128 * KIB));
        }
        cache.wait_for_disk_writes().await;
        Recorded::take(&snapshotter);

        let first = cache.get(&key(7, 0)).await.expect("get").expect("on disk");
        assert!(first == chunk(0, 128 * KIB), "disk copy differs");
        let recorded = Recorded::take(&snapshotter);
        assert_eq!(recorded.counter(CACHE_HITS_TOTAL, "disk"), 1);
        assert_eq!(recorded.counter(CACHE_HITS_TOTAL, "memory"), 0);
        assert_eq!(recorded.counter(CACHE_MISSES_TOTAL, ""), 0);
        cache.close().await.expect("close");
    });
}

#[test]
fn a_read_through_fetch_is_a_miss_and_an_insert_then_a_memory_hit() {
    run_recorded(|snapshotter| async move {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = ChunkCache::open(&small_hybrid(dir.path()))
            .await
            .expect("open");
        Recorded::take(&snapshotter);

        let data = chunk(3, 8 * KIB);
        let fetched = data.clone();
        let got = cache
            .get_or_fetch(key(3, 0), move || async move { Ok(fetched) })
            .await
            .expect("fetch");
        assert!(got == data);
        let first = Recorded::take(&snapshotter);
        assert_eq!(first.counter(CACHE_MISSES_TOTAL, ""), 1);
        assert_eq!(first.counter(CACHE_INSERTS_TOTAL, ""), 1);
        assert_eq!(first.counter(CACHE_HITS_TOTAL, "memory"), 0);

        let again = cache
            .get_or_fetch(key(3, 0), || async {
                Err(StorageError::Cache {
                    reason: "must not run".to_string(),
                })
            })
            .await
            .expect("cached");
        assert!(again == data);
        let second = Recorded::take(&snapshotter);
        assert_eq!(second.counter(CACHE_HITS_TOTAL, "memory"), 1);
        assert_eq!(second.counter(CACHE_MISSES_TOTAL, ""), 0);
        assert_eq!(second.counter(CACHE_INSERTS_TOTAL, ""), 0);

        let failed = cache
            .get_or_fetch(key(3, 1), || async {
                Err(StorageError::Cache {
                    reason: "store down".to_string(),
                })
            })
            .await;
        assert!(failed.is_err());
        let third = Recorded::take(&snapshotter);
        assert_eq!(third.counter(CACHE_INSERTS_TOTAL, ""), 0, "nothing cached");
        cache.close().await.expect("close");
    });
}
