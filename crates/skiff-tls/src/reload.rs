//! Certificates reload without a restart: a task looks at a listener's PEM files (chain, key,
//! client CA) every interval, and when one changed (modification time or length) builds a new
//! acceptor and swaps it in. New connections get it; open ones keep the session they have. A
//! set of files that does not load (half written, key and chain not matching yet) is logged
//! once and the previous acceptor stays until the files change again.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::{TlsSetupError, pem, server};

/// The acceptor new connections use; replaced whole when the files change.
pub type SharedAcceptor = Arc<ArcSwap<TlsAcceptor>>;

/// The files an acceptor is built from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub client_ca: Option<PathBuf>,
}

impl TlsFiles {
    pub fn acceptor(&self) -> Result<TlsAcceptor, TlsSetupError> {
        server::acceptor(&self.cert, &self.key, self.client_ca.as_deref())
    }

    /// The acceptor, ready to be swapped by [`spawn`].
    pub fn shared_acceptor(&self) -> Result<SharedAcceptor, TlsSetupError> {
        Ok(Arc::new(ArcSwap::from_pointee(self.acceptor()?)))
    }

    fn fingerprint(&self) -> pem::Fingerprint {
        pem::fingerprint(
            [Some(&self.cert), Some(&self.key), self.client_ca.as_ref()]
                .into_iter()
                .flatten()
                .map(PathBuf::as_path),
        )
    }
}

/// Starts watching `files`; `current` holds the acceptor built from them at start.
pub fn spawn(
    files: TlsFiles,
    current: SharedAcceptor,
    interval: Duration,
    stop: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut loaded = files.fingerprint();
        let mut refused = None;
        loop {
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = stop.cancelled() => return,
            }
            let now = files.fingerprint();
            if now == loaded || refused.as_ref() == Some(&now) {
                continue;
            }
            match files.acceptor() {
                Ok(acceptor) => {
                    current.store(Arc::new(acceptor));
                    info!(cert = %files.cert.display(), "TLS certificate files changed: reloaded");
                    loaded = now;
                    refused = None;
                }
                Err(e) => {
                    warn!(error = %e, "TLS certificate files changed but do not load; keeping the previous ones");
                    refused = Some(now);
                }
            }
        }
    })
}
