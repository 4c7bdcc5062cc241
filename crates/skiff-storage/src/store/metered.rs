//! `MeteredStore`: an `ObjectStore` wrapper that reports every request to the
//! `skiff_object_store_*` metrics (see [`crate::metric_names`]).
//!
//! What is counted, and where:
//! - It wraps the backend as built, so for S3 it sits outside object_store's own retries: one
//!   counted request is one logical request, which may have made up to `max_retries` extra
//!   HTTP attempts, and its latency includes the retry backoff. object_store does not expose
//!   its attempts; `file://` and `memory://` never retry, so there a request is an attempt.
//! - Gets (`get`, `get_range`) are timed until the body is fully read, because that is where
//!   the time goes; a body dropped half-read is recorded when dropped, with the bytes read so
//!   far. Local-file bodies are read here (one read of the requested range, exactly what
//!   `GetResult::bytes` would do), so do not use this wrapper to stream huge local files.
//! - `head` and `list_with_delimiter` end when their answer arrives; `list` ends when its
//!   stream is exhausted (all pages, for S3).
//! - A delete is counted per object as its result arrives, timed from the `delete_stream`
//!   call; Skiff deletes one object per call, so that is the request's latency.
//! - A multipart upload is one put, from its creation until `complete`; an aborted or
//!   abandoned upload counts as a failed put.
//! - Copies and renames pass through unmetered: they are not among the kinds.

use std::ops::Range;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Instant;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::DateTime;
use futures::stream::{BoxStream, Stream, StreamExt};
use object_store::path::Path;
use object_store::{
    Attributes, CopyOptions, Extensions, GetOptions, GetResult, GetResultPayload, ListResult,
    MultipartUpload, ObjectMeta, ObjectStore, PutMultipartOptions, PutOptions, PutPayload,
    PutResult, RenameOptions, UploadPart,
};

use super::request_metrics::{RequestKind, RequestMetrics};

/// An object store that meters every request it forwards. Metric handles are registered in
/// [`MeteredStore::new`] with the recorder installed at that moment.
#[derive(Clone)]
pub struct MeteredStore {
    inner: Arc<dyn ObjectStore>,
    metrics: Arc<RequestMetrics>,
}

impl MeteredStore {
    pub fn new(inner: Arc<dyn ObjectStore>) -> Self {
        Self {
            inner,
            metrics: Arc::new(RequestMetrics::register()),
        }
    }
}

impl std::fmt::Debug for MeteredStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MeteredStore")
            .field("inner", &self.inner)
            .finish()
    }
}

impl std::fmt::Display for MeteredStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Metered({})", self.inner)
    }
}

#[async_trait]
impl ObjectStore for MeteredStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        let metrics = self.metrics.kind(RequestKind::Put);
        let bytes = payload.content_length() as u64;
        let started = metrics.started();
        let result = self.inner.put_opts(location, payload, opts).await;
        let sent = if result.is_ok() { bytes } else { 0 };
        metrics.finished(started, sent, result.is_err());
        result
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        let metrics = self.metrics.kind(RequestKind::Put);
        let started = metrics.started();
        match self.inner.put_multipart_opts(location, opts).await {
            Ok(upload) => Ok(Box::new(MeteredUpload {
                inner: upload,
                metrics: Arc::clone(&self.metrics),
                started,
                bytes: 0,
                part_failed: Arc::new(AtomicBool::new(false)),
                finished: false,
            })),
            Err(err) => {
                metrics.finished(started, 0, true);
                Err(err)
            }
        }
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        let kind = if options.head {
            RequestKind::Head
        } else if options.range.is_some() {
            RequestKind::GetRange
        } else {
            RequestKind::Get
        };
        let metrics = self.metrics.kind(kind);
        let started = metrics.started();
        let result = match self.inner.get_opts(location, options).await {
            Ok(result) => result,
            Err(err) => {
                metrics.finished(started, 0, true);
                return Err(err);
            }
        };
        if kind == RequestKind::Head {
            metrics.finished(started, 0, false);
            return Ok(result);
        }
        let GetResult {
            payload,
            meta,
            range,
            attributes,
            extensions,
        } = result;
        let payload = match payload {
            GetResultPayload::Stream(body) => GetResultPayload::Stream(
                MeteredStream::new(body, Arc::clone(&self.metrics), kind, started).boxed(),
            ),
            GetResultPayload::File(file, path) => {
                match read_local_body(file, path, range.clone()).await {
                    Ok(body) => {
                        metrics.finished(started, body.len() as u64, false);
                        GetResultPayload::Stream(futures::stream::once(async { Ok(body) }).boxed())
                    }
                    Err(err) => {
                        metrics.finished(started, 0, true);
                        return Err(err);
                    }
                }
            }
        };
        Ok(GetResult {
            payload,
            meta,
            range,
            attributes,
            extensions,
        })
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        let metrics = Arc::clone(&self.metrics);
        let called = Instant::now();
        self.inner
            .delete_stream(locations)
            .inspect(move |result| {
                let delete = metrics.kind(RequestKind::Delete);
                delete.started();
                delete.finished(called, 0, result.is_err());
            })
            .boxed()
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        let started = self.metrics.kind(RequestKind::List).started();
        let listing = self.inner.list(prefix);
        MeteredStream::new(
            listing,
            Arc::clone(&self.metrics),
            RequestKind::List,
            started,
        )
        .boxed()
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        let started = self.metrics.kind(RequestKind::List).started();
        let listing = self.inner.list_with_offset(prefix, offset);
        MeteredStream::new(
            listing,
            Arc::clone(&self.metrics),
            RequestKind::List,
            started,
        )
        .boxed()
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        let metrics = self.metrics.kind(RequestKind::List);
        let started = metrics.started();
        let result = self.inner.list_with_delimiter(prefix).await;
        metrics.finished(started, 0, result.is_err());
        result
    }

    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        self.inner.copy_opts(from, to, options).await
    }

    async fn rename_opts(
        &self,
        from: &Path,
        to: &Path,
        options: RenameOptions,
    ) -> object_store::Result<()> {
        self.inner.rename_opts(from, to, options).await
    }
}

