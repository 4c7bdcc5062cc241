//! The transaction coordinator's state: transactional id → producer id, epoch, status and the
//! partitions and groups of the open transaction; per partition, the first offsets of the
//! transactions open there (the last stable offset) and the aborted transactions readers must
//! skip. Ending a transaction is one apply, markers included, so Kafka's Prepare states and
//! its marker-writing retries do not exist here.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde::{Deserialize, Serialize};

use crate::command::{GroupOffsets, ProduceError, TxnError, TxnStatus};
use crate::ids::TopicId;

/// One transactional id's producer and its current transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transaction {
    pub(super) producer_id: i64,
    pub(super) epoch: i16,
    pub(super) status: TxnStatus,
    pub(super) timeout_ms: i32,
    /// The partitions of the open transaction, each with the first offset it wrote there
    /// (`None` until its first batch lands).
    pub(super) partitions: BTreeMap<(TopicId, u32), Option<i64>>,
    /// Groups added with AddOffsetsToTxn, each with its pending offsets (TxnOffsetCommit):
    /// applied to the group on commit, dropped on abort.
    pub(super) groups: BTreeMap<String, Option<GroupOffsets>>,
    /// When the open transaction started (its first AddPartitions or AddOffsets).
    pub(super) started_ms: i64,
    pub(super) last_update_ms: i64,
}

impl Transaction {
    pub fn producer_id(&self) -> i64 {
        self.producer_id
    }

    pub fn epoch(&self) -> i16 {
        self.epoch
    }

    pub fn status(&self) -> TxnStatus {
        self.status
    }

    pub fn timeout_ms(&self) -> i32 {
        self.timeout_ms
    }

    /// The open transaction's partitions and the first offset each got, in order.
    pub fn partitions(&self) -> impl Iterator<Item = ((TopicId, u32), Option<i64>)> + '_ {
        self.partitions.iter().map(|(k, v)| (*k, *v))
    }

    /// The groups of the open transaction and their pending offsets.
    pub fn groups(&self) -> impl Iterator<Item = (&str, Option<&GroupOffsets>)> {
        self.groups.iter().map(|(g, o)| (g.as_str(), o.as_ref()))
    }

    pub fn started_ms(&self) -> i64 {
        self.started_ms
    }

    pub fn last_update_ms(&self) -> i64 {
        self.last_update_ms
    }

    /// When the open transaction times out.
    pub(super) fn deadline_ms(&self) -> i64 {
        self.started_ms.saturating_add(i64::from(self.timeout_ms))
    }
}

/// A transaction that was aborted on a partition: readers at READ_COMMITTED drop the
/// producer's batches from `first_offset` up to the ABORT marker at `last_offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AbortedTxn {
    pub producer_id: i64,
    pub first_offset: i64,
    pub last_offset: i64,
}

/// Which producers' batches are aborted at the offset being read, as Kafka's consumer decides
/// (its `abortedProducerIds`): an aborted transaction applies from its first offset until
/// its ABORT marker. Fed batches in offset order, it visits each transaction twice. The
/// archive and key compaction use it to leave aborted records out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AbortedRanges {
    /// Not reached yet, by first offset.
    pending: VecDeque<AbortedTxn>,
    /// Reached, marker not passed.
    active: Vec<AbortedTxn>,
}

impl AbortedRanges {
    pub fn new(mut aborted: Vec<AbortedTxn>) -> Self {
        aborted.sort_by_key(|a| a.first_offset);
        AbortedRanges {
            pending: aborted.into(),
            active: Vec::new(),
        }
    }

    /// Whether a transactional batch of `producer_id` starting at `base_offset` belongs to
    /// an aborted transaction. Calls must come in offset order.
    pub fn is_aborted(&mut self, producer_id: i64, base_offset: i64) -> bool {
        while self
            .pending
            .front()
            .is_some_and(|a| a.first_offset <= base_offset)
        {
            self.active.extend(self.pending.pop_front());
        }
        self.active.retain(|a| a.last_offset > base_offset);
        self.active.iter().any(|a| a.producer_id == producer_id)
    }
}

/// One partition's transactional bookkeeping.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionTxns {
    /// (first offset, producer id) of each transaction open here: the smallest bounds the
    /// last stable offset.
    open: BTreeSet<(i64, i64)>,
    /// Aborted transactions by marker offset; dropped once the log start passes the marker.
    aborted: VecDeque<AbortedTxn>,
}

