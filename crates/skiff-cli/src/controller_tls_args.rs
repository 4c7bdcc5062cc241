//! `--controller-tls-*`: TLS with mutual authentication on the controller API, for every
//! command that serves it or talks to it (the same ones as `--cluster-secret-file`). A
//! controller serves its certificate and requires clients to present one the client CA
//! signed; clients (a controller calling its peers, brokers, `skiff controller admin`,
//! `skiff archive run`) trust only that CA and present their own certificate.

use std::path::PathBuf;

use anyhow::bail;
use clap::Args;
use skiff_tls::{ClientFiles, TlsFiles};

#[derive(Debug, Default, Clone, Args)]
pub struct ControllerTlsArgs {
    /// PEM certificate chain of this process on the controller API. A controller serves it
    /// (it must name the address others use, e.g. IP:10.0.0.5 or DNS:controller-1) and
    /// presents it to its peers; brokers and admin commands present it as their client
    /// certificate. Needs --controller-tls-key-file.
    #[arg(long, env = "SKIFF_CONTROLLER_TLS_CERT_FILE", value_name = "FILE")]
    pub controller_tls_cert_file: Option<PathBuf>,

    /// PEM private key of --controller-tls-cert-file.
    #[arg(long, env = "SKIFF_CONTROLLER_TLS_KEY_FILE", value_name = "FILE")]
    pub controller_tls_key_file: Option<PathBuf>,

    /// PEM CA certificate(s) of the controller API: a controller refuses, during the TLS
    /// handshake, every client (peer, broker, admin command) without a certificate it
    /// signed, and clients trust only it for the controllers' certificates. On a client it
    /// turns on https. Changed certificate files are reloaded without a restart.
    #[arg(long, env = "SKIFF_CONTROLLER_TLS_CLIENT_CA_FILE", value_name = "FILE")]
    pub controller_tls_client_ca_file: Option<PathBuf>,
}

impl ControllerTlsArgs {
    fn identity(&self) -> anyhow::Result<Option<(PathBuf, PathBuf)>> {
        match (
            &self.controller_tls_cert_file,
            &self.controller_tls_key_file,
        ) {
            (Some(cert), Some(key)) => Ok(Some((cert.clone(), key.clone()))),
            (None, None) => Ok(None),
            (Some(_), None) => bail!("--controller-tls-cert-file needs --controller-tls-key-file"),
            (None, Some(_)) => bail!("--controller-tls-key-file needs --controller-tls-cert-file"),
        }
    }

    /// What a process serving the controller API uses (`None`: plain HTTP). A controller of
    /// a cluster also needs the client CA, which `skiff-controller` checks.
    pub fn server(&self) -> anyhow::Result<Option<TlsFiles>> {
        match self.identity()? {
            Some((cert, key)) => Ok(Some(TlsFiles {
                cert,
                key,
                client_ca: self.controller_tls_client_ca_file.clone(),
            })),
            None if self.controller_tls_client_ca_file.is_some() => bail!(
                "--controller-tls-client-ca-file on a controller needs \
                 --controller-tls-cert-file and --controller-tls-key-file to serve TLS with"
            ),
            None => Ok(None),
        }
    }

    /// What a client of the controller API uses (`None`: plain HTTP).
    pub fn client(&self) -> anyhow::Result<Option<ClientFiles>> {
        let identity = self.identity()?;
        match &self.controller_tls_client_ca_file {
            Some(ca) => Ok(Some(ClientFiles {
                ca: ca.clone(),
                identity,
            })),
            None if identity.is_some() => bail!(
                "--controller-tls-cert-file needs --controller-tls-client-ca-file: the CA that \
                 signed the controllers' certificates, the only one this client trusts"
            ),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(cert: bool, key: bool, ca: bool) -> ControllerTlsArgs {
        ControllerTlsArgs {
            controller_tls_cert_file: cert.then(|| "c.pem".into()),
            controller_tls_key_file: key.then(|| "k.pem".into()),
            controller_tls_client_ca_file: ca.then(|| "ca.pem".into()),
        }
    }

    #[test]
    fn servers_need_a_certificate_and_clients_a_ca() {
        assert_eq!(args(false, false, false).server().unwrap(), None);
        assert_eq!(args(false, false, false).client().unwrap(), None);
        let server = args(true, true, true).server().unwrap().unwrap();
        assert_eq!(server.client_ca, Some("ca.pem".into()));
        assert_eq!(
            args(true, true, false).server().unwrap().unwrap().client_ca,
            None
        );
        assert!(args(false, false, true).server().is_err());
        assert!(args(true, false, true).server().is_err());

        let client = args(true, true, true).client().unwrap().unwrap();
        assert_eq!(client.identity, Some(("c.pem".into(), "k.pem".into())));
        assert_eq!(
            args(false, false, true).client().unwrap().unwrap().identity,
            None
        );
        let refused = args(true, true, false).client().unwrap_err().to_string();
        assert!(
            refused.contains("--controller-tls-client-ca-file"),
            "{refused}"
        );
        assert!(args(false, true, true).client().is_err());
    }
}
