//! skiff-controller: replicates and serves what Skiff remembers.
//!
//! The model itself (commands, [`skiff_meta::ControllerState`] and its apply) lives in
//! `skiff-meta`; this crate is the machinery around it: [`raft`] persists and replicates it with
//! openraft (log store, state machine adapter, snapshots, network), [`Controller`] is the
//! handle a process embeds, [`server`] and [`rpc`] are the two sides of the HTTP API between
//! controllers, brokers and admins, the leader's duties (leases, retention, offset expiry,
//! garbage collection) run while a node leads, and [`remote`] is
//! what a `skiff broker` uses to propose and to keep a replica of the state.

pub mod auth;
mod client_impls;
pub mod clock;
mod cluster;
mod cluster_id;
pub mod config;
pub mod controller;
pub mod error;
mod leader;
pub mod metrics;
pub mod raft;
mod raft_errors;
pub mod remote;
pub mod rpc;
pub mod server;
mod topic_limits;

pub use config::ControllerConfig;
pub use controller::{Controller, ControllerDeps};
pub use error::{ControllerError, InvalidConfig};
pub use leader::{ARCHIVE_LAG_RECORDS, describe_archive_metrics};
pub use metrics::{describe_lifecycle_metrics, describe_metrics};
pub use remote::{RemoteController, RemoteControllerConfig, StateReplica};
