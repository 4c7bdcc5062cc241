//! The TLS side of SSL and SASL_SSL listeners: a rustls acceptor from PEM files.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use thiserror::Error;
use tokio_rustls::TlsAcceptor;

#[derive(Debug, Error)]
pub enum TlsSetupError {
    #[error("TLS certificate file {path}: {reason}")]
    Certificate { path: PathBuf, reason: String },
    #[error("TLS key file {path}: {reason}")]
    Key { path: PathBuf, reason: String },
    #[error("TLS setup: {0}")]
    Config(#[from] rustls::Error),
}

/// The acceptor for a listener's certificate chain and key (both PEM).
pub fn acceptor(cert_file: &Path, key_file: &Path) -> Result<TlsAcceptor, TlsSetupError> {
    let certs = CertificateDer::pem_file_iter(cert_file)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| TlsSetupError::Certificate {
            path: cert_file.to_path_buf(),
            reason: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsSetupError::Certificate {
            path: cert_file.to_path_buf(),
            reason: "no PEM certificate in it".into(),
        });
    }
    let key = PrivateKeyDer::from_pem_file(key_file).map_err(|e| TlsSetupError::Key {
        path: key_file.to_path_buf(),
        reason: e.to_string(),
    })?;
    // The provider the rest of the process's rustls already uses (object_store's client).
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}
