//! What the dispatcher and a partition's worker share: records in the event's JSON form, the
//! committer, and the byte budgets that bound what is fetched and not yet finished.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use tokio::sync::Notify;

/// One record, already in the event's JSON form (a slice of its partition's shared buffer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedRecord {
    pub offset: i64,
    /// Milliseconds since the epoch; -1 when the record has none.
    pub timestamp_ms: i64,
    pub json: Bytes,
}

/// Commits a partition's offsets and reports its lag.
pub trait Commit: Send + Sync + 'static {
    /// Commits `next_offset` (the first offset not yet processed) if this process still owns
    /// the partition; false when it does not (revoked) or the commit could not be sent.
    fn commit(&self, next_offset: i64) -> bool;
}

/// Bytes of records fetched but not yet finished, for the whole trigger process; the
/// dispatcher pauses partitions while it is over its bound.
#[derive(Debug, Default)]
pub struct GlobalBudget {
    pub bytes: AtomicUsize,
    /// Partitions the dispatcher paused; while any is, workers wake it when they free bytes.
    pub paused: AtomicUsize,
    /// The dispatcher's wake-up (shared with the rebalance callback).
    pub wake: Arc<Notify>,
}

/// One partition's share of the budget.
#[derive(Debug)]
pub struct PartitionBudget {
    pub bytes: AtomicUsize,
    pub global: Arc<GlobalBudget>,
}

impl PartitionBudget {
    pub fn new(global: Arc<GlobalBudget>) -> PartitionBudget {
        PartitionBudget {
            bytes: AtomicUsize::new(0),
            global,
        }
    }

    pub fn take(&self, bytes: usize) {
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        self.global.bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    pub fn release(&self, bytes: usize) {
        self.bytes.fetch_sub(bytes, Ordering::Relaxed);
        self.global.bytes.fetch_sub(bytes, Ordering::Relaxed);
        if self.global.paused.load(Ordering::Relaxed) > 0 {
            self.global.wake.notify_one();
        }
    }
}
