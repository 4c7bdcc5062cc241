//! The recent history of the live broker set. Group coordination is a function of the live
//! brokers (rendezvous hashing), so this history tells whether a broker coordinated a group
//! without a break since it loaded it: the fence that keeps a coordinator that lost a group,
//! even for a moment, from writing the state it held before.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::placement::group_coordinator_among;

/// Live sets kept; a broker whose group was loaded before the oldest is told it no longer
/// coordinates the group, and reloads it. Live sets change rarely (brokers joining, leaving,
/// missing their lease), so this covers far more than any write can be in flight.
pub const LIVE_SETS_KEPT: usize = 64;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveBrokerHistory {
    /// Bumped each time the set of live brokers changes (the placement epoch); 0 before the
    /// first broker.
    epoch: u64,
    /// The most recent live sets with the epoch each started at, oldest first; the last one is
    /// the current set.
    recent: VecDeque<(u64, Vec<i32>)>,
}

impl LiveBrokerHistory {
    /// The current placement epoch: a broker records it when it loads a group and sends it
    /// with every write for that group.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Records `live` (ids in ascending order) if it differs from the current set (none, at
    /// first).
    pub(super) fn record(&mut self, live: Vec<i32>) {
        let current = self
            .recent
            .back()
            .map_or(&[][..], |(_, ids)| ids.as_slice());
        if current == live.as_slice() {
            return;
        }
        self.epoch = self.epoch.saturating_add(1);
        self.recent.push_back((self.epoch, live));
        while self.recent.len() > LIVE_SETS_KEPT {
            self.recent.pop_front();
        }
    }

    /// The broker that coordinated `group_id` before `broker`'s current run as its
    /// coordinator: the coordinator under the newest live set, walking back, that is not
    /// `broker`. `None` when the history kept shows no other (or the group had none then).
    pub fn previous_coordinator(&self, group_id: &str, broker: i32) -> Option<i32> {
        self.recent
            .iter()
            .rev()
            .map(|(_, live)| group_coordinator_among(group_id, live.iter().copied()))
            .find(|coordinator| *coordinator != Some(broker))
            .flatten()
    }

    /// Whether `broker` coordinated `group_id` under every live set from placement epoch
    /// `since` until now. False when `since` is older than the history kept, or newer than
    /// the current epoch.
    pub fn coordinated_throughout(&self, group_id: &str, broker: i32, since: u64) -> bool {
        if since > self.epoch {
            return false;
        }
        let Some(start) = self.recent.iter().rposition(|(epoch, _)| *epoch <= since) else {
            return false;
        };
        self.recent.range(start..).all(|(_, live)| {
            group_coordinator_among(group_id, live.iter().copied()) == Some(broker)
        })
    }
}
