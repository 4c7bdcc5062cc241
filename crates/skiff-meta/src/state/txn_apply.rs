//! Applying the transaction coordinator's commands (see `command/txns.rs`). Each is one call of
//! a transactional client and costs the partitions and groups it names.

use std::collections::BTreeMap;

use super::ControllerState;
use super::txn::Transaction;
use crate::command::{
    AddOffsetsToTxn, AddPartitionsToTxn, EndTxn, ExpireTxns, GroupOffsets, InitTxnProducer,
    PartitionRef, ProducerError, ProducerIdAndEpoch, TxnEnded, TxnError, TxnOffsetCommit,
    TxnProducer, TxnStatus, TxnsExpired,
};
use crate::ids::TopicId;
use crate::index_entry::{IndexEntry, TxnMarker};

/// Kafka bumps to a new producer id when the epoch would reach this, leaving room for the
/// fencing bump of an abort.
const LAST_USABLE_EPOCH: i16 = i16::MAX - 1;

impl ControllerState {
    pub(super) fn init_txn_producer(
        &mut self,
        init: &InitTxnProducer,
    ) -> Result<ProducerIdAndEpoch, TxnError> {
        self.clock_ms = self.clock_ms.max(init.now_ms);
        if init.timeout_ms <= 0 {
            return Err(TxnError::InvalidTransactionTimeout(init.timeout_ms));
        }
        let now = self.clock_ms;
        let id = init.transactional_id.as_str();
        let Some(txn) = self.txns.get(id) else {
            let producer_id = self.allocate_producer_id()?;
            self.txns
                .put(id, fresh(producer_id, 0, init.timeout_ms, now));
            return Ok(ProducerIdAndEpoch {
                id: producer_id,
                epoch: 0,
            });
        };
        let (producer_id, epoch, status) = (txn.producer_id, txn.epoch, txn.status);
        // KIP-360: a producer recovering with the id and epoch it holds may bump them; any
        // other holder was fenced by a newer instance.
        if let Some((held_id, held_epoch)) = init.current.filter(|(id, _)| *id >= 0)
            && (held_id, held_epoch) != (producer_id, epoch)
        {
            return Err(TxnError::ProducerFenced {
                current: epoch,
                got: held_epoch,
            });
        }
        let (new_id, new_epoch) = if epoch >= LAST_USABLE_EPOCH {
            (self.allocate_producer_id()?, 0)
        } else {
            (producer_id, epoch + 1)
        };
        if status == TxnStatus::Ongoing {
            // The old instance's transaction ends here, its markers already fencing it.
            let marker_epoch = if new_id == producer_id {
                new_epoch
            } else {
                i16::MAX
            };
            self.finish_transaction(id, false, marker_epoch, now);
        }
        self.txns
            .put(id, fresh(new_id, new_epoch, init.timeout_ms, now));
        Ok(ProducerIdAndEpoch {
            id: new_id,
            epoch: new_epoch,
        })
    }

    fn allocate_producer_id(&mut self) -> Result<i64, TxnError> {
        self.producers
            .allocate_id()
            .map_err(|_: ProducerError| TxnError::ProducerIdsExhausted)
    }

    pub(super) fn add_partitions_to_txn(
        &mut self,
        add: &AddPartitionsToTxn,
    ) -> Result<(), TxnError> {
        self.clock_ms = self.clock_ms.max(add.now_ms);
        let unknown: Vec<(TopicId, u32)> = add
            .partitions
            .iter()
            .filter(|(topic_id, partition)| {
                let at = PartitionRef {
                    topic_id: *topic_id,
                    partition: *partition,
                };
                self.partition_log(at).is_none()
            })
            .copied()
            .collect();
        let now = self.clock_ms;
        self.txns.current(
            &add.producer.transactional_id,
            add.producer.producer_id,
            add.producer.epoch,
        )?;
        if !unknown.is_empty() {
            return Err(TxnError::UnknownTopicOrPartition(unknown));
        }
        self.update_txn(&add.producer.transactional_id, |txn| {
            begin(txn, now);
            for at in &add.partitions {
                txn.partitions.entry(*at).or_insert(None);
            }
        });
        Ok(())
    }

    pub(super) fn add_offsets_to_txn(&mut self, add: &AddOffsetsToTxn) -> Result<(), TxnError> {
        self.clock_ms = self.clock_ms.max(add.now_ms);
        let now = self.clock_ms;
        self.txns.current(
            &add.producer.transactional_id,
            add.producer.producer_id,
            add.producer.epoch,
        )?;
        self.update_txn(&add.producer.transactional_id, |txn| {
            begin(txn, now);
            txn.groups.entry(add.group_id.clone()).or_insert(None);
        });
        Ok(())
    }

    pub(super) fn txn_offset_commit(&mut self, commit: &TxnOffsetCommit) -> Result<(), TxnError> {
        let offsets = &commit.offsets;
        self.clock_ms = self.clock_ms.max(offsets.commit_time_ms);
        let now = self.clock_ms;
        let txn = self.txns.current(
            &commit.producer.transactional_id,
            commit.producer.producer_id,
            commit.producer.epoch,
        )?;
        if txn.status != TxnStatus::Ongoing {
            return Err(TxnError::InvalidTxnState(txn.status));
        }
        if !txn.groups.contains_key(&offsets.group_id) {
            return Err(TxnError::GroupNotInTransaction(offsets.group_id.clone()));
        }
        self.update_txn(&commit.producer.transactional_id, |txn| {
            txn.last_update_ms = now;
            let Some(slot) = txn.groups.get_mut(&offsets.group_id) else {
                return;
            };
            let pending = slot.get_or_insert_with(|| GroupOffsets {
                group_id: offsets.group_id.clone(),
                commit_time_ms: offsets.commit_time_ms,
                partitions: Vec::new(),
            });
            pending.commit_time_ms = offsets.commit_time_ms;
            // A later commit of the same partition replaces the earlier one.
            let mut merged: BTreeMap<(TopicId, u32), _> = pending
                .partitions
                .drain(..)
                .map(|p| ((p.topic_id, p.partition), p))
                .collect();
            for p in &offsets.partitions {
                merged.insert((p.topic_id, p.partition), p.clone());
            }
            pending.partitions = merged.into_values().collect();
        });
        Ok(())
    }

