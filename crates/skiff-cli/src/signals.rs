//! How a server process learns it should stop: Ctrl-C or SIGTERM.

use tracing::warn;

/// Waits for Ctrl-C or SIGTERM (for ever where neither can be listened for).
pub(crate) async fn wait_for_stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
                return;
            }
            Err(e) => warn!(error = %e, "cannot listen for SIGTERM; only Ctrl-C stops skiff"),
        }
    }
    if let Err(e) = tokio::signal::ctrl_c().await {
        warn!(error = %e, "cannot listen for Ctrl-C");
        std::future::pending::<()>().await;
    }
}
