//! Keys of orphan objects the collector was allowed to delete. Remembering them closes the
//! race between an orphan's deletion and a commit of the same object that was merely late:
//! Raft orders the collector's `CondemnOrphans` against the commit, so exactly one of them
//! wins, and the loser never leaves an index entry pointing at a deleted object.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use serde::{Deserialize, Serialize};

use super::ControllerState;
use crate::command::{CONDEMNED_KEYS_KEPT_MS, CondemnOrphans};

/// Added in snapshot format 6.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CondemnedObjects {
    /// Condemned key → when (the leader's clock) it was condemned.
    keys: BTreeMap<String, i64>,
    /// The same marks ordered by time, so dropping old ones never scans the whole set.
    by_time: BTreeSet<(i64, String)>,
    /// Marks condemned before this were dropped: a commit stamped earlier than it may be for
    /// one of them, so it is refused too.
    horizon_ms: i64,
}

impl Default for CondemnedObjects {
    fn default() -> Self {
        CondemnedObjects {
            keys: BTreeMap::new(),
            by_time: BTreeSet::new(),
            horizon_ms: i64::MIN,
        }
    }
}

impl CondemnedObjects {
    /// Whether a commit of `key`, stamped `append_time_ms` by its broker, must be refused.
    pub(super) fn refuses(&self, key: &str, append_time_ms: i64) -> bool {
        append_time_ms < self.horizon_ms || self.keys.contains_key(key)
    }

    pub(super) fn len(&self) -> usize {
        self.keys.len()
    }

    fn mark(&mut self, key: &str, now_ms: i64) {
        if self.keys.insert(key.to_owned(), now_ms).is_none() {
            self.by_time.insert((now_ms, key.to_owned()));
        }
    }

    fn forget_older_than(&mut self, cutoff_ms: i64) {
        while let Some((at, key)) = self.by_time.first().cloned() {
            if at >= cutoff_ms {
                break;
            }
            self.by_time.pop_first();
            self.keys.remove(&key);
            self.horizon_ms = self.horizon_ms.max(at);
        }
    }
}

impl ControllerState {
    pub(super) fn condemn_orphans(&mut self, condemn: &CondemnOrphans) -> Vec<bool> {
        self.clock_ms = self.clock_ms.max(condemn.now_ms);
        let asked: HashSet<&str> = condemn.keys.iter().map(String::as_str).collect();
        // One pass over the objects per round, rather than a key index kept for every object.
        let known: HashSet<&str> = self
            .objects
            .values()
            .map(|o| o.key.as_str())
            .filter(|key| asked.contains(key))
            .collect();
        let verdicts: Vec<bool> = condemn
            .keys
            .iter()
            .map(|key| !known.contains(key.as_str()))
            .collect();
        for (key, &condemned) in condemn.keys.iter().zip(&verdicts) {
            if condemned {
                self.condemned.mark(key, condemn.now_ms);
            }
        }
        self.condemned
            .forget_older_than(condemn.now_ms.saturating_sub(CONDEMNED_KEYS_KEPT_MS));
        verdicts
    }

    /// Orphan keys the state remembers as collected.
    pub fn condemned_object_count(&self) -> usize {
        self.condemned.len()
    }
}
