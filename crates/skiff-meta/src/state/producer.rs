//! Idempotent-producer bookkeeping: per-(producer, partition) sequence state, the producer id
//! registry, and the time-bucketed index that lets idle state expire without scanning every
//! partition.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::command::{ProduceError, ProducerError, ProducerIdAndEpoch};
use crate::ids::TopicId;

/// Producer state idle for longer than this (in command time) is dropped.
pub const PRODUCER_IDLE_EXPIRY_MS: i64 = 7 * 24 * 60 * 60 * 1000;
/// Expiry runs at most this often (in command time); also the expiry index's bucket width.
pub const PRODUCER_SWEEP_INTERVAL_MS: i64 = 60 * 60 * 1000;
/// Batches remembered per producer and partition for duplicate detection (Kafka's number).
pub const CACHED_BATCHES_PER_PRODUCER: usize = 5;
/// The first producer id handed out.
pub const FIRST_PRODUCER_ID: i64 = 1000;

pub(crate) fn time_bucket(ms: i64) -> i64 {
    ms.div_euclid(PRODUCER_SWEEP_INTERVAL_MS)
}

/// `seq + count` in Kafka's sequence space, which wraps from `i32::MAX` to 0.
pub(crate) fn sequence_after(seq: i32, count: u32) -> i32 {
    let space = i64::from(i32::MAX) + 1;
    // rem_euclid keeps the result in 0..=i32::MAX, so the narrowing cannot lose bits.
    (i64::from(seq) + i64::from(count)).rem_euclid(space) as i32
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct CachedBatch {
    pub first_seq: i32,
    pub last_seq: i32,
    pub base_offset: i64,
}

/// What the sequence rules say about one batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SequenceVerdict {
    Append,
    Duplicate { base_offset: i64 },
    Reject(ProduceError),
}

/// One producer's sequence state on one partition: its epoch and its last few batches, kept in
/// a fixed ring so recording a batch never allocates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProducerPartitionState {
    epoch: i16,
    recent: [CachedBatch; CACHED_BATCHES_PER_PRODUCER],
    recent_len: u8,
    newest: u8,
    last_update_ms: i64,
}

impl ProducerPartitionState {
    pub(crate) fn new(epoch: i16, batch: CachedBatch, now_ms: i64) -> Self {
        let mut recent = [CachedBatch::default(); CACHED_BATCHES_PER_PRODUCER];
        recent[0] = batch;
        ProducerPartitionState {
            epoch,
            recent,
            recent_len: 1,
            newest: 0,
            last_update_ms: now_ms,
        }
    }

    pub fn epoch(&self) -> i16 {
        self.epoch
    }

    /// The sequence number of the last record appended.
    pub fn last_sequence(&self) -> i32 {
        self.newest_batch().last_seq
    }

    /// The base offset of the most recently appended batch.
    pub fn last_batch_base_offset(&self) -> i64 {
        self.newest_batch().base_offset
    }

    /// Command time of the last append.
    pub fn last_update_ms(&self) -> i64 {
        self.last_update_ms
    }

    fn newest_batch(&self) -> CachedBatch {
        self.recent
            .get(usize::from(self.newest))
            .copied()
            .unwrap_or_default()
    }

    fn cached(&self) -> impl Iterator<Item = &CachedBatch> {
        self.recent.iter().take(usize::from(self.recent_len))
    }

