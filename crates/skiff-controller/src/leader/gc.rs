//! Garbage collection of objects, run by the leader: the only process that ever deletes an
//! object. Two kinds of garbage:
//! - unreferenced: committed, but every index entry into it is gone (retention, DeleteRecords,
//!   a merge or compaction swapped it out, its topics were deleted). The state keeps these in
//!   an index; one is deleted after it has been unreferenced for a whole grace period on this
//!   leader's clock, so fetches that planned a read before its last reference went away have
//!   finished;
//! - orphans: uploaded but never committed (a broker died between its PUT and its commit, or a
//!   job lost its race): found by listing `segments/` a page at a time; once older than the
//!   grace period they are condemned through Raft (`CondemnOrphans`), and deleted only if the
//!   state did not know them when that applied. A commit of a condemned object that arrives
//!   later is refused, so no index entry ever points at a deleted orphan.
//!
//! Deleting first and then proposing `ForgetObjects` is safe: no reader can reach an object the
//! index no longer points into, and an orphan was never reachable.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures::StreamExt;
use skiff_storage::{ObjectInfo, ObjectPath, SegmentStore};
use tokio::time::Instant;

use skiff_meta::{CondemnOrphans, ForgetObjects, StateHandle};

use super::{LifecycleSettings, PeriodicDuty, propose};
use crate::clock::Clock;
use crate::metrics::LifecycleMetrics;
use crate::raft::types::Raft;

const SEGMENTS_PREFIX: &str = "segments";
/// Listed objects looked at together: one S3 list page.
const LIST_PAGE: usize = 1_000;

#[derive(Clone)]
pub(crate) struct GcSettings {
    pub(crate) store: SegmentStore,
    pub(crate) grace: Duration,
    pub(crate) interval: Duration,
    /// Orphan candidates kept, and unreferenced objects deleted (one `ForgetObjects`
    /// proposal), per round; more wait for the next round, so memory stays bounded however
    /// much garbage a crash or a retention sweep left.
    pub(crate) max_objects_per_round: usize,
}

/// One leader term's collector; what it remembers starts fresh with each term.
pub(crate) struct ObjectGc {
    settings: GcSettings,
    metrics: LifecycleMetrics,
    /// Stamps condemnations; object ages come from the store's own timestamps.
    clock: Arc<dyn Clock>,
    /// Committed objects seen unreferenced, and since when (this leader's clock).
    unreferenced_since: HashMap<u64, Instant>,
}

impl ObjectGc {
    pub(crate) fn new(settings: GcSettings, lifecycle: LifecycleSettings) -> Self {
        ObjectGc {
            settings,
            metrics: lifecycle.metrics,
            clock: lifecycle.clock,
            unreferenced_since: HashMap::new(),
        }
    }

    fn publish_gauges(&self, state: &StateHandle) {
        let state = state.read();
        self.metrics.stored_bytes.set(state.stored_bytes() as f64);
        self.metrics.stored_objects.set(state.object_count() as f64);
        let entries = state.index_entry_counts();
        self.metrics.index_entries.set(entries.total as f64);
        self.metrics
            .index_entries_max_per_partition
            .set(entries.most_in_one_partition as f64);
        self.metrics
            .unreferenced_objects
            .set(state.unreferenced_object_count() as f64);
    }

