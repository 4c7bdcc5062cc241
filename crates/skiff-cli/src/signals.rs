//! How a server process learns it should stop: Ctrl-C (SIGINT) or SIGTERM.

use tracing::warn;

/// Ctrl-C (SIGINT) or SIGTERM, listened for from the moment it is created. Servers create it
/// before they log that they are ready: a signal sent right after that line (as scripts and
/// tests do) must stop them cleanly, not kill them before a lazily installed handler exists.
pub(crate) struct StopSignal {
    #[cfg(unix)]
    signals: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl StopSignal {
    pub(crate) fn listen() -> StopSignal {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let signals = match (
                signal(SignalKind::interrupt()),
                signal(SignalKind::terminate()),
            ) {
                (Ok(interrupt), Ok(terminate)) => Some((interrupt, terminate)),
                (Err(e), _) | (_, Err(e)) => {
                    warn!(error = %e, "cannot listen for SIGINT and SIGTERM; only Ctrl-C stops skiff");
                    None
                }
            };
            StopSignal { signals }
        }
        #[cfg(not(unix))]
        StopSignal {}
    }

    pub(crate) async fn recv(&mut self) {
        #[cfg(unix)]
        if let Some((interrupt, terminate)) = &mut self.signals {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
            return;
        }
        if let Err(e) = tokio::signal::ctrl_c().await {
            warn!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    }
}
