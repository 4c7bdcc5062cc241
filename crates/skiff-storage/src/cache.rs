//! The chunk cache: foyer's hybrid memory + disk cache behind a small API of our own.
//!
//! Keys are (object id, position). Object ids come from the controller and are never reused,
//! so a cached chunk can never go stale; the disk tier is still not recovered across
//! restarts, because nothing on disk from a previous run is trusted.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use foyer::{
    BlockEngineConfig, Code, DeviceBuilder, FsDeviceBuilder, HybridCache, HybridCacheBuilder,
    LruConfig, PsyncIoEngineConfig, RecoverMode, Source,
};
use metrics::{Counter, counter, gauge};
use serde::Deserialize;

use crate::error::StorageError;
use crate::metric_names::{
    CACHE_DISK_BYTES_CONFIGURED, CACHE_HITS_TOTAL, CACHE_INSERTS_TOTAL,
    CACHE_MEMORY_BYTES_CONFIGURED, CACHE_MISSES_TOTAL,
};

const MIB: usize = 1024 * 1024;
/// foyer's disk blocks bound the largest entry that reaches disk; 16 MiB covers a whole
/// default 8 MiB flush landing in one partition.
const MAX_BLOCK_BYTES: usize = 16 * MIB;
const MIN_BLOCK_BYTES: usize = MIB;
/// The block engine needs a few blocks to rotate through while reclaiming.
const MIN_DISK_BLOCKS: usize = 4;
/// foyer splits memory capacity evenly over shards and only evicts within a shard, so shards
/// must stay large next to a chunk; this many bytes per shard, at most MAX_SHARDS of them.
const BYTES_PER_SHARD: usize = 32 * MIB;
const MAX_SHARDS: usize = 8;

/// Sizes and location of the chunk cache.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct CacheConfig {
    /// Memory tier capacity in bytes of chunk data.
    pub memory_bytes: usize,
    /// Disk tier capacity in bytes; 0 runs memory only.
    pub disk_bytes: usize,
    /// Directory for the disk tier's files.
    pub dir: PathBuf,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            memory_bytes: 256 * MIB,
            disk_bytes: 1024 * MIB,
            dir: PathBuf::from("skiff-cache"),
        }
    }
}

/// Identifies a chunk: the controller's object id and the chunk's byte position in it.
#[derive(Hash, Eq, PartialEq, Clone, Copy, Debug)]
pub struct ChunkKey {
    pub object_id: u64,
    pub position: u64,
}

impl Code for ChunkKey {
    fn encode(&self, writer: &mut impl Write) -> foyer::Result<()> {
        writer
            .write_all(&self.object_id.to_be_bytes())
            .and_then(|()| writer.write_all(&self.position.to_be_bytes()))
            .map_err(foyer::Error::io_error)
    }

    fn decode(reader: &mut impl Read) -> foyer::Result<Self> {
        let mut object_id = [0u8; 8];
        let mut position = [0u8; 8];
        reader
            .read_exact(&mut object_id)
            .and_then(|()| reader.read_exact(&mut position))
            .map_err(foyer::Error::io_error)?;
        Ok(Self {
            object_id: u64::from_be_bytes(object_id),
            position: u64::from_be_bytes(position),
        })
    }

    fn estimated_size(&self) -> usize {
        16
    }
}

/// Chunk bytes as the cache stores them; a newtype so we own the disk encoding.
#[derive(Debug, Clone)]
struct ChunkBytes(Bytes);

impl Code for ChunkBytes {
    fn encode(&self, writer: &mut impl Write) -> foyer::Result<()> {
        writer
            .write_all(&(self.0.len() as u64).to_be_bytes())
            .and_then(|()| writer.write_all(&self.0))
            .map_err(foyer::Error::io_error)
    }

