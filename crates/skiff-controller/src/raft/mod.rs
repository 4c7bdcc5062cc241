//! Persistence and replication of the controller state with openraft: the redb log store, the
//! state machine with on-disk snapshots, the ring of recently applied entries, and the HTTP
//! network between controller nodes.

pub mod applied_log;
pub mod log_store;
pub mod snapshot;
pub mod state_machine;
pub mod types;

pub use applied_log::{AppliedEntry, AppliedLog, EntriesGone};
pub use log_store::{LogStoreError, RedbLogStore};
pub use snapshot::{SnapshotError, SnapshotStore};
pub use state_machine::{ControllerSnapshotBuilder, ControllerStateMachine, StateSource};
pub use types::TypeConfig;
