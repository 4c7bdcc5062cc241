//! Object store access for segments: one client per process, every path relative to the
//! configured prefix, every call reported through [`ops`] and every request it makes metered
//! by [`MeteredStore`], which wraps the backend whatever the URL.

mod config;
mod errors;
mod metered;
mod ops;
mod request_metrics;
mod s3;

pub use config::StoreConfig;
pub use metered::MeteredStore;
pub use ops::StoreStats;

use std::ops::Range;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{
    GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload,
};

use crate::error::{SegmentError, StorageError};
use crate::segment::{
    ChunkLocation, EncodedSegment, FOOTER_READ_GUESS, SegmentFooter, decode_footer,
};
use config::StoreLocation;
use errors::classify;
use ops::{OpCounters, OpKind};

/// Key probed by [`SegmentStore::check`]; it never exists, a NotFound answer proves the store
/// is reachable and the credentials work.
const PROBE_KEY: &str = ".skiff-probe";

/// One listed object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// Relative to the store prefix, like every path this API takes.
    pub path: Path,
    pub size: u64,
    pub last_modified: DateTime<Utc>,
}

/// The segment store. Cheap to clone; clones share one client and one set of counters.
#[derive(Clone)]
pub struct SegmentStore {
    inner: Arc<Inner>,
}

/// Shows where the store points, not the client's internals.
impl std::fmt::Debug for SegmentStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SegmentStore")
            .field("location", &self.inner.description)
            .finish()
    }
}

struct Inner {
    store: Arc<dyn ObjectStore>,
    prefix: Path,
    description: String,
    /// The store root as a URL (`file:///dir`, `s3://bucket/prefix`, `memory://prefix`), for
    /// files other programs open by absolute location (the archive's Iceberg tables).
    root_url: String,
    /// What it was opened from, to open another client of the same store.
    config: StoreConfig,
    counters: OpCounters,
}

impl SegmentStore {
    /// Opens the store named by `cfg.url`. `file://` creates the directory; `memory://` is a
    /// fresh empty store private to this handle and its clones.
    pub fn open(cfg: &StoreConfig) -> Result<Self, StorageError> {
        Self::open_on(cfg, None)
    }

    /// The same store through a client of its own whose requests (for S3) run on the runtime
    /// of `io`, wherever it is called from. Work on a low-priority runtime uses this, so the
    /// connections it opens are never driven by its slow threads for the Kafka path's
    /// requests, nor theirs by its. A file or memory store is shared as it is (a memory store
    /// must be: a second one would be empty).
    pub fn client_on(&self, io: tokio::runtime::Handle) -> Result<Self, StorageError> {
        match StoreLocation::parse(&self.inner.config.url)? {
            StoreLocation::S3 { .. } => Self::open_on(&self.inner.config, Some(io)),
            StoreLocation::Memory { .. } | StoreLocation::File { .. } => Ok(self.clone()),
        }
    }