    fn decode(reader: &mut impl Read) -> foyer::Result<Self> {
        let mut len = [0u8; 8];
        reader
            .read_exact(&mut len)
            .map_err(foyer::Error::io_error)?;
        let len = u64::from_be_bytes(len);
        if len > MAX_BLOCK_BYTES as u64 {
            return Err(foyer::Error::new(
                foyer::ErrorKind::Parse,
                "cached chunk length exceeds the disk block size",
            )
            .with_context("len", len));
        }
        // Reading through `take` grows the buffer with the data actually present, so a damaged
        // length cannot make us allocate more than the block holds.
        let mut data = Vec::new();
        reader
            .take(len)
            .read_to_end(&mut data)
            .map_err(foyer::Error::io_error)?;
        if data.len() as u64 != len {
            return Err(foyer::Error::new(
                foyer::ErrorKind::Parse,
                "cached chunk is shorter than its recorded length",
            ));
        }
        Ok(Self(Bytes::from(data)))
    }

    fn estimated_size(&self) -> usize {
        8 + self.0.len()
    }
}

/// Counters since open. A request that misses both tiers counts one miss; `fetches` counts
/// the store reads actually run, which single-flight keeps at or below the misses. A chunk
/// served from the disk tier's write queue (evicted, not yet on disk) counts as a memory hit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    pub memory_hits: u64,
    pub disk_hits: u64,
    pub misses: u64,
    pub fetches: u64,
    pub inserts: u64,
}

/// The in-process counters behind [`CacheStats`] plus the metric handles, registered once at
/// open so a lookup only adds to atomics.
#[derive(Debug)]
struct Counters {
    memory_hits: AtomicU64,
    disk_hits: AtomicU64,
    misses: AtomicU64,
    fetches: AtomicU64,
    inserts: AtomicU64,
    memory_hits_metric: Counter,
    disk_hits_metric: Counter,
    misses_metric: Counter,
    inserts_metric: Counter,
}

impl Counters {
    fn register(cfg: &CacheConfig) -> Self {
        // Set once: the gauges say what the cache was configured with, for comparing with
        // resident memory and the hit rates.
        gauge!(CACHE_MEMORY_BYTES_CONFIGURED).set(cfg.memory_bytes as f64);
        gauge!(CACHE_DISK_BYTES_CONFIGURED).set(cfg.disk_bytes as f64);
        Self {
            memory_hits: AtomicU64::new(0),
            disk_hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            fetches: AtomicU64::new(0),
            inserts: AtomicU64::new(0),
            memory_hits_metric: counter!(CACHE_HITS_TOTAL, "tier" => "memory"),
            disk_hits_metric: counter!(CACHE_HITS_TOTAL, "tier" => "disk"),
            misses_metric: counter!(CACHE_MISSES_TOTAL),
            inserts_metric: counter!(CACHE_INSERTS_TOTAL),
        }
    }

    /// foyer tells which tier answered through the entry's source; `Outer` means neither did
    /// and the value came from our fetch (or from joining another caller's fetch).
    fn count_source(&self, source: Source) {
        match source {
            Source::Memory => self.count_memory_hit(),
            Source::Disk => {
                self.disk_hits.fetch_add(1, Ordering::Relaxed);
                self.disk_hits_metric.increment(1);
            }
            Source::Outer => self.count_miss(),
        }
    }

    fn count_memory_hit(&self) {
        self.memory_hits.fetch_add(1, Ordering::Relaxed);
        self.memory_hits_metric.increment(1);
    }

    fn count_miss(&self) {
        self.misses.fetch_add(1, Ordering::Relaxed);
        self.misses_metric.increment(1);
    }
}

/// The broker's chunk cache. Cheap to clone; clones share the cache.
#[derive(Debug, Clone)]
pub struct ChunkCache {
    cache: HybridCache<ChunkKey, ChunkBytes>,
    counters: Arc<Counters>,
}

