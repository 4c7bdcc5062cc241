//! Broker registration and leases. Liveness changes only through commands (heartbeats from
//! the broker, expiry from the leader's lease monitor), so every replica agrees on it.

use serde::{Deserialize, Serialize};

use super::ControllerState;
use crate::command::{BrokerInfo, HeartbeatAnswer};

/// Whether a registered broker is live, and a counter of the signs of life applied for it,
/// which lets an expiry proposed on stale information be ignored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokerLease {
    pub live: bool,
    /// Registrations and heartbeats applied so far.
    pub heartbeats: u64,
    /// Command time of the last heartbeat (0 before the first).
    pub last_heartbeat_ms: i64,
}

impl ControllerState {
    pub(super) fn register_broker(&mut self, broker: &BrokerInfo) {
        self.brokers.insert(broker.id, broker.clone());
        let lease = self.broker_leases.entry(broker.id).or_default();
        lease.live = true;
        lease.heartbeats = lease.heartbeats.wrapping_add(1);
    }

    pub(super) fn broker_heartbeat(&mut self, broker_id: i32) -> HeartbeatAnswer {
        if !self.brokers.contains_key(&broker_id) {
            return HeartbeatAnswer::UnknownBroker;
        }
        let now = self.clock_ms;
        let lease = self.broker_leases.entry(broker_id).or_default();
        if !lease.live {
            tracing::info!(broker = broker_id, "broker is live again");
        }
        lease.live = true;
        lease.heartbeats = lease.heartbeats.wrapping_add(1);
        lease.last_heartbeat_ms = now;
        HeartbeatAnswer::Accepted
    }

    /// A heartbeat that keeps a live lease but never revives a lapsed one.
    pub(super) fn renew_broker_lease(&mut self, broker_id: i32) -> HeartbeatAnswer {
        match self.broker_leases.get(&broker_id) {
            _ if !self.brokers.contains_key(&broker_id) => HeartbeatAnswer::UnknownBroker,
            Some(lease) if lease.live => self.broker_heartbeat(broker_id),
            _ => HeartbeatAnswer::Lapsed,
        }
    }

    pub(super) fn expire_broker(&mut self, broker_id: i32, heartbeats_seen: u64) {
        if let Some(lease) = self.broker_leases.get_mut(&broker_id)
            && lease.live
            && lease.heartbeats == heartbeats_seen
        {
            lease.live = false;
        }
    }

    pub(super) fn unregister_broker(&mut self, broker_id: i32) {
        self.brokers.remove(&broker_id);
        self.broker_leases.remove(&broker_id);
    }

    /// Every registered broker live, as before leases existed (older snapshots).
    pub(super) fn all_brokers_live(&mut self) {
        for id in self.brokers.keys() {
            self.broker_leases.insert(
                *id,
                BrokerLease {
                    live: true,
                    heartbeats: 0,
                    last_heartbeat_ms: 0,
                },
            );
        }
    }
}
