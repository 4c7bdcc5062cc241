//! The TLS side of SSL and SASL_SSL listeners: the acceptor (from PEM files, built by
//! `skiff-tls`, which the controller API shares) and the principal of a client certificate.

use rustls::ServerConnection;
use x509_cert::Certificate;
use x509_cert::der::Decode;

pub use skiff_tls::{TlsSetupError, acceptor};

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
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;

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