    pub(crate) fn check(&self, epoch: i16, first_seq: i32, last_seq: i32) -> SequenceVerdict {
        if epoch < self.epoch {
            return SequenceVerdict::Reject(ProduceError::InvalidProducerEpoch {
                current: self.epoch,
                got: epoch,
            });
        }
        if epoch > self.epoch {
            return if first_seq == 0 {
                SequenceVerdict::Append
            } else {
                SequenceVerdict::Reject(ProduceError::OutOfOrderSequence {
                    expected: 0,
                    got: first_seq,
                })
            };
        }
        if let Some(dup) = self
            .cached()
            .find(|b| b.first_seq == first_seq && b.last_seq == last_seq)
        {
            return SequenceVerdict::Duplicate {
                base_offset: dup.base_offset,
            };
        }
        let expected = sequence_after(self.last_sequence(), 1);
        if first_seq == expected {
            SequenceVerdict::Append
        } else {
            SequenceVerdict::Reject(ProduceError::OutOfOrderSequence {
                expected,
                got: first_seq,
            })
        }
    }

    /// Records an appended batch; a new epoch forgets the old epoch's batches.
    pub(crate) fn record(&mut self, epoch: i16, batch: CachedBatch, now_ms: i64) {
        if epoch != self.epoch {
            *self = ProducerPartitionState::new(epoch, batch, now_ms);
            return;
        }
        let slot = (usize::from(self.newest) + 1) % CACHED_BATCHES_PER_PRODUCER;
        if let Some(cell) = self.recent.get_mut(slot) {
            *cell = batch;
        }
        // slot < CACHED_BATCHES_PER_PRODUCER (5), so it fits in u8.
        self.newest = slot as u8;
        self.recent_len = self
            .recent_len
            .saturating_add(1)
            .min(CACHED_BATCHES_PER_PRODUCER as u8);
        self.last_update_ms = now_ms;
    }
}

/// Which (producer, partition) states were last touched in which hour, so expiry visits only
/// the states that can have expired.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ProducerExpiryIndex {
    by_bucket: BTreeSet<(i64, TopicId, u32, i64)>,
}

impl ProducerExpiryIndex {
    pub fn track(&mut self, last_update_ms: i64, topic: TopicId, partition: u32, producer_id: i64) {
        self.by_bucket
            .insert((time_bucket(last_update_ms), topic, partition, producer_id));
    }

    pub fn forget(
        &mut self,
        last_update_ms: i64,
        topic: TopicId,
        partition: u32,
        producer_id: i64,
    ) {
        self.by_bucket
            .remove(&(time_bucket(last_update_ms), topic, partition, producer_id));
    }

    /// Moves a state's key when its last update crossed into a new bucket (at most hourly).
    pub fn retouch(
        &mut self,
        old_ms: i64,
        new_ms: i64,
        topic: TopicId,
        partition: u32,
        producer_id: i64,
    ) {
        if time_bucket(old_ms) != time_bucket(new_ms) {
            self.forget(old_ms, topic, partition, producer_id);
            self.track(new_ms, topic, partition, producer_id);
        }
    }

    /// Keys in buckets that may hold states last touched before `cutoff_ms`.
    pub fn candidates(&self, cutoff_ms: i64) -> Vec<(i64, TopicId, u32, i64)> {
        let last_bucket = time_bucket(cutoff_ms.saturating_sub(1));
        self.by_bucket
            .iter()
            .take_while(|k| k.0 <= last_bucket)
            .copied()
            .collect()
    }

    pub fn remove_key(&mut self, key: &(i64, TopicId, u32, i64)) {
        self.by_bucket.remove(key);
    }

