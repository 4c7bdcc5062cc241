//! A local copy of the controller state, advanced by applying the same commands in the same
//! order with the same deterministic `ControllerState::apply` the controller uses.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::RwLock;
use tokio::sync::watch;

use skiff_meta::Command;
use skiff_meta::StateHandle;
use skiff_meta::state::ControllerState;

/// The stream skipped an entry: the replica must be rebuilt from a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplicaError {
    #[error("watch entry {got} does not follow the replica's applied index {applied}")]
    Gap { applied: u64, got: u64 },
}

/// Cheap to clone; clones share the state.
#[derive(Clone)]
pub struct StateReplica {
    state: Arc<RwLock<ControllerState>>,
    applied_tx: Arc<watch::Sender<u64>>,
    resets: Arc<AtomicU64>,
}

impl Default for StateReplica {
    fn default() -> Self {
        StateReplica {
            state: Arc::new(RwLock::new(ControllerState::default())),
            applied_tx: Arc::new(watch::channel(0).0),
            resets: Arc::new(AtomicU64::new(0)),
        }
    }
}

impl StateReplica {
    pub fn handle(&self) -> StateHandle {
        StateHandle::new(Arc::clone(&self.state), self.applied_tx.subscribe())
    }

    /// The index of the last entry applied here (0 before the first snapshot).
    pub fn applied(&self) -> u64 {
        *self.applied_tx.borrow()
    }

    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.applied_tx.subscribe()
    }

    /// Replaces the whole state with a snapshot taken at `index`.
    pub fn reset(&self, index: u64, state: ControllerState) {
        *self.state.write() = state;
        self.applied_tx.send_replace(index);
        self.resets.fetch_add(1, Ordering::Relaxed);
    }

    /// How many times the whole state was loaded from a snapshot (1 after the bootstrap).
    pub fn reset_count(&self) -> u64 {
        self.resets.load(Ordering::Relaxed)
    }

    /// Applies consecutive entries under one write lock. Entries at or below the applied
    /// index are skipped (a reconnect may repeat a few); a gap is an error.
    pub fn apply_batch<'a>(
        &self,
        entries: impl IntoIterator<Item = (u64, Option<&'a Command>)>,
    ) -> Result<(), ReplicaError> {
        let mut applied = self.applied();
        let start = applied;
        let result = {
            let mut state = self.state.write();
            let mut result = Ok(());
            for (index, command) in entries {
                if index <= applied {
                    continue;
                }
                if index != applied + 1 {
                    result = Err(ReplicaError::Gap {
                        applied,
                        got: index,
                    });
                    break;
                }
                if let Some(command) = command {
                    state.apply(command);
                }
                applied = index;
            }
            result
        };
        if applied != start {
            self.applied_tx.send_replace(applied);
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applies_in_order_skips_repeats_and_refuses_gaps() {
        let replica = StateReplica::default();
        replica.reset(4, ControllerState::default());
        let init = Command::InitCluster(skiff_meta::InitCluster {
            cluster_id: "c".into(),
        });
        replica
            .apply_batch([(3, None), (4, None), (5, Some(&init)), (6, None)])
            .expect("in order");
        assert_eq!(replica.applied(), 6);
        assert_eq!(replica.handle().read().cluster_id(), Some("c"));
        let err = replica
            .apply_batch([(7, None), (9, None)])
            .expect_err("gap");
        assert_eq!(err, ReplicaError::Gap { applied: 7, got: 9 });
        assert_eq!(replica.applied(), 7, "entries before the gap count");
    }
}