/// Reads a local file's range the way `GetResult::bytes` does (on a blocking thread), so
/// the read is inside the timed request.
async fn read_local_body(
    file: std::fs::File,
    path: std::path::PathBuf,
    range: Range<u64>,
) -> object_store::Result<Bytes> {
    // `bytes()` reads a file payload from `range` alone; a placeholder meta avoids cloning the
    // real one (a path string per request) just to have it consumed.
    let placeholder = ObjectMeta {
        location: Path::default(),
        last_modified: DateTime::default(),
        size: 0,
        e_tag: None,
        version: None,
    };
    GetResult {
        payload: GetResultPayload::File(file, path),
        meta: placeholder,
        range,
        attributes: Attributes::default(),
        extensions: Extensions::default(),
    }
    .bytes()
    .await
}

/// How many payload bytes a streamed item carries.
trait PayloadLen {
    fn payload_len(&self) -> u64;
}

impl PayloadLen for Bytes {
    fn payload_len(&self) -> u64 {
        self.len() as u64
    }
}

impl PayloadLen for ObjectMeta {
    fn payload_len(&self) -> u64 {
        0
    }
}

/// A response stream (a get body or a listing) that records its request when it ends, fails,
/// or is dropped unfinished.
struct MeteredStream<T> {
    inner: BoxStream<'static, object_store::Result<T>>,
    metrics: Arc<RequestMetrics>,
    kind: RequestKind,
    started: Instant,
    bytes: u64,
    recorded: bool,
}

impl<T> MeteredStream<T> {
    fn new(
        inner: BoxStream<'static, object_store::Result<T>>,
        metrics: Arc<RequestMetrics>,
        kind: RequestKind,
        started: Instant,
    ) -> Self {
        Self {
            inner,
            metrics,
            kind,
            started,
            bytes: 0,
            recorded: false,
        }
    }

    fn record(&mut self, failed: bool) {
        if !self.recorded {
            self.recorded = true;
            self.metrics
                .kind(self.kind)
                .finished(self.started, self.bytes, failed);
        }
    }
}

impl<T: PayloadLen> Stream for MeteredStream<T> {
    type Item = object_store::Result<T>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let polled = this.inner.poll_next_unpin(cx);
        match &polled {
            Poll::Ready(Some(Ok(item))) => this.bytes += item.payload_len(),
            Poll::Ready(Some(Err(_))) => this.record(true),
            Poll::Ready(None) => this.record(false),
            Poll::Pending => {}
        }
        polled
    }
}

impl<T> Drop for MeteredStream<T> {
    fn drop(&mut self) {
        // The reader stopped early: not a store failure, so record what was read.
        self.record(false);
    }
}

/// A multipart upload metered as one put, recorded once: at `complete`, `abort` or drop.
#[derive(Debug)]
struct MeteredUpload {
    inner: Box<dyn MultipartUpload>,
    metrics: Arc<RequestMetrics>,
    started: Instant,
    bytes: u64,
    /// Set by a failed part future, which may finish after `put_part` returned.
    part_failed: Arc<AtomicBool>,
    finished: bool,
}

impl MeteredUpload {
    fn record(&mut self, succeeded: bool) {
        if self.finished {
            return;
        }
        self.finished = true;
        let failed = !succeeded || self.part_failed.load(Ordering::Relaxed);
        let sent = if failed { 0 } else { self.bytes };
        self.metrics
            .kind(RequestKind::Put)
            .finished(self.started, sent, failed);
    }
}

#[async_trait]
impl MultipartUpload for MeteredUpload {
    fn put_part(&mut self, data: PutPayload) -> UploadPart {
        self.bytes += data.content_length() as u64;
        let part_failed = Arc::clone(&self.part_failed);
        let part = self.inner.put_part(data);
        Box::pin(async move {
            let result = part.await;
            if result.is_err() {
                part_failed.store(true, Ordering::Relaxed);
            }
            result
        })
    }

    async fn complete(&mut self) -> object_store::Result<PutResult> {
        let result = self.inner.complete().await;
        self.record(result.is_ok());
        result
    }

    async fn abort(&mut self) -> object_store::Result<()> {
        let result = self.inner.abort().await;
        // The object was not created, so the put did not succeed whatever abort returned.
        self.record(false);
        result
    }
}

impl Drop for MeteredUpload {
    fn drop(&mut self) {
        self.record(false);
    }
}
