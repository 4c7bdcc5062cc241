//! The client side: a rustls configuration that trusts only the given CA and, for mutual TLS,
//! presents a certificate. The certificate and key are reread when they change (checked at
//! each new connection's handshake, which is rare on pooled connections), so renewing them
//! needs no restart; the CA is read once.

use std::path::PathBuf;
use std::sync::Arc;

use parking_lot::Mutex;
use rustls::client::ResolvesClientCert;
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, SignatureScheme};
use tracing::{info, warn};

use crate::{TlsSetupError, pem, provider};

/// The PEM files of a TLS client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientFiles {
    /// The only CA trusted for the server's certificate.
    pub ca: PathBuf,
    /// The client's certificate chain and key, for servers that require one.
    pub identity: Option<(PathBuf, PathBuf)>,
}

/// The configuration every connection of a client shares.
pub fn client_config(files: &ClientFiles) -> Result<ClientConfig, TlsSetupError> {
    let roots = pem::roots(&files.ca, |reason| TlsSetupError::Ca {
        path: files.ca.clone(),
        reason,
    })?;
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots);
    Ok(match &files.identity {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => {
            builder.with_client_cert_resolver(Arc::new(ReloadingIdentity::load(cert, key)?))
        }
    })
}

#[derive(Debug)]
struct ReloadingIdentity {
    cert: PathBuf,
    key: PathBuf,
    /// The files' fingerprint when last looked at, and the identity last loaded.
    current: Mutex<(pem::Fingerprint, Arc<CertifiedKey>)>,
}

impl ReloadingIdentity {
    fn load(cert: &std::path::Path, key: &std::path::Path) -> Result<Self, TlsSetupError> {
        let fingerprint = pem::fingerprint([cert, key]);
        let loaded = read(cert, key)?;
        Ok(ReloadingIdentity {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            current: Mutex::new((fingerprint, Arc::new(loaded))),
        })
    }

    fn fingerprint(&self) -> pem::Fingerprint {
        pem::fingerprint([self.cert.as_path(), self.key.as_path()])
    }
}

fn read(cert: &std::path::Path, key: &std::path::Path) -> Result<CertifiedKey, TlsSetupError> {
    let chain = pem::chain(cert)?;
    let key = pem::key(key)?;
    Ok(CertifiedKey::from_der(chain, key, &provider())?)
}

impl ResolvesClientCert for ReloadingIdentity {
    fn resolve(&self, _hints: &[&[u8]], _schemes: &[SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        let now = self.fingerprint();
        let mut current = self.current.lock();
        if now != current.0 {
            // Remembered either way, so files that do not load are logged once, not at
            // every connection.
            current.0 = now;
            match read(&self.cert, &self.key) {
                Ok(loaded) => {
                    current.1 = Arc::new(loaded);
                    info!(cert = %self.cert.display(), "TLS client certificate files changed: reloaded");
                }
                Err(e) => {
                    warn!(error = %e, "TLS client certificate files changed but do not load; keeping the previous ones");
                }
            }
        }
        Some(current.1.clone())
    }

    fn has_certs(&self) -> bool {
        true
    }
}