    async fn collect_orphans(&mut self, raft: &Raft, state: &StateHandle) {
        let known = known_keys(state);
        let wall_now = SystemTime::now();
        let mut candidates: Vec<ObjectInfo> = Vec::new();
        let mut listing = self
            .settings
            .store
            .list_stream(&ObjectPath::from(SEGMENTS_PREFIX))
            .chunks(LIST_PAGE);
        while let Some(page) = listing.next().await {
            for item in page {
                let object = match item {
                    Ok(object) => object,
                    Err(e) => {
                        tracing::warn!(error = %e, "garbage collection could not list segment objects");
                        return;
                    }
                };
                if known.contains(object.path.as_ref())
                    || age(&object, wall_now) < self.settings.grace
                {
                    continue;
                }
                candidates.push(object);
            }
            if candidates.len() >= self.settings.max_objects_per_round {
                break;
            }
        }
        drop(listing);
        candidates.truncate(self.settings.max_objects_per_round);
        if candidates.is_empty() {
            return;
        }
        // An object listed before its commit applied may be known by now, or its commit may
        // still be on its way (a broker paused between its PUT and its commit): Raft orders
        // the condemnation against every commit, and only what it condemned is deleted.
        let condemn = CondemnOrphans {
            now_ms: self.clock.now_ms(),
            keys: candidates.iter().map(|o| o.path.to_string()).collect(),
        };
        let verdicts = match propose(raft, condemn).await {
            Ok(verdicts) => verdicts,
            Err(e) => {
                tracing::debug!(error = %e, "orphan collection skipped: could not condemn");
                return;
            }
        };
        for (object, condemned) in candidates.into_iter().zip(verdicts) {
            if !condemned {
                continue;
            }
            match self.settings.store.delete(&object.path).await {
                Ok(()) => {
                    self.metrics.deleted_orphans.increment(1);
                    self.metrics.deleted_orphan_bytes.increment(object.size);
                    tracing::info!(
                        key = %object.path,
                        age_s = age(&object, wall_now).as_secs(),
                        bytes = object.size,
                        "deleted an uploaded but never committed object"
                    );
                }
                // Condemned stays condemned: a later round lists it again and retries.
                Err(e) => {
                    tracing::warn!(key = %object.path, error = %e, "could not delete an uncommitted object")
                }
            }
        }
    }

    async fn collect_unreferenced(&mut self, raft: &Raft, state: &StateHandle) {
        let now = Instant::now();
        let unreferenced: Vec<(u64, String, u64)> = state
            .read()
            .unreferenced_objects()
            .map(|(id, o, _)| (id, o.key.clone(), o.size))
            .collect();
        self.unreferenced_since
            .retain(|id, _| unreferenced.iter().any(|(u, _, _)| u == id));
        let mut forgotten = Vec::new();
        for (id, key, size) in unreferenced {
            let since = *self.unreferenced_since.entry(id).or_insert(now);
            if now.duration_since(since) < self.settings.grace
                || forgotten.len() >= self.settings.max_objects_per_round
            {
                continue;
            }
            match self
                .settings
                .store
                .delete(&ObjectPath::from(key.as_str()))
                .await
            {
                Ok(()) => {
                    self.metrics.deleted_unreferenced.increment(1);
                    self.metrics.deleted_unreferenced_bytes.increment(size);
                    tracing::info!(key = %key, object_id = id, bytes = size, "deleted an object nothing references any more");
                    forgotten.push(id);
                }
                Err(e) => {
                    tracing::warn!(key = %key, error = %e, "could not delete an unreferenced object")
                }
            }
        }
        if forgotten.is_empty() {
            return;
        }
        let count = forgotten.len();
        match propose(raft, ForgetObjects(forgotten)).await {
            Ok(()) => tracing::debug!(count, "forgot deleted objects"),
            // They stay listed as unreferenced; the next round deletes (idempotently) again.
            Err(e) => tracing::warn!(error = %e, "could not forget deleted objects"),
        }
    }
}

/// Keys of every object the state knows, committed or waiting for collection.
fn known_keys(state: &StateHandle) -> HashSet<String> {
    state.read().objects().map(|(_, o)| o.key.clone()).collect()
}

fn age(object: &ObjectInfo, now: SystemTime) -> Duration {
    now.duration_since(SystemTime::from(object.last_modified))
        .unwrap_or_default()
}

impl PeriodicDuty for ObjectGc {
    fn period(&self) -> Duration {
        self.settings.interval
    }

    async fn round(&mut self, raft: &Raft, state: &StateHandle) {
        self.collect_orphans(raft, state).await;
        self.collect_unreferenced(raft, state).await;
        self.publish_gauges(state);
    }
}
