//! Follows the broker's view of the controller state and rebuilds the authorizer's index when
//! the ACL revision changes: the one task that writes the index.

use std::sync::Arc;

use skiff_meta::StateHandle;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::Authorizer;

/// Runs until `shutdown` is cancelled or the state stops changing for good (its writer went
/// away). Each applied batch costs one read-lock and a revision comparison.
pub fn spawn(
    authorizer: Arc<Authorizer>,
    state: StateHandle,
    shutdown: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut applied = state.applied();
        loop {
            tokio::select! {
                changed = applied.changed() => {
                    if changed.is_err() {
                        return;
                    }
                }
                _ = shutdown.cancelled() => return,
            }
            authorizer.refresh(&state.read());
        }
    })
}