impl ChunkCache {
    pub async fn open(cfg: &CacheConfig) -> Result<Self, StorageError> {
        if cfg.memory_bytes == 0 {
            return Err(StorageError::Config(
                "cache memory_bytes must be greater than zero".to_string(),
            ));
        }
        let builder = HybridCacheBuilder::new()
            .with_name("skiff-chunks")
            // Nothing on disk is recovered, so flushing memory to disk on close is wasted work.
            .with_flush_on_close(false)
            .memory(cfg.memory_bytes)
            .with_shards((cfg.memory_bytes / BYTES_PER_SHARD).clamp(1, MAX_SHARDS))
            // Tailing consumers read what was just written: recency is the signal that matters.
            .with_eviction_config(LruConfig::default())
            .with_weighter(|_: &ChunkKey, value: &ChunkBytes| value.0.len())
            .storage();

        let builder = if cfg.disk_bytes == 0 {
            builder
        } else {
            let block_bytes = block_size_for(cfg.disk_bytes)?;
            let device = FsDeviceBuilder::new(&cfg.dir)
                .with_capacity(cfg.disk_bytes)
                .build()
                .map_err(|err| {
                    StorageError::Config(format!(
                        "cannot open disk cache in {}: {err}",
                        cfg.dir.display()
                    ))
                })?;
            builder
                .with_io_engine_config(PsyncIoEngineConfig::new())
                .with_engine_config(BlockEngineConfig::new(device).with_block_size(block_bytes))
                .with_recover_mode(RecoverMode::None)
        };

        let cache = builder.build().await.map_err(|err| StorageError::Cache {
            reason: format!("cannot start chunk cache: {err}"),
        })?;
        tracing::info!(
            memory_bytes = cfg.memory_bytes,
            disk_bytes = cfg.disk_bytes,
            dir = %cfg.dir.display(),
            "chunk cache open"
        );
        Ok(Self {
            cache,
            counters: Arc::new(Counters::register(cfg)),
        })
    }

    /// Caches freshly flushed (already offset-patched) chunk bytes.
    pub fn insert(&self, key: ChunkKey, bytes: Bytes) {
        self.counters.inserts.fetch_add(1, Ordering::Relaxed);
        self.counters.inserts_metric.increment(1);
        self.cache.insert(key, ChunkBytes(bytes));
    }

    /// Looks in memory, then on disk.
    pub async fn get(&self, key: &ChunkKey) -> Result<Option<Bytes>, StorageError> {
        if let Some(bytes) = self.get_from_memory(key) {
            return Ok(Some(bytes));
        }
        match self.cache.get(key).await {
            Ok(Some(entry)) => {
                self.counters.count_source(entry.source());
                Ok(Some(entry.value().0.clone()))
            }
            Ok(None) => {
                self.counters.count_miss();
                Ok(None)
            }
            Err(err) => Err(StorageError::Cache {
                reason: format!("reading chunk {key:?}: {err}"),
            }),
        }
    }

    /// Single-flight read-through: concurrent misses for one key run `fetch` once and all
    /// receive its bytes (or its error). The fetched bytes are cached.
    pub async fn get_or_fetch<F, Fut>(&self, key: ChunkKey, fetch: F) -> Result<Bytes, StorageError>
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<Bytes, StorageError>> + Send + 'static,
    {
        if let Some(bytes) = self.get_from_memory(&key) {
            return Ok(bytes);
        }
        let counters = Arc::clone(&self.counters);
        let fetch_and_count = move || async move {
            counters.fetches.fetch_add(1, Ordering::Relaxed);
            let fetched = fetch().await?;
            // foyer inserts what the fetch returns, so the metric counts it as an insert.
            counters.inserts_metric.increment(1);
            Ok::<_, StorageError>(ChunkBytes(fetched))
        };
        match self.cache.get_or_fetch(&key, fetch_and_count).await {
            Ok(entry) => {
                self.counters.count_source(entry.source());
                Ok(entry.value().0.clone())
            }
            // foyer hands the same failure to every waiter, so ours comes back by reference.
            Err(err) => Err(match err.downcast_ref::<StorageError>() {
                Some(storage_error) => storage_error.clone(),
                None => StorageError::Cache {
                    reason: format!("reading chunk {key:?}: {err}"),
                },
            }),
        }
    }

