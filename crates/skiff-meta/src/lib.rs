//! skiff-meta: what Skiff remembers, and nothing else.
//!
//! The controller replicates one [`ControllerState`] with Raft; this crate is that state and the
//! rules for changing it, with no I/O, clocks or randomness, so every replica that applies the
//! same commands reaches the same state and the rules can be tested in microseconds.
//!
//! - [`command`]: the commands (one payload type per command) and their answers, grouped by
//!   what they change: brokers, topics, segments, producers, groups.
//! - [`Proposal`]: each payload's answer type; [`ControllerClient`] + [`Propose`] are how a
//!   broker proposes and reads.
//! - [`state`]: [`ControllerState`] and its `apply`, one file per area.
//! - [`topic_config`]: Kafka's topic-level configs, validated and typed.
//! - [`broker_config`]: the dynamic broker configs (broker-level topic defaults).
//! - [`acl`]: Kafka's ACL bindings and filters, as CreateAcls stores them.
//! - [`placement`]: which broker leads a partition or coordinates a group.
//! - [`IndexEntry`]: the fixed-size offset→object index entry.

pub mod acl;
pub mod broker_config;
pub mod client;
pub mod command;
pub mod error;
pub mod ids;
pub mod index_entry;
pub mod placement;
pub mod proposal;
pub mod state;
pub mod state_handle;
pub mod topic_config;

pub use client::{ControllerClient, Propose};
pub use command::*;
pub use error::ProposeError;
pub use ids::TopicId;
pub use index_entry::IndexEntry;
pub use proposal::{Proposal, Shape};
pub use state::{ControllerState, IndexEntryCounts, MaxTimestamp, ObjectMeta, PartitionLog, Topic};
pub use state_handle::StateHandle;
pub use topic_config::TopicConfig;