    pub fn len(&self) -> usize {
        self.by_bucket.len()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct RegisteredProducer {
    epoch: i16,
    last_active_ms: i64,
}

/// Allocated producer ids with their current epochs. Entries idle (no InitProducerId and no
/// appends) for longer than [`PRODUCER_IDLE_EXPIRY_MS`] are dropped, so the registry grows with
/// active producers, not with every producer that ever connected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ProducerRegistry {
    next_id: i64,
    producers: BTreeMap<i64, RegisteredProducer>,
    by_bucket: BTreeSet<(i64, i64)>,
}

impl Default for ProducerRegistry {
    fn default() -> Self {
        ProducerRegistry {
            next_id: FIRST_PRODUCER_ID,
            producers: BTreeMap::new(),
            by_bucket: BTreeSet::new(),
        }
    }
}

impl ProducerRegistry {
    pub fn init(
        &mut self,
        current: Option<(i64, i16)>,
        now_ms: i64,
    ) -> Result<ProducerIdAndEpoch, ProducerError> {
        let Some((id, epoch)) = current.filter(|(id, _)| *id >= 0) else {
            return self.allocate(now_ms);
        };
        let registered = self
            .producers
            .get(&id)
            .copied()
            .ok_or(ProducerError::UnknownProducerId)?;
        if registered.epoch != epoch {
            return Err(ProducerError::InvalidProducerEpoch);
        }
        if epoch == i16::MAX {
            // Kafka's answer to an exhausted epoch: a fresh id starting again at epoch 0.
            self.remove(id);
            return self.allocate(now_ms);
        }
        let bumped = epoch + 1;
        self.upsert(id, bumped, now_ms);
        Ok(ProducerIdAndEpoch { id, epoch: bumped })
    }

    /// A fresh producer id that this registry does not track (a transactional producer's,
    /// whose epoch the transaction coordinator keeps).
    pub fn allocate_id(&mut self) -> Result<i64, ProducerError> {
        let id = self.next_id;
        self.next_id = id
            .checked_add(1)
            .ok_or(ProducerError::ProducerIdsExhausted)?;
        Ok(id)
    }

    fn allocate(&mut self, now_ms: i64) -> Result<ProducerIdAndEpoch, ProducerError> {
        let id = self.next_id;
        self.next_id = id
            .checked_add(1)
            .ok_or(ProducerError::ProducerIdsExhausted)?;
        self.upsert(id, 0, now_ms);
        Ok(ProducerIdAndEpoch { id, epoch: 0 })
    }

    fn upsert(&mut self, id: i64, epoch: i16, now_ms: i64) {
        if let Some(old) = self.producers.insert(
            id,
            RegisteredProducer {
                epoch,
                last_active_ms: now_ms,
            },
        ) {
            self.by_bucket
                .remove(&(time_bucket(old.last_active_ms), id));
        }
        self.by_bucket.insert((time_bucket(now_ms), id));
    }

    fn remove(&mut self, id: i64) {
        if let Some(old) = self.producers.remove(&id) {
            self.by_bucket
                .remove(&(time_bucket(old.last_active_ms), id));
        }
    }

    /// Marks a registered producer as active; cheap enough to call on every bucket change.
    pub fn touch(&mut self, id: i64, now_ms: i64) {
        if let Some(p) = self.producers.get_mut(&id) {
            let old = p.last_active_ms;
            p.last_active_ms = now_ms;
            if time_bucket(old) != time_bucket(now_ms) {
                self.by_bucket.remove(&(time_bucket(old), id));
                self.by_bucket.insert((time_bucket(now_ms), id));
            }
        }
    }

    pub fn epoch(&self, id: i64) -> Option<i16> {
        self.producers.get(&id).map(|p| p.epoch)
    }

    /// Whether `id` was handed out already (ids are never reused).
    pub fn allocated(&self, id: i64) -> bool {
        (FIRST_PRODUCER_ID..self.next_id).contains(&id)
    }

    pub fn len(&self) -> usize {
        self.producers.len()
    }

    /// Drops producers idle since before `cutoff_ms`, visiting only the buckets that can hold them.
    pub fn expire(&mut self, cutoff_ms: i64) {
        let last_bucket = time_bucket(cutoff_ms.saturating_sub(1));
        let candidates: Vec<(i64, i64)> = self
            .by_bucket
            .iter()
            .take_while(|k| k.0 <= last_bucket)
            .copied()
            .collect();
        for (_, id) in candidates {
            if self
                .producers
                .get(&id)
                .is_some_and(|p| p.last_active_ms < cutoff_ms)
            {
                self.remove(id);
            }
        }
    }
}
