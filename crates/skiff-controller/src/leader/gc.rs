//! Garbage collection of segment objects, run by the leader. Two kinds of garbage:
//! - uploaded but never committed (a broker died between its PUT and its commit): listed
//!   under `segments/`, unknown to the state, and older than the grace period;
//! - committed but no longer referenced (every index entry into it is gone, e.g. its topics
//!   were deleted): unreferenced for a whole grace period on this leader's clock, so fetches
//!   that planned a read before the last reference went away have finished.
//!
//! Deleting first and then proposing `ForgetObjects` is safe: no reader can reach an object
//! the index no longer points into, and an uncommitted object was never reachable.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, SystemTime};

use skiff_storage::{ObjectPath, SegmentStore};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use skiff_meta::{Command, ForgetObjects, StateHandle};

use crate::raft::types::Raft;

const SEGMENTS_PREFIX: &str = "segments";

#[derive(Clone)]
pub(crate) struct GcSettings {
    pub(crate) store: SegmentStore,
    pub(crate) grace: Duration,
    pub(crate) interval: Duration,
}

/// One leader term's collector; what it remembers starts fresh with each term.
pub(crate) struct ObjectGc {
    settings: GcSettings,
    /// Committed objects seen unreferenced, and since when (this leader's clock).
    unreferenced_since: HashMap<u64, Instant>,
}

impl ObjectGc {
    pub(crate) fn new(settings: GcSettings) -> Self {
        ObjectGc {
            settings,
            unreferenced_since: HashMap::new(),
        }
    }

    pub(crate) async fn run(mut self, raft: &Raft, state: &StateHandle, stop: CancellationToken) {
        let mut ticker = tokio::time::interval(self.settings.interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = stop.cancelled() => return,
            }
            tokio::select! {
                _ = self.collect(raft, state) => {}
                _ = stop.cancelled() => return,
            }
        }
    }

    async fn collect(&mut self, raft: &Raft, state: &StateHandle) {
        let listed = match self
            .settings
            .store
            .list(&ObjectPath::from(SEGMENTS_PREFIX))
            .await
        {
            Ok(listed) => listed,
            Err(e) => {
                tracing::warn!(error = %e, "garbage collection could not list segment objects");
                return;
            }
        };
        // Read the state only after listing and once it has everything committed, so an
        // object listed here and committed before is known to it.
        if let Err(e) = raft.ensure_linearizable().await {
            tracing::debug!(error = %e, "garbage collection skipped: not a settled leader");
            return;
        }
        let now = Instant::now();
        let (known, unreferenced): (HashSet<String>, Vec<(u64, String)>) = {
            let state = state.read();
            let known = state.objects().map(|(_, o)| o.key.clone()).collect();
            let unreferenced = state
                .unreferenced_objects()
                .map(|(id, o)| (id, o.key.clone()))
                .collect();
            (known, unreferenced)
        };
        let wall_now = SystemTime::now();
        for object in &listed {
            let key = object.path.to_string();
            if known.contains(&key) {
                continue;
            }
            let age = wall_now
                .duration_since(SystemTime::from(object.last_modified))
                .unwrap_or_default();
            if age < self.settings.grace {
                continue;
            }
            match self.settings.store.delete(&object.path).await {
                Ok(()) => tracing::info!(
                    key = %key,
                    age_s = age.as_secs(),
                    bytes = object.size,
                    "deleted an uploaded but never committed object"
                ),
                Err(e) => {
                    tracing::warn!(key = %key, error = %e, "could not delete an uncommitted object")
                }
            }
        }

        self.unreferenced_since
            .retain(|id, _| unreferenced.iter().any(|(u, _)| u == id));
        let mut forgotten = Vec::new();
        for (id, key) in unreferenced {
            let since = *self.unreferenced_since.entry(id).or_insert(now);
            if now.duration_since(since) < self.settings.grace {
                continue;
            }
            match self
                .settings
                .store
                .delete(&ObjectPath::from(key.as_str()))
                .await
            {
                Ok(()) => {
                    tracing::info!(key = %key, object_id = id, "deleted an object nothing references any more");
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
        match raft
            .client_write(Command::from(ForgetObjects(forgotten)))
            .await
        {
            Ok(_) => tracing::info!(count, "forgot deleted objects"),
            // They stay listed as unreferenced; the next round deletes (idempotently) again.
            Err(e) => tracing::warn!(error = %e, "could not forget deleted objects"),
        }
    }
}
