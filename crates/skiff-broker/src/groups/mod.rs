//! The classic consumer group coordinator (Kafka's JoinGroup/SyncGroup protocol with
//! client-side assignors). Member state lives here, in memory; committed offsets and each
//! completed generation are written through the controller so another broker (or this one
//! after a restart) can take a group over.
//!
//! - [`group`], [`join`], [`sync`], [`rebalance`], [`admin`]: the per-group state machine,
//!   synchronous and driven by an injected clock.
//! - [`coordinator`], [`operations`]: the groups in memory, their timers, and the calls
//!   handlers make.
//! - [`writer`]: the task that batches group writes into controller proposals.

pub mod admin;
pub mod config;
pub mod coordinator;
pub mod error;
pub mod group;
pub mod join;
pub mod member;
pub mod operations;
pub mod outcome;
pub mod rebalance;
pub mod state;
pub mod store_request;
pub mod stored;
pub mod subscription;
pub mod sync;
pub mod timers;
pub mod writer;

#[cfg(test)]
mod tests;

pub use config::GroupConfig;
pub use coordinator::GroupCoordinator;
pub use error::CoordinatorError;
pub use join::JoinRequest;
pub use operations::TopicPartitions;
pub use outcome::{JoinReply, JoinResult, SyncReply, SyncResult};
pub use state::GroupState;
pub use sync::{LeavingMember, SyncRequest};
