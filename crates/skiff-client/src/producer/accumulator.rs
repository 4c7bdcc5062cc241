//! Records waiting to be sent, grouped into one open batch per partition, and the batches
//! sealed for the sender. Shared by the producer handle and its sender task under a short
//! mutex that is never held across an await.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use kafka_protocol::records::Record;
use tokio::sync::{Notify, watch};

use crate::error::ClientError;

/// What the broker said about one batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BatchAck {
    /// -1 with acks=0, where no answer comes.
    pub base_offset: i64,
    /// The broker's append time for LogAppendTime topics, else -1.
    pub log_append_time: i64,
}

/// One batch's outcome, shared by every record's delivery future.
pub(crate) struct BatchShared {
    pub topic: Arc<str>,
    pub partition: i32,
    outcome: OnceLock<Result<BatchAck, ClientError>>,
    done: Notify,
    /// Turns true when the producer is gone, so no delivery future waits forever.
    pub closed: watch::Receiver<bool>,
}

impl BatchShared {
    pub(crate) fn new(topic: Arc<str>, partition: i32, closed: watch::Receiver<bool>) -> Self {
        BatchShared {
            topic,
            partition,
            outcome: OnceLock::new(),
            done: Notify::new(),
            closed,
        }
    }

    pub(crate) fn resolve(&self, outcome: Result<BatchAck, ClientError>) {
        if self.outcome.set(outcome).is_ok() {
            self.done.notify_waiters();
        }
    }

    pub(crate) fn outcome(&self) -> Option<&Result<BatchAck, ClientError>> {
        self.outcome.get()
    }

    pub(crate) async fn wait(&self) -> Result<BatchAck, ClientError> {
        let mut closed = self.closed.clone();
        loop {
            let notified = self.done.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(outcome) = self.outcome.get() {
                return outcome.clone();
            }
            if *closed.borrow() {
                return Err(ClientError::ProducerClosed);
            }
            tokio::select! {
                () = &mut notified => {}
                changed = closed.changed() => {
                    if changed.is_err() {
                        // The producer is gone; nothing can resolve this batch any more.
                        return self.outcome.get().cloned().unwrap_or(Err(ClientError::ProducerClosed));
                    }
                }
            }
        }
    }
}

pub(crate) struct OpenBatch {
    pub shared: Arc<BatchShared>,
    pub records: Vec<Record>,
    pub bytes: usize,
    pub opened: Instant,
}

/// A batch closed to new records, waiting for the sender.
pub(crate) struct SealedBatch {
    pub shared: Arc<BatchShared>,
    pub records: Vec<Record>,
    pub bytes: usize,
}

#[derive(Default)]
pub(crate) struct Accumulator {
    /// Open batches by topic, then partition.
    pub open: HashMap<Arc<str>, HashMap<i32, OpenBatch>>,
    /// Sealed batches in the order they were sealed (so per-partition order holds).
    pub sealed: VecDeque<SealedBatch>,
    /// Bytes in open, sealed and in-flight batches.
    pub buffered_bytes: usize,
    /// Batches not yet resolved.
    pub unfinished: usize,
    pub flush_requested: bool,
    pub closing: bool,
}

impl Accumulator {
    pub(crate) fn seal(&mut self, batch: OpenBatch) {
        self.sealed.push_back(SealedBatch {
            shared: batch.shared,
            records: batch.records,
            bytes: batch.bytes,
        });
    }

    /// The earliest time an open batch's linger runs out.
    pub(crate) fn oldest_open(&self) -> Option<Instant> {
        self.open
            .values()
            .flat_map(HashMap::values)
            .map(|b| b.opened)
            .min()
    }

    /// Seals open batches opened at or before `cutoff` (all of them when `None`).
    pub(crate) fn seal_open(&mut self, cutoff: Option<Instant>) {
        let mut expired = Vec::new();
        for partitions in self.open.values_mut() {
            let due: Vec<i32> = partitions
                .iter()
                .filter(|(_, b)| cutoff.is_none_or(|c| b.opened <= c))
                .map(|(&p, _)| p)
                .collect();
            for partition in due {
                if let Some(batch) = partitions.remove(&partition) {
                    expired.push(batch);
                }
            }
        }
        self.open.retain(|_, partitions| !partitions.is_empty());
        // Seal in opening order, so batches of one partition keep theirs.
        expired.sort_by_key(|b| b.opened);
        for batch in expired {
            self.seal(batch);
        }
    }
}
