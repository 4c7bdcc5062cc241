//! TLS from PEM files for Skiff's servers and clients, on rustls with the aws-lc-rs provider.
//!
//! - [`server`]: an acceptor from a certificate chain and key, optionally requiring client
//!   certificates signed by a CA (mutual TLS).
//! - [`reload`]: the acceptor rebuilt and swapped in when its files change.
//! - [`client`]: a client configuration that trusts one CA and can present a certificate,
//!   reread when its files change.

pub mod client;
mod pem;
pub mod reload;
pub mod server;

pub use client::{ClientFiles, client_config};
pub use reload::{SharedAcceptor, TlsFiles};
pub use server::acceptor;

use std::path::PathBuf;

use thiserror::Error;

#[derive(Debug, Error)]
pub enum TlsSetupError {
    #[error("TLS certificate file {path}: {reason}")]
    Certificate { path: PathBuf, reason: String },
    #[error("TLS key file {path}: {reason}")]
    Key { path: PathBuf, reason: String },
    #[error("TLS setup: {0}")]
    Config(#[from] rustls::Error),
    #[error("TLS client CA file {path}: {reason}")]
    ClientCa { path: PathBuf, reason: String },
    #[error("TLS CA file {path}: {reason}")]
    Ca { path: PathBuf, reason: String },
}

/// The one provider the process's rustls users share.
pub(crate) fn provider() -> std::sync::Arc<rustls::crypto::CryptoProvider> {
    std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn unreadable_files_are_named_in_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "").unwrap();
        let missing = dir.path().join("missing.pem");

        let refused = client_config(&ClientFiles {
            ca: missing.clone(),
            identity: None,
        })
        .unwrap_err()
        .to_string();
        assert!(
            refused.starts_with(&format!("TLS CA file {}", missing.display())),
            "{refused}"
        );
        let refused = client_config(&ClientFiles {
            ca: empty.clone(),
            identity: None,
        })
        .unwrap_err()
        .to_string();
        assert!(refused.contains("no PEM certificate in it"), "{refused}");

        let refused = acceptor(&empty, &missing, None)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            refused.starts_with(&format!("TLS certificate file {}", empty.display())),
            "{refused}"
        );
        let no_key = Path::new("/nonexistent/key.pem");
        assert!(matches!(
            TlsFiles {
                cert: empty,
                key: no_key.to_path_buf(),
                client_ca: None
            }
            .acceptor(),
            Err(TlsSetupError::Certificate { .. })
        ));
    }
}