    pub(super) fn end_txn(&mut self, end: &EndTxn) -> Result<TxnEnded, TxnError> {
        self.clock_ms = self.clock_ms.max(end.now_ms);
        let now = self.clock_ms;
        let TxnProducer {
            transactional_id,
            producer_id,
            epoch,
        } = &end.producer;
        let txn = self.txns.current(transactional_id, *producer_id, *epoch)?;
        match (txn.status, end.commit) {
            (TxnStatus::Ongoing, _) => {}
            // A retry of the call that ended it (its answer was lost) succeeds again.
            (TxnStatus::CompleteCommit, true) | (TxnStatus::CompleteAbort, false) => {
                return Ok(TxnEnded {
                    markers: Vec::new(),
                });
            }
            (status, _) => return Err(TxnError::InvalidTxnState(status)),
        }
        let markers = self.finish_transaction(transactional_id, end.commit, *epoch, now);
        Ok(TxnEnded { markers })
    }

    pub(super) fn expire_txns(&mut self, expire: &ExpireTxns) -> TxnsExpired {
        self.clock_ms = self.clock_ms.max(expire.now_ms);
        let now = self.clock_ms;
        let max = usize::try_from(expire.max_aborts).unwrap_or(usize::MAX);
        let mut answer = TxnsExpired::default();
        for id in self.txns.expired(now, max) {
            let Some(txn) = self.txns.get(&id) else {
                continue;
            };
            let epoch = txn.epoch;
            // Kafka bumps the epoch of a timed-out producer: the abort fences it, so its next
            // call fails instead of writing into a transaction that no longer exists.
            let bumped = epoch.saturating_add(1);
            self.finish_transaction(&id, false, bumped, now);
            self.update_txn(&id, |txn| txn.epoch = bumped);
            answer.aborted.push(id);
        }
        let cutoff = now.saturating_sub(expire.id_expiration_ms);
        for id in self.txns.idle_before(cutoff, max) {
            self.txns.remove(&id);
            answer.forgotten.push(id);
        }
        answer
    }

    /// Ends the open transaction of `transactional_id`: a COMMIT or ABORT marker with
    /// `marker_epoch` at the next offset of each of its partitions (assigned here, so after
    /// every batch the producer had acknowledged), its pending group offsets applied on commit,
    /// and the transaction left complete. Returns the markers written.
    fn finish_transaction(
        &mut self,
        transactional_id: &str,
        commit: bool,
        marker_epoch: i16,
        now: i64,
    ) -> Vec<(TopicId, u32, i64)> {
        let Some(txn) = self.txns.get_mut(transactional_id) else {
            return Vec::new();
        };
        let producer_id = txn.producer_id;
        let partitions = std::mem::take(&mut txn.partitions);
        let groups = std::mem::take(&mut txn.groups);
        let mut markers = Vec::with_capacity(partitions.len());
        for ((topic, partition), first_offset) in partitions {
            let at = PartitionRef {
                topic_id: topic,
                partition,
            };
            let offset = self.partition_log_mut(at).and_then(|log| {
                log.append_marker(IndexEntry::marker(TxnMarker {
                    offset: log.high_watermark(),
                    producer_id,
                    producer_epoch: marker_epoch,
                    commit,
                    timestamp: now,
                }))
            });
            if let Some(offset) = offset {
                markers.push((topic, partition, offset));
            }
            let abort_marker = offset.filter(|_| !commit);
            self.txns
                .ended_on((topic, partition), producer_id, first_offset, abort_marker);
        }
        if commit {
            for offsets in groups.into_values().flatten() {
                self.commit_group_offsets(&offsets);
            }
        }
        let status = match commit {
            true => TxnStatus::CompleteCommit,
            false => TxnStatus::CompleteAbort,
        };
        self.update_txn(transactional_id, |txn| {
            txn.status = status;
            txn.last_update_ms = now;
        });
        markers
    }

    /// Changes one transaction and keeps the registry's indexes in step.
    fn update_txn<R>(
        &mut self,
        transactional_id: &str,
        change: impl FnOnce(&mut Transaction) -> R,
    ) -> Option<R> {
        let txn = self.txns.get_mut(transactional_id)?;
        let before = (txn.status, txn.deadline_ms(), txn.last_update_ms);
        let answer = change(txn);
        self.txns.reindex(transactional_id, before);
        Some(answer)
    }
}

/// A transactional id's record right after InitProducerId.
fn fresh(producer_id: i64, epoch: i16, timeout_ms: i32, now: i64) -> Transaction {
    Transaction {
        producer_id,
        epoch,
        status: TxnStatus::Empty,
        timeout_ms,
        partitions: BTreeMap::new(),
        groups: BTreeMap::new(),
        started_ms: now,
        last_update_ms: now,
    }
}

/// Starts a transaction on its first AddPartitions or AddOffsets.
fn begin(txn: &mut Transaction, now: i64) {
    if txn.status != TxnStatus::Ongoing {
        txn.status = TxnStatus::Ongoing;
        txn.started_ms = now;
    }
    txn.last_update_ms = now;
}