    pub fn stats(&self) -> CacheStats {
        let c = &self.counters;
        CacheStats {
            memory_hits: c.memory_hits.load(Ordering::Relaxed),
            disk_hits: c.disk_hits.load(Ordering::Relaxed),
            misses: c.misses.load(Ordering::Relaxed),
            fetches: c.fetches.load(Ordering::Relaxed),
            inserts: c.inserts.load(Ordering::Relaxed),
        }
    }

    /// Waits until every chunk already evicted from memory has been written to the disk tier.
    /// Chunks still queued for disk are served from that queue meanwhile, so readers never
    /// need this; shutdown and tests do.
    pub async fn wait_for_disk_writes(&self) {
        self.cache.storage().wait().await;
    }

    /// Waits for in-flight disk writes and stops the cache's background work.
    pub async fn close(&self) -> Result<(), StorageError> {
        self.cache.close().await.map_err(|err| StorageError::Cache {
            reason: format!("closing chunk cache: {err}"),
        })
    }

    /// The hot path: a memory hit clones the `Bytes` handle, never the data.
    fn get_from_memory(&self, key: &ChunkKey) -> Option<Bytes> {
        let entry = self.cache.memory().get(key)?;
        self.counters.count_memory_hit();
        Some(entry.value().0.clone())
    }
}

/// Picks a disk block size: about 1/16 of the disk tier, between 1 and 16 MiB.
fn block_size_for(disk_bytes: usize) -> Result<usize, StorageError> {
    let block = (disk_bytes / 16).clamp(MIN_BLOCK_BYTES, MAX_BLOCK_BYTES);
    if disk_bytes < block * MIN_DISK_BLOCKS {
        return Err(StorageError::Config(format!(
            "cache disk_bytes must be 0 (memory only) or at least {} bytes, got {disk_bytes}",
            MIN_BLOCK_BYTES * MIN_DISK_BLOCKS
        )));
    }
    Ok(block)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_and_value_codes_round_trip() {
        let key = ChunkKey {
            object_id: 0x0102_0304_0506_0708,
            position: u64::MAX,
        };
        let mut buf = Vec::new();
        key.encode(&mut buf).expect("encode key");
        assert_eq!(buf.len(), key.estimated_size());
        assert_eq!(
            ChunkKey::decode(&mut buf.as_slice()).expect("decode key"),
            key
        );

        let value = ChunkBytes(Bytes::from_static(b"batch bytes"));
        let mut buf = Vec::new();
        value.encode(&mut buf).expect("encode value");
        assert_eq!(buf.len(), value.estimated_size());
        let decoded = ChunkBytes::decode(&mut buf.as_slice()).expect("decode value");
        assert_eq!(decoded.0, value.0);
    }

    #[test]
    fn damaged_cached_values_are_errors() {
        let mut short = (100u64).to_be_bytes().to_vec();
        short.extend_from_slice(b"only a few bytes");
        assert!(ChunkBytes::decode(&mut short.as_slice()).is_err());

        let huge = u64::MAX.to_be_bytes();
        assert!(ChunkBytes::decode(&mut huge.as_slice()).is_err());

        assert!(ChunkKey::decode(&mut [1u8, 2, 3].as_slice()).is_err());
    }

    #[test]
    fn block_size_scales_with_the_disk_tier() {
        assert_eq!(block_size_for(1024 * MIB).ok(), Some(16 * MIB));
        assert_eq!(block_size_for(64 * MIB).ok(), Some(4 * MIB));
        assert_eq!(block_size_for(8 * MIB).ok(), Some(MIB));
        assert!(matches!(block_size_for(MIB), Err(StorageError::Config(_))));
    }
}
