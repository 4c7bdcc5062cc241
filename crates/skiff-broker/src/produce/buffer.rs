use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;
use skiff_meta::{BatchCommit, SegmentCommitResult, TopicId};
use skiff_records::BatchSummary;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::Instant;

use super::failure::FlushFailure;

/// A partition as the write path names it: topic by id, never by string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PartitionKey {
    pub topic_id: TopicId,
    pub partition: u32,
}

/// One partition's validated record set from a produce request.
pub struct PartitionAppend<'a> {
    pub key: PartitionKey,
    pub records: Bytes,
    pub batches: &'a [BatchSummary],
}

/// Where one appended record set sits in its segment: chunk index and batch range, matching the
/// order of `ChunkOutcome`s and `BatchOutcome`s in the commit result.
#[derive(Debug, Clone, Copy)]
pub struct AppendTicket {
    pub chunk: usize,
    pub first_batch: usize,
    pub batch_count: usize,
}

pub type SegmentOutcome = Result<SegmentCommitResult, FlushFailure>;
type OutcomeSlot = Option<Arc<SegmentOutcome>>;

/// Lets a produce request wait for the commit of the segment its batches went into. All
/// requests in one segment share one channel, so waiting costs no allocation per request.
pub struct SegmentWaiter(watch::Receiver<OutcomeSlot>);

impl SegmentWaiter {
    pub async fn wait(mut self) -> Arc<SegmentOutcome> {
        match self.0.wait_for(Option::is_some).await {
            Ok(slot) => slot
                .clone()
                .unwrap_or_else(|| Arc::new(Err(FlushFailure::Abandoned))),
            Err(_) => Arc::new(Err(FlushFailure::Abandoned)),
        }
    }
}

/// One partition's data in the pending segment: record sets back to back, as received.
pub(crate) struct ChunkBuffer {
    pub key: PartitionKey,
    pub pieces: Vec<Bytes>,
    pub batches: Vec<BatchCommit>,
    pub bytes: u64,
    pub records: u32,
    pub min_timestamp: i64,
    pub max_timestamp: i64,
}

impl ChunkBuffer {
    fn new(key: PartitionKey) -> Self {
        ChunkBuffer {
            key,
            pieces: Vec::new(),
            batches: Vec::new(),
            bytes: 0,
            records: 0,
            min_timestamp: i64::MAX,
            max_timestamp: i64::MIN,
        }
    }

    fn push(&mut self, records: Bytes, batches: &[BatchSummary]) {
        for b in batches {
            self.batches.push(BatchCommit {
                len: b.len as u32,
                offset_count: b.offset_count,
                record_count: b.record_count,
                max_timestamp: b.max_timestamp,
                producer_id: b.producer_id,
                producer_epoch: b.producer_epoch,
                base_sequence: b.base_sequence,
            });
            self.records = self.records.saturating_add(b.record_count);
            self.min_timestamp = self.min_timestamp.min(b.base_timestamp);
            self.max_timestamp = self.max_timestamp.max(b.max_timestamp);
        }
        self.bytes += records.len() as u64;
        self.pieces.push(records);
    }
}

/// A segment taken out of the buffer for upload; its producers wait on `outcome`.
pub(crate) struct SealedSegment {
    pub chunks: Vec<ChunkBuffer>,
    pub bytes: usize,
    pub outcome: watch::Sender<OutcomeSlot>,
    /// Memory the segment's data holds; released when the segment is dropped after its commit.
    pub _memory: Option<OwnedSemaphorePermit>,
}

struct PendingSegment {
    chunks: Vec<ChunkBuffer>,
    by_partition: HashMap<PartitionKey, usize>,
    bytes: usize,
    opened_at: Option<Instant>,
    outcome: watch::Sender<OutcomeSlot>,
    memory: Option<OwnedSemaphorePermit>,
}

impl PendingSegment {
    fn empty() -> Self {
        PendingSegment {
            chunks: Vec::new(),
            by_partition: HashMap::new(),
            bytes: 0,
            opened_at: None,
            outcome: watch::channel(None).0,
            memory: None,
        }
    }
}

