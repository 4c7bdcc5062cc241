//! CommitSegment: offset assignment, idempotence checks and index appends. This runs once per
//! flushed segment for every partition in it, so it works per batch and never per record.

use super::ControllerState;
use super::object::ObjectMeta;
use super::partition::PartitionLog;
use super::producer::{
    CachedBatch, PRODUCER_IDLE_EXPIRY_MS, PRODUCER_SWEEP_INTERVAL_MS, ProducerExpiryIndex,
    ProducerPartitionState, ProducerRegistry, SequenceVerdict, sequence_after,
};
use super::txn::TxnRegistry;
use crate::command::COLLECTED_OBJECT_ID;
use crate::command::{
    BatchCommit, BatchOutcome, BatchProblem, ChunkCommit, ChunkOutcome, ProduceError,
    SegmentCommit, SegmentCommitResult,
};
use crate::ids::TopicId;
use crate::index_entry::IndexEntry;

/// Everything a chunk append needs besides the partition itself.
struct ChunkContext<'a> {
    object_id: u64,
    object_size: u64,
    now_ms: i64,
    topic: TopicId,
    partition: u32,
    expiry: &'a mut ProducerExpiryIndex,
    registry: &'a mut ProducerRegistry,
    txns: &'a mut TxnRegistry,
}

impl ControllerState {
    pub(super) fn commit_segment(&mut self, commit: &SegmentCommit) -> SegmentCommitResult {
        if self
            .condemned
            .refuses(&commit.object_key, commit.append_time_ms)
        {
            // The collector may already have deleted the object: register nothing.
            return SegmentCommitResult {
                object_id: COLLECTED_OBJECT_ID,
                chunks: vec![ChunkOutcome::ObjectCollected; commit.chunks.len()],
            };
        }
        // Command time only moves forward, so broker clock skew cannot make state "younger".
        self.clock_ms = self.clock_ms.max(commit.append_time_ms);
        self.maybe_expire_producers();

        // The id register_object will hand out below, once the entries are counted.
        let object_id = self.next_object_id;
        let mut live_entries: u32 = 0;
        let mut chunks = Vec::with_capacity(commit.chunks.len());
        for chunk in &commit.chunks {
            let log = self
                .topics
                .get_mut(&chunk.topic_id)
                .and_then(|t| t.partitions.get_mut(usize::try_from(chunk.partition).ok()?));
            let Some(log) = log else {
                chunks.push(ChunkOutcome::UnknownTopicOrPartition);
                continue;
            };
            let mut ctx = ChunkContext {
                object_id,
                object_size: commit.object_size,
                now_ms: self.clock_ms,
                topic: chunk.topic_id,
                partition: chunk.partition,
                expiry: &mut self.producer_expiry,
                registry: &mut self.producers,
                txns: &mut self.txns,
            };
            let outcome = append_chunk(log, chunk, &mut ctx);
            if let ChunkOutcome::Committed { entries, .. } = &outcome {
                live_entries =
                    live_entries.saturating_add(u32::try_from(entries.len()).unwrap_or(u32::MAX));
            }
            chunks.push(outcome);
        }
        let registered = self.register_object(
            ObjectMeta {
                key: commit.object_key.clone(),
                size: commit.object_size,
                broker_id: commit.broker_id,
                created_ms: commit.append_time_ms,
                live_entries,
            },
            false,
        );
        debug_assert_eq!(registered, object_id);
        SegmentCommitResult { object_id, chunks }
    }

    /// Drops producer state idle for more than 7 days, at most once per hour of command time,
    /// visiting only the index buckets old enough to hold such state.
    fn maybe_expire_producers(&mut self) {
        let now = self.clock_ms;
        if self
            .last_producer_sweep_ms
            .is_some_and(|last| now.saturating_sub(last) < PRODUCER_SWEEP_INTERVAL_MS)
        {
            return;
        }
        self.last_producer_sweep_ms = Some(now);
        let cutoff = now.saturating_sub(PRODUCER_IDLE_EXPIRY_MS);
        for key in self.producer_expiry.candidates(cutoff) {
            let (_, topic, partition, producer_id) = key;
            let log = self
                .topics
                .get_mut(&topic)
                .and_then(|t| t.partitions.get_mut(usize::try_from(partition).ok()?));
            let expired = match log.as_ref().and_then(|l| l.producers.get(&producer_id)) {
                Some(state) => state.last_update_ms() < cutoff,
                None => true,
            };
            if expired {
                if let Some(log) = log {
                    log.producers.remove(&producer_id);
                }
                self.producer_expiry.remove_key(&key);
            }
        }
        self.producers.expire(cutoff);
    }
}

fn invalid(problem: BatchProblem) -> BatchOutcome {
    BatchOutcome::Rejected(ProduceError::InvalidBatch(problem))
}

fn append_chunk(
    log: &mut PartitionLog,
    chunk: &ChunkCommit,
    ctx: &mut ChunkContext<'_>,
) -> ChunkOutcome {
    let mut batches = Vec::with_capacity(chunk.batches.len());
    let mut entries = Vec::new();
    let mut run: Option<IndexEntry> = None;
    // None once the byte positions overflow; every later batch is then rejected.
    let mut position = Some(chunk.position);
    for batch in &chunk.batches {
        let start = position;
        position = start.and_then(|p| p.checked_add(u64::from(batch.len)));
        let outcome = match (start, position) {
            (Some(start), Some(end)) => append_batch(log, batch, start, end, ctx),
            _ => invalid(BatchProblem::RangeOverflow),
        };
        match (&outcome, start) {
            (BatchOutcome::Appended { base_offset }, Some(start)) => {
                let last_offset = base_offset + i64::from(batch.offset_count) - 1;
                run = extend_run(
                    log,
                    &mut entries,
                    run,
                    ctx.object_id,
                    start,
                    *base_offset,
                    last_offset,
                    batch,
                );
            }
            _ => close_run(log, &mut entries, run.take()),
        }
        batches.push(outcome);
    }
    close_run(log, &mut entries, run);
    ChunkOutcome::Committed { batches, entries }
}

