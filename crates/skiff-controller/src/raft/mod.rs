//! Persistence and replication of the controller state with openraft: the redb log store, the
//! state machine with on-disk snapshots, and the (single-node for now) network.

pub mod log_store;
pub mod network;
pub mod snapshot;
pub mod state_machine;
pub mod types;

pub use log_store::{LogStoreError, RedbLogStore};
pub use network::SingleNodeNetwork;
pub use snapshot::{SnapshotError, SnapshotStore};
pub use state_machine::{ControllerSnapshotBuilder, ControllerStateMachine};
pub use types::TypeConfig;
