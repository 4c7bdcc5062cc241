//! The TLS side of SSL and SASL_SSL listeners: a rustls acceptor from PEM files.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig, ServerConnection};
use thiserror::Error;
use tokio_rustls::TlsAcceptor;
use x509_cert::Certificate;
use x509_cert::der::Decode;

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
}

fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| e.to_string())?;
    if certs.is_empty() {
        return Err("no PEM certificate in it".into());
    }
    Ok(certs)
}

/// The acceptor for a listener's certificate chain and key (both PEM). With `client_ca`,
/// clients must present a certificate that CA signed (Kafka's `ssl.client.auth=required`).
pub fn acceptor(
    cert_file: &Path,
    key_file: &Path,
    client_ca: Option<&Path>,
) -> Result<TlsAcceptor, TlsSetupError> {
    let certs = certificates(cert_file).map_err(|reason| TlsSetupError::Certificate {
        path: cert_file.to_path_buf(),
        reason,
    })?;
    let key = PrivateKeyDer::from_pem_file(key_file).map_err(|e| TlsSetupError::Key {
        path: key_file.to_path_buf(),
        reason: e.to_string(),
    })?;
    // The provider the rest of the process's rustls already uses (object_store's client).
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(path) => {
            let ca_error = |reason: String| TlsSetupError::ClientCa {
                path: path.to_path_buf(),
                reason,
            };
            let mut roots = RootCertStore::empty();
            for cert in certificates(path).map_err(ca_error)? {
                roots.add(cert).map_err(|e| ca_error(e.to_string()))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| ca_error(e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let config = builder.with_single_cert(certs, key)?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// The principal of a client that presented a (verified) certificate: `User:` and its
/// subject's distinguished name, as Kafka's default `ssl.principal.mapping.rules` gives it.
pub fn client_principal(connection: &ServerConnection) -> Option<String> {
    let leaf = connection.peer_certificates()?.first()?;
    subject_principal(leaf)
}

fn subject_principal(der: &[u8]) -> Option<String> {
    let certificate = Certificate::from_der(der).ok()?;
    Some(format!("User:{}", certificate.tbs_certificate().subject()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `openssl req -x509 -subj "/O=Example A/CN=writer"` (EC P-256, self-signed).
    const CLIENT_PEM: &str = "-----BEGIN CERTIFICATE-----
MIIBnzCCAUWgAwIBAgIUM5sU/PvmKGznpOBW+hCTDCnPvQUwCgYIKoZIzj0EAwIw
JTESMBAGA1UECgwJRXhhbXBsZSBBMQ8wDQYDVQQDDAZ3cml0ZXIwHhcNMjYxMjA3
MDY0NDM4WhcNMzYxMjA0MDY0NDM4WjAlMRIwEAYDVQQKDAlFeGFtcGxlIEExDzAN
BgNVBAMMBndyaXRlcjBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABN0nRPgYVc6k
zvnY93Ahohe6K67SxdcGY5nlXBfoFDrf4ZWyDPs82oaohRhpUZAm/o9TAssU7pne
HAQJYZjHjG6jUzBRMB0GA1UdDgQWBBTvfcoh59DssJHAx2Gz2Rek3/62+zAfBgNV
HSMEGDAWgBTvfcoh59DssJHAx2Gz2Rek3/62+zAPBgNVHRMBAf8EBTADAQH/MAoG
CCqGSM49BAMCA0gAMEUCIC05Gpw2ioZyADgPto5oQeOH4M0iLbCE1HmKKdKgS1rB
AiEA+RzWn88FHTEpy/K1e6w8Hk1ZuSkEIwoxC/x/shkoRWY=
-----END CERTIFICATE-----";

    #[test]
    fn the_principal_is_the_subject_as_kafka_prints_it() {
        let der = CertificateDer::from_pem_slice(CLIENT_PEM.as_bytes()).unwrap();
        assert_eq!(
            subject_principal(&der).as_deref(),
            Some("User:CN=writer,O=Example A")
        );
        assert_eq!(subject_principal(b"not a certificate"), None);
    }
}