impl PartitionTxns {
    fn is_empty(&self) -> bool {
        self.open.is_empty() && self.aborted.is_empty()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxnRegistry {
    txns: BTreeMap<String, Transaction>,
    by_producer: BTreeMap<i64, String>,
    /// Open transactions by deadline, so expiry visits only the expired ones.
    deadlines: BTreeSet<(i64, String)>,
    /// Ids with no open transaction by last update, for transactional id expiry.
    idle: BTreeSet<(i64, String)>,
    partitions: BTreeMap<(TopicId, u32), PartitionTxns>,
}

impl TxnRegistry {
    pub fn get(&self, transactional_id: &str) -> Option<&Transaction> {
        self.txns.get(transactional_id)
    }

    /// Every transactional id, ordered.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Transaction)> {
        self.txns.iter().map(|(id, t)| (id.as_str(), t))
    }

    pub fn len(&self) -> usize {
        self.txns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.txns.is_empty()
    }

    /// The transactional id a producer id belongs to.
    pub fn transactional_id_of(&self, producer_id: i64) -> Option<&str> {
        self.by_producer.get(&producer_id).map(String::as_str)
    }

    /// The first offset of the oldest transaction open on the partition, if any.
    pub fn first_open_offset(&self, topic: TopicId, partition: u32) -> Option<i64> {
        self.partitions
            .get(&(topic, partition))
            .and_then(|p| p.open.first())
            .map(|(offset, _)| *offset)
    }

    /// The aborted transactions a read of `from..to` must know: those whose data overlaps it.
    /// Costs the aborted transactions whose markers lie at or after `from`.
    pub fn aborted_overlapping(
        &self,
        topic: TopicId,
        partition: u32,
        from: i64,
        to: i64,
    ) -> impl Iterator<Item = &AbortedTxn> {
        let aborted = self.partitions.get(&(topic, partition)).map(|p| {
            let first = p.aborted.partition_point(|a| a.last_offset < from);
            p.aborted.range(first..)
        });
        aborted
            .into_iter()
            .flatten()
            .filter(move |a| a.first_offset < to)
    }

    /// Whether `ExpireTxns` at `now_ms` would do anything: a transaction open past its
    /// timeout, or an id idle for `id_expiration_ms` (the leader's timer asks before proposing).
    pub fn expiry_due(&self, now_ms: i64, id_expiration_ms: i64) -> bool {
        let cutoff = now_ms.saturating_sub(id_expiration_ms);
        self.deadlines.first().is_some_and(|(d, _)| *d <= now_ms)
            || self.idle.first().is_some_and(|(last, _)| *last < cutoff)
    }

    /// The hot-path check of a batch from a transactional producer (`None`: the producer is
    /// not transactional, plain idempotence rules apply): it must carry the current epoch and
    /// write a partition added to its open transaction.
    pub(super) fn check_batch(
        &self,
        producer_id: i64,
        epoch: i16,
        topic: TopicId,
        partition: u32,
    ) -> Option<Result<(), ProduceError>> {
        if self.by_producer.is_empty() {
            return None;
        }
        let txn = self
            .by_producer
            .get(&producer_id)
            .and_then(|id| self.txns.get(id))?;
        Some(if epoch != txn.epoch {
            Err(ProduceError::InvalidProducerEpoch {
                current: txn.epoch,
                got: epoch,
            })
        } else if txn.status != TxnStatus::Ongoing
            || !txn.partitions.contains_key(&(topic, partition))
        {
            Err(ProduceError::InvalidTxnState)
        } else {
            Ok(())
        })
    }

    /// Notes that an appended batch of a transactional producer started at `base_offset`:
    /// the first one of its transaction on the partition holds the last stable offset.
    pub(super) fn record_batch(
        &mut self,
        producer_id: i64,
        topic: TopicId,
        partition: u32,
        base_offset: i64,
    ) {
        let Some(txn) = self
            .by_producer
            .get(&producer_id)
            .and_then(|id| self.txns.get_mut(id))
        else {
            return;
        };
        if let Some(first @ None) = txn.partitions.get_mut(&(topic, partition)) {
            *first = Some(base_offset);
            self.partitions
                .entry((topic, partition))
                .or_default()
                .open
                .insert((base_offset, producer_id));
        }
    }

    /// Drops the aborted transactions whose markers the log start has passed.
    pub(super) fn truncated(&mut self, topic: TopicId, partition: u32, log_start: i64) {
        let key = (topic, partition);
        let Some(p) = self.partitions.get_mut(&key) else {
            return;
        };
        while p.aborted.front().is_some_and(|a| a.last_offset < log_start) {
            p.aborted.pop_front();
        }
        if p.is_empty() {
            self.partitions.remove(&key);
        }
    }

    /// Forgets a deleted topic's partitions (open transactions keep naming them; ending them
    /// writes no marker there).
    pub(super) fn forget_topic(&mut self, topic: TopicId) {
        let keys: Vec<(TopicId, u32)> = self
            .partitions
            .range((topic, 0)..=(topic, u32::MAX))
            .map(|(k, _)| *k)
            .collect();
        for key in keys {
            self.partitions.remove(&key);
        }
    }

    pub(super) fn get_mut(&mut self, transactional_id: &str) -> Option<&mut Transaction> {
        self.txns.get_mut(transactional_id)
    }

    /// The transaction of `producer`, when its producer id and epoch are the current ones.
    pub(super) fn current(
        &mut self,
        transactional_id: &str,
        producer_id: i64,
        epoch: i16,
    ) -> Result<&mut Transaction, TxnError> {
        let txn = self
            .txns
            .get_mut(transactional_id)
            .ok_or(TxnError::UnknownTransactionalId)?;
        if txn.producer_id != producer_id {
            return Err(TxnError::InvalidProducerIdMapping {
                current: txn.producer_id,
                got: producer_id,
            });
        }
        if txn.epoch != epoch {
            return Err(TxnError::ProducerFenced {
                current: txn.epoch,
                got: epoch,
            });
        }
        Ok(txn)
    }

    /// Inserts or replaces a transactional id's record, keeping the indexes.
    pub(super) fn put(&mut self, transactional_id: &str, txn: Transaction) {
        if let Some(old) = self.txns.remove(transactional_id) {
            self.unindex(transactional_id, &old);
        }
        self.index(transactional_id, &txn);
        self.txns.insert(transactional_id.to_string(), txn);
    }

    /// Moves an id between the deadline and idle indexes after its status or times changed:
    /// call with its record as it was before the change.
    pub(super) fn reindex(&mut self, transactional_id: &str, before: (TxnStatus, i64, i64)) {
        let (status, deadline, last_update) = before;
        let id = transactional_id.to_string();
        match status {
            TxnStatus::Ongoing => self.deadlines.remove(&(deadline, id)),
            _ => self.idle.remove(&(last_update, id)),
        };
        if let Some(txn) = self.txns.get(transactional_id) {
            let txn = txn.clone();
            self.index(transactional_id, &txn);
        }
    }

    fn index(&mut self, transactional_id: &str, txn: &Transaction) {
        let id = transactional_id.to_string();
        self.by_producer.insert(txn.producer_id, id.clone());
        match txn.status {
            TxnStatus::Ongoing => self.deadlines.insert((txn.deadline_ms(), id)),
            _ => self.idle.insert((txn.last_update_ms, id)),
        };
    }

    fn unindex(&mut self, transactional_id: &str, txn: &Transaction) {
        let id = transactional_id.to_string();
        self.by_producer.remove(&txn.producer_id);
        match txn.status {
            TxnStatus::Ongoing => self.deadlines.remove(&(txn.deadline_ms(), id)),
            _ => self.idle.remove(&(txn.last_update_ms, id)),
        };
    }

    /// Removes an idle id.
    pub(super) fn remove(&mut self, transactional_id: &str) {
        if let Some(old) = self.txns.remove(transactional_id) {
            self.unindex(transactional_id, &old);
        }
    }

    /// Up to `max` open transactions whose deadline is at or before `now_ms`.
    pub(super) fn expired(&self, now_ms: i64, max: usize) -> Vec<String> {
        self.deadlines
            .iter()
            .take_while(|(deadline, _)| *deadline <= now_ms)
            .take(max)
            .map(|(_, id)| id.clone())
            .collect()
    }

    /// Up to `max` ids with no open transaction, last updated before `cutoff_ms`.
    pub(super) fn idle_before(&self, cutoff_ms: i64, max: usize) -> Vec<String> {
        self.idle
            .iter()
            .take_while(|(last, _)| *last < cutoff_ms)
            .take(max)
            .map(|(_, id)| id.clone())
            .collect()
    }

    /// Records what ending a transaction did on one partition: its open entry goes, and an
    /// abort that wrote data there is remembered until the log start passes `marker_offset`.
    pub(super) fn ended_on(
        &mut self,
        at: (TopicId, u32),
        producer_id: i64,
        first_offset: Option<i64>,
        abort_marker: Option<i64>,
    ) {
        let Some(first_offset) = first_offset else {
            return;
        };
        let p = self.partitions.entry(at).or_default();
        p.open.remove(&(first_offset, producer_id));
        if let Some(last_offset) = abort_marker {
            p.aborted.push_back(AbortedTxn {
                producer_id,
                first_offset,
                last_offset,
            });
        }
        if p.is_empty() {
            self.partitions.remove(&at);
        }
    }
}
