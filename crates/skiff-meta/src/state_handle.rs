//! Read access to the applied state, shared by everything in a process that reads it.

use std::sync::Arc;

use parking_lot::{RwLock, RwLockReadGuard};
use tokio::sync::watch;

use crate::state::ControllerState;

/// The applied controller state and a watch on the index of the last applied entry. Cheap to
/// clone. The controller's state machine (or a broker's replica of it) writes the state; every
/// other holder only reads.
#[derive(Clone)]
pub struct StateHandle {
    state: Arc<RwLock<ControllerState>>,
    applied: watch::Receiver<u64>,
}

impl StateHandle {
    /// A handle over state someone else keeps current; `applied` must change after every
    /// change to `state`.
    pub fn new(state: Arc<RwLock<ControllerState>>, applied: watch::Receiver<u64>) -> Self {
        StateHandle { state, applied }
    }

    /// Holds off applies while held: copy out what you need and drop the guard before awaiting.
    pub fn read(&self) -> RwLockReadGuard<'_, ControllerState> {
        self.state.read()
    }

    /// Watches the index of the last applied log entry; it changes after every applied batch.
    pub fn applied(&self) -> watch::Receiver<u64> {
        self.applied.clone()
    }
}
