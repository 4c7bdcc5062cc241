use std::sync::Arc;
use std::time::Duration;

use skiff_meta::{
    COLLECTED_OBJECT_ID, ChunkCommit, ChunkOutcome, Propose, SegmentCommit, SegmentCommitResult,
};
use skiff_storage::ObjectPath as Path;
use skiff_storage::{
    ChunkCache, ChunkKey, ChunkMeta, SegmentBuilder, SegmentStore, StorageError, segment_path,
};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::buffer::{ProduceBuffer, SealedSegment};
use super::failure::FlushFailure;
use crate::clock::now_ms;
use crate::metrics::FlushMetrics;
use crate::recent_segments::{RecentChunk, RecentSegment, RecentSegments};
use skiff_meta::ControllerClient;

/// How long an upload may take before the log says so (and again each time this passes).
const SLOW_UPLOAD_WARNING: Duration = Duration::from_secs(5);

/// Everything the flush pipeline works with.
pub struct FlushDeps {
    pub buffer: Arc<ProduceBuffer>,
    pub store: SegmentStore,
    pub cache: ChunkCache,
    pub controller: Arc<dyn ControllerClient>,
    pub recent: Arc<RecentSegments>,
    pub broker_id: i32,
    /// The longest a batch waits for its flush.
    pub flush_interval: Duration,
    /// The shortest time between two seals. A segment is sealed early, as soon as no flush is
    /// in progress and this long has passed since the last seal (group commit), so a batch
    /// waits only when waiting can make the next flush larger.
    pub min_flush_interval: Duration,
    pub max_in_flight: usize,
    pub metrics: FlushMetrics,
}

/// A segment whose upload has started; the committer takes these strictly in seal order so a
/// producer's batches are committed in the order they arrived, while uploads overlap.
struct InFlightFlush {
    sealed: SealedSegment,
    path: Path,
    size: u64,
    positions: Vec<u64>,
    sealed_at: Instant,
    upload: JoinHandle<Result<(), StorageError>>,
}

/// The two background tasks of the write path: the sealer decides when the pending segment is
/// due and starts its upload; the committer waits for uploads in order, commits each through
/// the controller, fills the cache, and answers the producers.
pub struct Flusher {
    sealer: JoinHandle<()>,
    committer: JoinHandle<()>,
}

impl Flusher {
    pub fn spawn(deps: FlushDeps, shutdown: CancellationToken) -> Flusher {
        let deps = Arc::new(deps);
        let (tx, rx) = mpsc::channel(deps.max_in_flight);
        let (unanswered_tx, unanswered_rx) = watch::channel(0usize);
        let unanswered_tx = Arc::new(unanswered_tx);
        let sealer = tokio::spawn(seal_loop(
            deps.clone(),
            tx,
            Pipeline {
                unanswered: unanswered_tx.clone(),
                changed: unanswered_rx,
                last_seal: None,
            },
            shutdown,
        ));
        let committer = tokio::spawn(commit_loop(deps, rx, unanswered_tx));
        Flusher { sealer, committer }
    }

    /// Waits until, after shutdown was signalled, the last segment is flushed and committed.
    pub async fn join(self) {
        if let Err(e) = self.sealer.await {
            warn!(error = %e, "segment sealer task failed");
        }
        if let Err(e) = self.committer.await {
            warn!(error = %e, "segment committer task failed");
        }
    }
}

/// What the sealer knows of the flushes after it: how many sealed segments are not yet
/// answered (the committer counts them down), and when it last sealed.
struct Pipeline {
    unanswered: Arc<watch::Sender<usize>>,
    changed: watch::Receiver<usize>,
    last_seal: Option<Instant>,
}

async fn seal_loop(
    deps: Arc<FlushDeps>,
    uploads: mpsc::Sender<InFlightFlush>,
    mut pipeline: Pipeline,
    shutdown: CancellationToken,
) {
    loop {
        let stopping = wait_until_due(&deps, &mut pipeline, &shutdown).await;
        if stopping {
            // Refuse new appends first, then flush whatever made it in.
            deps.buffer.close();
        }
        if let Some(sealed) = deps.buffer.seal() {
            pipeline.last_seal = Some(Instant::now());
            pipeline.unanswered.send_modify(|n| *n += 1);
            let flight = start_upload(&deps, sealed);
            if uploads.send(flight).await.is_err() {
                warn!("segment committer stopped; sealer exits");
                return;
            }
        }
        if stopping {
            return;
        }
    }
}