/// Adds an appended batch to the current run of index entry bytes, starting a new run when
/// the bytes are not adjacent or the run's length would overflow.
#[allow(clippy::too_many_arguments)]
fn extend_run(
    log: &mut PartitionLog,
    entries: &mut Vec<IndexEntry>,
    run: Option<IndexEntry>,
    object_id: u64,
    start: u64,
    base_offset: i64,
    last_offset: i64,
    batch: &BatchCommit,
) -> Option<IndexEntry> {
    if let Some(mut current) = run {
        let adjacent = current.position + u64::from(current.len) == start
            && current.last_offset + 1 == base_offset;
        if let (true, Some(len)) = (adjacent, current.len.checked_add(batch.len)) {
            current.len = len;
            current.last_offset = last_offset;
            current.max_timestamp = current.max_timestamp.max(batch.max_timestamp);
            return Some(current);
        }
        close_run(log, entries, Some(current));
    }
    Some(IndexEntry {
        base_offset,
        last_offset,
        object_id,
        position: start,
        len: batch.len,
        max_timestamp: batch.max_timestamp,
    })
}

fn close_run(log: &mut PartitionLog, entries: &mut Vec<IndexEntry>, run: Option<IndexEntry>) {
    if let Some(entry) = run {
        log.push_entry(entry);
        entries.push(entry);
    }
}

fn append_batch(
    log: &mut PartitionLog,
    batch: &BatchCommit,
    start: u64,
    end: u64,
    ctx: &mut ChunkContext<'_>,
) -> BatchOutcome {
    if batch.len == 0 {
        return invalid(BatchProblem::ZeroLength);
    }
    if batch.offset_count == 0 {
        return invalid(BatchProblem::NoOffsets);
    }
    if end > ctx.object_size {
        return invalid(BatchProblem::BeyondObject {
            start,
            end,
            object_size: ctx.object_size,
        });
    }
    let idempotent = batch.producer_id >= 0;
    if idempotent && (batch.base_sequence < 0 || batch.producer_epoch < 0) {
        return invalid(BatchProblem::NegativeSequenceOrEpoch);
    }
    let Some((base_offset, end_offset)) = log.next_offsets(batch.offset_count) else {
        return invalid(BatchProblem::OffsetsExhausted);
    };
    if idempotent {
        let cached = CachedBatch {
            first_seq: batch.base_sequence,
            last_seq: sequence_after(batch.base_sequence, batch.offset_count - 1),
            base_offset,
        };
        let txn = ctx.txns.check_batch(
            batch.producer_id,
            batch.producer_epoch,
            ctx.topic,
            ctx.partition,
        );
        if let Some(Err(refused)) = txn {
            // A retry of a batch appended before the transaction ended is still a duplicate.
            return match duplicate_of(log, batch, cached) {
                Some(outcome) => outcome,
                None => BatchOutcome::Rejected(refused),
            };
        }
        if let Some(outcome) = record_producer_batch(log, batch, cached, ctx) {
            return outcome;
        }
        if txn.is_some() {
            ctx.txns
                .record_batch(batch.producer_id, ctx.topic, ctx.partition, base_offset);
        }
    }
    log.advance(base_offset, end_offset, batch.max_timestamp);
    BatchOutcome::Appended { base_offset }
}

/// The earlier append a batch repeats, if it is one.
fn duplicate_of(
    log: &PartitionLog,
    batch: &BatchCommit,
    cached: CachedBatch,
) -> Option<BatchOutcome> {
    let state = log.producers.get(&batch.producer_id)?;
    match state.check(batch.producer_epoch, cached.first_seq, cached.last_seq) {
        SequenceVerdict::Duplicate { base_offset } => Some(BatchOutcome::Duplicate { base_offset }),
        _ => None,
    }
}

/// Applies the sequence rules; `Some` is a duplicate or rejection, `None` means append (and the
/// producer state already records the batch).
fn record_producer_batch(
    log: &mut PartitionLog,
    batch: &BatchCommit,
    cached: CachedBatch,
    ctx: &mut ChunkContext<'_>,
) -> Option<BatchOutcome> {
    let (pid, epoch, now) = (batch.producer_id, batch.producer_epoch, ctx.now_ms);
    match log.producers.get_mut(&pid) {
        None => {
            log.producers
                .insert(pid, ProducerPartitionState::new(epoch, cached, now));
            ctx.expiry.track(now, ctx.topic, ctx.partition, pid);
            ctx.registry.touch(pid, now);
        }
        Some(state) => match state.check(epoch, cached.first_seq, cached.last_seq) {
            SequenceVerdict::Duplicate { base_offset } => {
                return Some(BatchOutcome::Duplicate { base_offset });
            }
            SequenceVerdict::Reject(e) => return Some(BatchOutcome::Rejected(e)),
            SequenceVerdict::Append => {
                let previous_update = state.last_update_ms();
                state.record(epoch, cached, now);
                ctx.expiry
                    .retouch(previous_update, now, ctx.topic, ctx.partition, pid);
                ctx.registry.touch(pid, now);
            }
        },
    }
    None
}