struct BufferState {
    pending: PendingSegment,
    closed: bool,
}

/// Returned by [`ProduceBuffer::append`] once the broker is shutting down.
#[derive(Debug)]
pub struct BufferClosed;

/// The broker's one pending segment, shared by every partition and connection.
///
/// Appends take a short mutex (no await inside); memory is admitted beforehand through a
/// semaphore so a burst of producers waits instead of growing the buffer without limit.
pub struct ProduceBuffer {
    state: Mutex<BufferState>,
    memory: Arc<Semaphore>,
    memory_limit: usize,
    flush_bytes: usize,
    wake: Notify,
}

impl ProduceBuffer {
    pub fn new(flush_bytes: usize, max_pending_bytes: usize) -> Self {
        let memory_limit = max_pending_bytes.min(Semaphore::MAX_PERMITS);
        ProduceBuffer {
            state: Mutex::new(BufferState {
                pending: PendingSegment::empty(),
                closed: false,
            }),
            memory: Arc::new(Semaphore::new(memory_limit)),
            memory_limit,
            flush_bytes,
            wake: Notify::new(),
        }
    }

    /// Waits until `bytes` of produce data may be held in memory. A request larger than the
    /// whole budget waits for the buffer to drain completely and then goes through alone.
    pub async fn reserve(&self, bytes: usize) -> Option<OwnedSemaphorePermit> {
        let permits = bytes.min(self.memory_limit).min(u32::MAX as usize) as u32;
        self.memory.clone().acquire_many_owned(permits).await.ok()
    }

