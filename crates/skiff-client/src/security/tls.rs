//! The rustls client configuration for `SSL` and `SASL_SSL`: the CA to trust
//! (`ssl.ca.location`, or the system's roots without it) and an optional client certificate
//! for mutual TLS (`ssl.certificate.location`, `ssl.key.location`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig as RustlsConfig, RootCertStore};

use crate::error::ClientError;

/// The PEM files of a TLS client.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsFiles {
    /// CA certificates to trust; `None`: the operating system's.
    pub ca: Option<PathBuf>,
    pub certificate: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

fn invalid(what: &str, path: &Path, reason: impl std::fmt::Display) -> ClientError {
    ClientError::InvalidArgument(format!("{what} {}: {reason}", path.display()))
}

fn certificates(what: &str, path: &Path) -> Result<Vec<CertificateDer<'static>>, ClientError> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| invalid(what, path, e))?;
    if certs.is_empty() {
        return Err(invalid(what, path, "no PEM certificate in it"));
    }
    Ok(certs)
}

/// The TLS settings every connection of a client shares.
pub fn tls_config(files: &TlsFiles) -> Result<Arc<RustlsConfig>, ClientError> {
    let mut roots = RootCertStore::empty();
    match &files.ca {
        Some(ca) => {
            for cert in certificates("ssl.ca.location", ca)? {
                roots
                    .add(cert)
                    .map_err(|e| invalid("ssl.ca.location", ca, e))?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            let (added, _ignored) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                return Err(ClientError::InvalidArgument(
                    "no system CA certificates found; set ssl.ca.location".into(),
                ));
            }
        }
    }
    // The provider the rest of the process's rustls already uses.
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = RustlsConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ClientError::InvalidArgument(format!("TLS setup: {e}")))?
        .with_root_certificates(roots);
    let config = match (&files.certificate, &files.key) {
        (None, None) => builder.with_no_client_auth(),
        (Some(cert), Some(key)) => {
            let chain = certificates("ssl.certificate.location", cert)?;
            let key_der = PrivateKeyDer::from_pem_file(key)
                .map_err(|e| invalid("ssl.key.location", key, e))?;
            builder
                .with_client_auth_cert(chain, key_der)
                .map_err(|e| invalid("ssl.certificate.location", cert, e))?
        }
        _ => {
            return Err(ClientError::InvalidArgument(
                "ssl.certificate.location and ssl.key.location go together".into(),
            ));
        }
    };
    Ok(Arc::new(config))
}
