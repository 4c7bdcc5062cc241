//! The server side: a rustls acceptor from PEM files.

use std::path::Path;
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::server::WebPkiClientVerifier;
use tokio_rustls::TlsAcceptor;

use crate::{TlsSetupError, pem, provider};

/// The acceptor for a listener's certificate chain and key (both PEM). With `client_ca`,
/// clients must present a certificate that CA signed (Kafka's `ssl.client.auth=required`).
pub fn acceptor(
    cert_file: &Path,
    key_file: &Path,
    client_ca: Option<&Path>,
) -> Result<TlsAcceptor, TlsSetupError> {
    let certs = pem::chain(cert_file)?;
    let key = pem::key(key_file)?;
    let provider = provider();
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(path) => {
            let ca_error = |reason: String| TlsSetupError::ClientCa {
                path: path.to_path_buf(),
                reason,
            };
            let roots = pem::roots(path, ca_error)?;
            let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider)
                .build()
                .map_err(|e| ca_error(e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let config = builder.with_single_cert(certs, key)?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}