/// Returns when the pending segment should be sealed (`false`) or shutdown began (`true`).
///
/// A segment is due when it is full, when its first batch has waited `flush_interval`, or
/// (group commit) when every earlier flush has been answered and `min_flush_interval` has
/// passed since the last seal: then nothing is gained by waiting, because the producers whose
/// batches are pending are already waiting on this flush. While a flush is in progress new
/// batches gather behind it, so segments grow with the load instead of with the clock. On a
/// store billed per request the minimum equals the interval, which keeps the promise of at
/// most one PUT per interval.
async fn wait_until_due(
    deps: &FlushDeps,
    pipeline: &mut Pipeline,
    shutdown: &CancellationToken,
) -> bool {
    loop {
        let idle = *pipeline.changed.borrow_and_update() == 0;
        let (bytes, opened_at) = deps.buffer.status();
        if bytes >= deps.buffer.flush_bytes() {
            return false;
        }
        match opened_at {
            Some(opened) if bytes > 0 => {
                let mut deadline = opened + deps.flush_interval;
                if idle {
                    let spaced = match pipeline.last_seal {
                        Some(sealed) => sealed + deps.min_flush_interval,
                        None => opened,
                    };
                    deadline = deadline.min(spaced);
                }
                if Instant::now() >= deadline {
                    return false;
                }
                tokio::select! {
                    _ = sleep_until(deadline) => return false,
                    _ = deps.buffer.woken() => {}
                    _ = pipeline.changed.changed() => {}
                    _ = shutdown.cancelled() => return true,
                }
            }
            _ => {
                tokio::select! {
                    _ = deps.buffer.woken() => {}
                    _ = shutdown.cancelled() => return true,
                }
            }
        }
    }
}

fn start_upload(deps: &FlushDeps, sealed: SealedSegment) -> InFlightFlush {
    let sealed_at = Instant::now();
    let created_ms = now_ms();
    let path = segment_path(deps.broker_id, created_ms);
    let mut builder = SegmentBuilder::new(deps.broker_id, created_ms);
    for chunk in &sealed.chunks {
        let meta = ChunkMeta {
            topic_id: chunk.key.topic_id,
            partition: chunk.key.partition,
            batch_count: chunk.batches.len() as u32,
            record_count: chunk.records,
            min_timestamp: chunk.min_timestamp,
            max_timestamp: chunk.max_timestamp,
        };
        builder.push_chunk(meta, chunk.pieces.clone());
    }
    let encoded = builder.finish();
    let positions: Vec<u64> = encoded.chunks.iter().map(|c| c.position).collect();
    let size = encoded.len;
    let recent = RecentSegment {
        chunks: sealed
            .chunks
            .iter()
            .zip(&encoded.chunks)
            .map(|(chunk, location)| RecentChunk {
                position: location.position,
                len: location.len,
                pieces: chunk.pieces.clone(),
            })
            .collect(),
    };
    deps.recent.insert(path.to_string(), Arc::new(recent));
    debug!(object = %path, bytes = size, chunks = positions.len(), "uploading segment");
    let store = deps.store.clone();
    let upload_path = path.clone();
    let upload_seconds = deps.metrics.upload_seconds.clone();
    let upload = tokio::spawn(async move {
        let started = Instant::now();
        let result = match store.put_segment(&upload_path, encoded).await {
            // Segment paths are unique per flush, so "already exists" can only be our own
            // earlier attempt of this same PUT that landed before a retry.
            Err(StorageError::AlreadyExists { .. }) => Ok(()),
            other => other,
        };
        upload_seconds.record(started.elapsed().as_secs_f64());
        result
    });
    InFlightFlush {
        sealed,
        path,
        size,
        positions,
        sealed_at,
        upload,
    }
}