    /// Appends one produce request's record sets to the pending segment, all in the same
    /// segment, and returns where each landed plus a way to wait for the commit.
    pub fn append<'a>(
        &self,
        memory: OwnedSemaphorePermit,
        parts: impl IntoIterator<Item = PartitionAppend<'a>>,
    ) -> Result<(SegmentWaiter, Vec<AppendTicket>), BufferClosed> {
        let mut state = self.state.lock();
        if state.closed {
            return Err(BufferClosed);
        }
        let pending = &mut state.pending;
        let was_empty = pending.bytes == 0;
        let mut tickets = Vec::new();
        for part in parts {
            let next = pending.chunks.len();
            let chunk = *pending.by_partition.entry(part.key).or_insert(next);
            if chunk == next {
                pending.chunks.push(ChunkBuffer::new(part.key));
            }
            pending.bytes += part.records.len();
            let buffer = &mut pending.chunks[chunk];
            tickets.push(AppendTicket {
                chunk,
                first_batch: buffer.batches.len(),
                batch_count: part.batches.len(),
            });
            buffer.push(part.records, part.batches);
        }
        match pending.memory.as_mut() {
            Some(held) => held.merge(memory),
            None => pending.memory = Some(memory),
        }
        if was_empty && pending.bytes > 0 {
            pending.opened_at = Some(Instant::now());
        }
        let waiter = SegmentWaiter(pending.outcome.subscribe());
        let due = (was_empty && pending.bytes > 0) || pending.bytes >= self.flush_bytes;
        drop(state);
        if due {
            self.wake.notify_one();
        }
        Ok((waiter, tickets))
    }

    /// Refuses further appends; what is already buffered is still sealed and flushed.
    pub(crate) fn close(&self) {
        self.state.lock().closed = true;
        self.wake.notify_one();
    }

    /// Takes the pending segment if it holds anything.
    pub(crate) fn seal(&self) -> Option<SealedSegment> {
        let mut state = self.state.lock();
        if state.pending.bytes == 0 {
            return None;
        }
        let taken = std::mem::replace(&mut state.pending, PendingSegment::empty());
        Some(SealedSegment {
            chunks: taken.chunks,
            bytes: taken.bytes,
            outcome: taken.outcome,
            _memory: taken.memory,
        })
    }

    /// Bytes pending and when the first of them arrived.
    pub(crate) fn status(&self) -> (usize, Option<Instant>) {
        let state = self.state.lock();
        (state.pending.bytes, state.pending.opened_at)
    }

    pub(crate) fn flush_bytes(&self) -> usize {
        self.flush_bytes
    }

    /// Resolves when an append made the segment non-empty or full, or the buffer closed.
    pub(crate) async fn woken(&self) {
        self.wake.notified().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use skiff_records::Compression;

    fn summary(len: usize, records: u32) -> BatchSummary {
        BatchSummary {
            position: 0,
            len,
            offset_count: records,
            record_count: records,
            base_timestamp: 10,
            max_timestamp: 20,
            producer_id: -1,
            producer_epoch: -1,
            base_sequence: -1,
            transactional: false,
            compression: Compression::None,
        }
    }

    fn key(partition: u32) -> PartitionKey {
        PartitionKey {
            topic_id: TopicId::from_u128(7),
            partition,
        }
    }

    #[tokio::test]
    async fn appends_to_one_chunk_per_partition_and_tickets_point_at_them() {
        let buffer = ProduceBuffer::new(1 << 20, 1 << 20);
        let batches = [summary(100, 3)];
        let permit = buffer.reserve(200).await.unwrap();
        let parts = [0, 1].map(|p| PartitionAppend {
            key: key(p),
            records: Bytes::from(vec![0; 100]),
            batches: &batches,
        });
        let (_, first) = buffer.append(permit, parts).unwrap();
        let permit = buffer.reserve(100).await.unwrap();
        let again = [PartitionAppend {
            key: key(1),
            records: Bytes::from(vec![0; 100]),
            batches: &batches,
        }];
        let (_, second) = buffer.append(permit, again).unwrap();

        assert_eq!((first[0].chunk, first[1].chunk), (0, 1));
        assert_eq!((second[0].chunk, second[0].first_batch), (1, 1));
        let sealed = buffer.seal().unwrap();
        assert_eq!(sealed.bytes, 300);
        assert_eq!(sealed.chunks.len(), 2);
        assert_eq!(sealed.chunks[1].pieces.len(), 2);
        assert_eq!(sealed.chunks[1].records, 6);
        assert!(buffer.seal().is_none(), "sealing empties the buffer");
    }

    #[tokio::test]
    async fn memory_is_held_until_the_sealed_segment_is_dropped() {
        let buffer = ProduceBuffer::new(1 << 20, 1000);
        let batches = [summary(600, 1)];
        let permit = buffer.reserve(600).await.unwrap();
        let part = [PartitionAppend {
            key: key(0),
            records: Bytes::from(vec![0; 600]),
            batches: &batches,
        }];
        buffer.append(permit, part).unwrap();
        // Only 400 bytes remain, so a 600-byte reservation must wait.
        let blocked =
            tokio::time::timeout(std::time::Duration::from_millis(50), buffer.reserve(600)).await;
        assert!(blocked.is_err());
        drop(buffer.seal());
        assert!(buffer.reserve(600).await.is_some());
    }

    #[tokio::test]
    async fn closed_buffer_refuses_appends() {
        let buffer = ProduceBuffer::new(1 << 20, 1 << 20);
        buffer.close();
        let permit = buffer.reserve(1).await.unwrap();
        assert!(buffer.append(permit, []).is_err());
    }

    #[tokio::test]
    async fn waiters_see_the_outcome_sent_for_their_segment() {
        let buffer = ProduceBuffer::new(1 << 20, 1 << 20);
        let batches = [summary(10, 1)];
        let permit = buffer.reserve(10).await.unwrap();
        let part = [PartitionAppend {
            key: key(0),
            records: Bytes::from(vec![0; 10]),
            batches: &batches,
        }];
        let (waiter, _) = buffer.append(permit, part).unwrap();
        let sealed = buffer.seal().unwrap();
        sealed
            .outcome
            .send_replace(Some(Arc::new(Err(FlushFailure::Abandoned))));
        let outcome = waiter.wait().await;
        assert!(matches!(
            outcome.as_ref().as_ref().unwrap_err(),
            FlushFailure::Abandoned
        ));
    }
}
