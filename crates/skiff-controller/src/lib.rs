//! skiff-controller: the Raft-replicated metadata controller.
//!
//! [`ControllerState`] is the deterministic state machine (topics, the per-partition
//! offset→object index, producers, brokers, objects); [`raft`] persists and replicates it with
//! openraft; [`Controller`] is the handle brokers use to propose commands and read state.

mod cluster;
pub mod command;
pub mod config;
pub mod controller;
pub mod error;
mod leader;
pub mod metrics;
pub mod placement;
pub mod raft;
pub mod remote;
pub mod rpc;
pub mod state;
pub mod topic_config;

pub use command::*;
pub use controller::{Controller, ControllerConfig, StateHandle};
pub use error::ControllerError;
pub use metrics::describe_metrics;
pub use remote::{RemoteController, RemoteControllerConfig, StateReplica};
pub use state::{ControllerState, IndexEntry, MaxTimestamp, ObjectMeta, PartitionLog, Topic};
pub use topic_config::TopicConfig;