    fn open_on(
        cfg: &StoreConfig,
        io: Option<tokio::runtime::Handle>,
    ) -> Result<Self, StorageError> {
        let (store, prefix, description, root_url): (Arc<dyn ObjectStore>, Path, String, String) =
            match StoreLocation::parse(&cfg.url)? {
                StoreLocation::Memory { prefix } => (
                    Arc::new(InMemory::new()),
                    prefix.clone(),
                    format!("memory://{prefix}"),
                    format!("memory://{prefix}"),
                ),
                StoreLocation::File { dir } => {
                    let (fs, canonical) = open_local(&dir)?;
                    let url = format!("file://{canonical}");
                    (Arc::new(fs), Path::default(), url.clone(), url)
                }
                StoreLocation::S3 { bucket, prefix } => {
                    let backend = s3::build_s3(cfg, &bucket, io)?;
                    let endpoint = backend.endpoint.as_deref().unwrap_or("AWS default");
                    let credentials = if backend.has_access_key {
                        ""
                    } else {
                        ", no access key given"
                    };
                    let description = format!(
                        "s3://{bucket}/{prefix} (endpoint {endpoint}, region {}{credentials})",
                        backend.region
                    );
                    let root_url = if prefix.parts_count() == 0 {
                        format!("s3://{bucket}")
                    } else {
                        format!("s3://{bucket}/{prefix}")
                    };
                    (Arc::new(backend.store), prefix, description, root_url)
                }
            };
        // Outermost, so every backend is metered the same way; for S3 that is outside
        // object_store's own retries (see metered.rs for what one counted request means).
        let store: Arc<dyn ObjectStore> = Arc::new(MeteredStore::new(store));
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                prefix,
                description,
                root_url,
                config: cfg.clone(),
                counters: OpCounters::default(),
            }),
        })
    }

    /// A one-line description for the startup log, e.g.
    /// `s3://bucket/prefix (endpoint http://127.0.0.1:4566, region us-east-1)`.
    pub fn describe(&self) -> String {
        self.inner.description.clone()
    }

    /// Whether each request costs money (S3), so writers should make fewer, larger PUTs; a
    /// file or memory store costs nothing per request.
    pub fn billed_per_request(&self) -> bool {
        self.inner.root_url.starts_with("s3://")
    }

    /// The store root as a URL with no trailing slash: `file:///abs/dir`,
    /// `s3://bucket/prefix` or `memory://prefix`. An object's URL is this, `/`, its path.
    pub fn root_url(&self) -> &str {
        &self.inner.root_url
    }

    /// Request counters since open.
    pub fn stats(&self) -> StoreStats {
        self.inner.counters.snapshot()
    }

    /// Uploads a segment with a create-only PUT, so an existing object is never replaced.
    ///
    /// `AlreadyExists` after a retried upload may mean an earlier attempt of this same call
    /// landed; segment paths are unique per flush, so nothing else could have written it.
    pub async fn put_segment(
        &self,
        path: &Path,
        segment: EncodedSegment,
    ) -> Result<(), StorageError> {
        let full = self.full_path(path);
        let bytes = segment.len;
        let payload = PutPayload::from_iter(segment.parts);
        let options = PutOptions::from(PutMode::Create);
        let started = Instant::now();
        let result = self
            .inner
            .store
            .put_opts(&full, payload, options)
            .await
            .map(|_| ())
            .map_err(|err| classify(OpKind::Put, path, err));
        self.record(OpKind::Put, path, bytes, started, &result);
        result
    }

    /// Writes a whole object that is not a segment (archive files, pointers). With
    /// `overwrite` false the PUT is create-only and an existing object is an
    /// [`StorageError::AlreadyExists`].
    pub async fn put_object(
        &self,
        path: &Path,
        bytes: Bytes,
        overwrite: bool,
    ) -> Result<(), StorageError> {
        let full = self.full_path(path);
        let len = bytes.len() as u64;
        let mode = if overwrite {
            PutMode::Overwrite
        } else {
            PutMode::Create
        };
        let started = Instant::now();
        let result = self
            .inner
            .store
            .put_opts(&full, PutPayload::from(bytes), PutOptions::from(mode))
            .await
            .map(|_| ())
            .map_err(|err| classify(OpKind::Put, path, err));
        self.record(OpKind::Put, path, len, started, &result);
        result
    }

    /// Reads a whole object.
    pub async fn get_object(&self, path: &Path) -> Result<Bytes, StorageError> {
        let full = self.full_path(path);
        let started = Instant::now();
        let result = async { self.inner.store.get(&full).await?.bytes().await }
            .await
            .map_err(|err| classify(OpKind::GetRange, path, err));
        let read = result.as_ref().map_or(0, |b| b.len() as u64);
        self.record(OpKind::GetRange, path, read, started, &result);
        result
    }

    /// An object's size, or `None` when it does not exist.
    pub async fn object_size(&self, path: &Path) -> Result<Option<u64>, StorageError> {
        let full = self.full_path(path);
        let started = Instant::now();
        let result = match self.inner.store.head(&full).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(err) => match classify(OpKind::Head, path, err) {
                StorageError::NotFound { .. } => Ok(None),
                other => Err(other),
            },
        };
        self.record(OpKind::Head, path, 0, started, &result);
        result
    }

    /// Reads exactly `range` of an object; a shorter answer (the object ends early) is an error.
    pub async fn get_range(&self, path: &Path, range: Range<u64>) -> Result<Bytes, StorageError> {
        if range.start >= range.end {
            if range.start == range.end {
                return Ok(Bytes::new());
            }
            return Err(StorageError::Other {
                operation: OpKind::GetRange.as_str(),
                path: path.to_string(),
                reason: format!("range {}..{} ends before it starts", range.start, range.end),
            });
        }
        let full = self.full_path(path);
        let wanted = range.end - range.start;
        let started = Instant::now();
        let result = match self.inner.store.get_range(&full, range.clone()).await {
            Ok(bytes) if bytes.len() as u64 == wanted => Ok(bytes),
            Ok(bytes) => Err(StorageError::Other {
                operation: OpKind::GetRange.as_str(),
                path: path.to_string(),
                reason: format!(
                    "asked for bytes {}..{} but the object returned {} bytes",
                    range.start,
                    range.end,
                    bytes.len()
                ),
            }),
            Err(err) => Err(classify(OpKind::GetRange, path, err)),
        };
        let read = result.as_ref().map_or(0, |b| b.len() as u64);
        self.record(OpKind::GetRange, path, read, started, &result);
        result
    }

    /// Reads one chunk's bytes.
    pub async fn read_chunk(
        &self,
        path: &Path,
        chunk: &ChunkLocation,
    ) -> Result<Bytes, StorageError> {
        self.get_range(path, chunk.range()).await
    }

    /// Reads and checks a segment's footer: one suffix GET of [`FOOTER_READ_GUESS`] bytes,
    /// and a second ranged GET only when the footer is larger than that.
    pub async fn read_footer(&self, path: &Path) -> Result<SegmentFooter, SegmentError> {
        let (tail, object_len) = self.get_suffix(path, FOOTER_READ_GUESS).await?;
        match decode_footer(&tail, object_len) {
            Err(SegmentError::NeedMoreTail { needed, .. }) => {
                // decode_footer has checked that `needed` fits inside the object.
                let start = object_len.saturating_sub(needed);
                let tail = self.get_range(path, start..object_len).await?;
                decode_footer(&tail, object_len)
            }
            decoded => decoded,
        }
    }

    /// Deletes an object. Deleting one that is already gone succeeds, so garbage collection
    /// can be retried freely.
    pub async fn delete(&self, path: &Path) -> Result<(), StorageError> {
        let full = self.full_path(path);
        let started = Instant::now();
        let result = match self.inner.store.delete(&full).await {
            Ok(()) => Ok(()),
            Err(err) => match classify(OpKind::Delete, path, err) {
                StorageError::NotFound { .. } => Ok(()),
                other => Err(other),
            },
        };
        self.record(OpKind::Delete, path, 0, started, &result);
        result
    }

    /// Lists every object under `prefix` (relative to the store prefix), recursively.
    pub async fn list(&self, prefix: &Path) -> Result<Vec<ObjectInfo>, StorageError> {
        let full = self.full_path(prefix);
        let started = Instant::now();
        let result = self
            .inner
            .store
            .list(Some(&full))
            .map_ok(|meta| ObjectInfo {
                path: self.relative_path(&meta.location),
                size: meta.size,
                last_modified: meta.last_modified,
            })
            .try_collect::<Vec<_>>()
            .await
            .map_err(|err| classify(OpKind::List, prefix, err));
        self.record(OpKind::List, prefix, 0, started, &result);
        result
    }

    /// Lists every object under `prefix` as a stream, so a caller can work through a large
    /// listing a page at a time without holding all of it (S3 answers 1,000 keys per request
    /// as the stream is read). The order is the store's: sorted on S3, not on a local disk.
    pub fn list_stream(
        &self,
        prefix: &Path,
    ) -> futures::stream::BoxStream<'static, Result<ObjectInfo, StorageError>> {
        use futures::StreamExt;
        let full = self.full_path(prefix);
        let store = self.clone();
        let shown = prefix.clone();
        self.inner
            .store
            .list(Some(&full))
            .map(move |item| match item {
                Ok(meta) => Ok(ObjectInfo {
                    path: store.relative_path(&meta.location),
                    size: meta.size,
                    last_modified: meta.last_modified,
                }),
                Err(err) => Err(classify(OpKind::List, &shown, err)),
            })
            .boxed()
    }

    /// A cheap reachability and credentials probe for startup: one HEAD of a key that does
    /// not exist.
    pub async fn check(&self) -> Result<(), StorageError> {
        let probe = Path::from(PROBE_KEY);
        let full = self.full_path(&probe);
        let started = Instant::now();
        let result = match self.inner.store.head(&full).await {
            Ok(_) => Ok(()),
            Err(err) => match classify(OpKind::Head, &probe, err) {
                StorageError::NotFound { .. } => Ok(()),
                other => Err(other),
            },
        };
        self.record(OpKind::Head, &probe, 0, started, &result);
        result
    }

    /// The last `len` bytes of an object (all of it if shorter) and the object's length.
    async fn get_suffix(&self, path: &Path, len: u64) -> Result<(Bytes, u64), StorageError> {
        let full = self.full_path(path);
        let options = GetOptions::new().with_range(Some(GetRange::Suffix(len)));
        let started = Instant::now();
        let result = async {
            let response = self.inner.store.get_opts(&full, options).await?;
            let object_len = response.meta.size;
            let bytes = response.bytes().await?;
            Ok::<_, object_store::Error>((bytes, object_len))
        }
        .await
        .map_err(|err| classify(OpKind::GetRange, path, err));
        let read = result.as_ref().map_or(0, |(b, _)| b.len() as u64);
        self.record(OpKind::GetRange, path, read, started, &result);
        result
    }

    fn record<T>(
        &self,
        kind: OpKind,
        path: &Path,
        bytes: u64,
        started: Instant,
        result: &Result<T, StorageError>,
    ) {
        self.inner
            .counters
            .record(kind, path, bytes, started.elapsed(), result);
    }

    fn full_path(&self, relative: &Path) -> Path {
        if self.inner.prefix.parts_count() == 0 {
            return relative.clone();
        }
        Path::from_iter(self.inner.prefix.parts().chain(relative.parts()))
    }

    fn relative_path(&self, full: &Path) -> Path {
        match full.prefix_match(&self.inner.prefix) {
            Some(rest) => Path::from_iter(rest),
            None => full.clone(),
        }
    }
}

fn open_local(dir: &std::path::Path) -> Result<(LocalFileSystem, String), StorageError> {
    let shown = dir.display();
    std::fs::create_dir_all(dir).map_err(|err| {
        StorageError::Config(format!("cannot create store directory {shown}: {err}"))
    })?;
    let canonical = std::fs::canonicalize(dir).map_err(|err| {
        StorageError::Config(format!("cannot resolve store directory {shown}: {err}"))
    })?;
    let fs = LocalFileSystem::new_with_prefix(&canonical)
        .map_err(|err| StorageError::Config(format!("cannot open store directory {shown}: {err}")))?
        // Produce acknowledgements promise the data is in the store, so it must survive a
        // machine crash, not just a process crash.
        .with_fsync(true)
        // Date directories empty out as retention deletes segments; drop them with the last file.
        .with_automatic_cleanup(true);
    Ok((fs, canonical.display().to_string()))
}
