//! The cluster and its brokers: the cluster id, registration, leases, and objects the garbage
//! collector deleted.

use serde::{Deserialize, Serialize};

/// A broker as clients see it in Metadata responses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokerInfo {
    pub id: i32,
    pub host: String,
    pub port: u16,
    pub rack: Option<String>,
}

/// Sets the cluster id; a no-op once one is set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InitCluster {
    pub cluster_id: String,
}

/// Inserts or replaces the broker with this id, and makes it live.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterBroker(pub BrokerInfo);

/// A registered broker is alive; makes it live again if it had expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokerHeartbeat {
    pub broker_id: i32,
    pub now_ms: i64,
}

/// What a heartbeat found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum HeartbeatAnswer {
    Accepted,
    /// The broker is not registered (it was unregistered, or the state was rebuilt without
    /// it): it should register again.
    UnknownBroker,
    /// Answer to [`RenewBrokerLease`] only: the lease had lapsed and stays lapsed; the broker
    /// registers again when it is ready to lead.
    Lapsed,
}

/// A live broker renews its lease. Unlike [`BrokerHeartbeat`], it never makes a broker whose
/// lease lapsed live again (the answer is [`HeartbeatAnswer::Lapsed`]), so a broker that was
/// paused or cut off does not take its partitions and groups straight back: it registers again
/// after its restart delay, as a restarted broker does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenewBrokerLease {
    pub broker_id: i32,
    pub now_ms: i64,
}

/// Proposed by the leader's lease monitor: the broker stops being live unless a heartbeat was
/// applied after the monitor looked (`heartbeats_seen` no longer matches).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpireBroker {
    pub broker_id: i32,
    pub heartbeats_seen: u64,
}

/// A broker shut down cleanly: forget it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnregisterBroker {
    pub broker_id: i32,
}

/// Objects the garbage collector deleted from the store (only unreferenced ones are
/// forgotten; an id that gained references meanwhile is kept).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForgetObjects(pub Vec<u64>);