async fn commit_loop(
    deps: Arc<FlushDeps>,
    mut uploads: mpsc::Receiver<InFlightFlush>,
    unanswered: Arc<watch::Sender<usize>>,
) {
    while let Some(mut flight) = uploads.recv().await {
        let outcome = match wait_for_upload(&mut flight).await {
            Ok(Ok(())) => commit(&deps, &mut flight).await,
            Ok(Err(e)) => {
                warn!(object = %flight.path, error = %e, "segment upload failed; producers will retry");
                Err(FlushFailure::Upload(e))
            }
            Err(e) => Err(FlushFailure::UploadTask(e)),
        };
        match &outcome {
            Ok(result) => {
                let counts = &deps.metrics;
                counts.flushes.increment(1);
                counts.bytes.record(flight.size as f64);
                counts
                    .seconds
                    .record(flight.sealed_at.elapsed().as_secs_f64());
                fill_cache(&deps, &flight, result);
            }
            Err(_) => deps.metrics.errors.increment(1),
        }
        deps.recent.remove(flight.path.as_ref());
        flight.sealed.outcome.send_replace(Some(Arc::new(outcome)));
        unanswered.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// Waits for the segment's upload, warning while it is slow so a stalled store shows up in
/// the log long before the store client's own timeout fails the write.
async fn wait_for_upload(
    flight: &mut InFlightFlush,
) -> Result<Result<(), StorageError>, tokio::task::JoinError> {
    let started = Instant::now();
    loop {
        match tokio::time::timeout(SLOW_UPLOAD_WARNING, &mut flight.upload).await {
            Ok(done) => return done,
            Err(_) => warn!(
                object = %flight.path,
                bytes = flight.size,
                waited_ms = started.elapsed().as_millis() as u64,
                "segment upload is slow; producers are waiting for the object store"
            ),
        }
    }
}

async fn commit(
    deps: &FlushDeps,
    flight: &mut InFlightFlush,
) -> Result<SegmentCommitResult, FlushFailure> {
    let chunks = flight
        .sealed
        .chunks
        .iter_mut()
        .zip(&flight.positions)
        .map(|(chunk, &position)| ChunkCommit {
            topic_id: chunk.key.topic_id,
            partition: chunk.key.partition,
            position,
            batches: std::mem::take(&mut chunk.batches),
        })
        .collect();
    let commit = SegmentCommit {
        object_key: flight.path.to_string(),
        object_size: flight.size,
        broker_id: deps.broker_id,
        append_time_ms: now_ms(),
        chunks,
    };
    match deps.controller.propose(commit).await {
        Ok(result) if result.object_id == COLLECTED_OBJECT_ID => {
            warn!(object = %flight.path, "segment commit refused: the controller's collector deleted the object first (upload to commit took longer than its grace period); producers will retry");
            Ok(result)
        }
        Ok(result) => {
            debug!(object = %flight.path, object_id = result.object_id, bytes = flight.sealed.bytes, "segment committed");
            Ok(result)
        }
        Err(e) => {
            warn!(object = %flight.path, error = %e, "segment commit failed; producers will retry");
            Err(FlushFailure::Commit(e))
        }
    }
}

/// Puts each new index entry's bytes, with real offsets, into the cache, so consumers tailing
/// this broker never read back from the object store what it just wrote.
fn fill_cache(deps: &FlushDeps, flight: &InFlightFlush, result: &SegmentCommitResult) {
    let Some(recent) = deps.recent.get(flight.path.as_ref()) else {
        return;
    };
    for outcome in &result.chunks {
        let ChunkOutcome::Committed { entries, .. } = outcome else {
            continue;
        };
        for entry in entries {
            let Some(mut bytes) = recent.copy_range(entry.position, u64::from(entry.len)) else {
                warn!(object = %flight.path, position = entry.position, "committed entry outside the uploaded chunks");
                continue;
            };
            match skiff_records::assign_run_offsets(
                &mut bytes,
                entry.base_offset,
                entry.last_offset,
            ) {
                Ok(()) => deps.cache.insert(
                    ChunkKey {
                        object_id: result.object_id,
                        position: entry.position,
                    },
                    bytes.freeze(),
                ),
                Err(e) => {
                    warn!(object = %flight.path, error = %e, "could not patch offsets for the cache")
                }
            }
        }
    }
}
