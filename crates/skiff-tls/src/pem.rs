//! Reading PEM files, and telling when they changed.

use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::TlsSetupError;

pub(crate) fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| e.to_string())?;
    if certs.is_empty() {
        return Err("no PEM certificate in it".into());
    }
    Ok(certs)
}

pub(crate) fn chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsSetupError> {
    certificates(path).map_err(|reason| TlsSetupError::Certificate {
        path: path.to_path_buf(),
        reason,
    })
}

pub(crate) fn key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsSetupError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| TlsSetupError::Key {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

/// Every certificate in `path` as a trust anchor; `error` names the flag's role.
pub(crate) fn roots(
    path: &Path,
    error: impl Fn(String) -> TlsSetupError,
) -> Result<Arc<RootCertStore>, TlsSetupError> {
    let mut roots = RootCertStore::empty();
    for cert in certificates(path).map_err(&error)? {
        roots.add(cert).map_err(|e| error(e.to_string()))?;
    }
    Ok(Arc::new(roots))
}

/// What says a set of files changed: each one's modification time and length (`None`:
/// unreadable).
pub(crate) type Fingerprint = Vec<Option<(SystemTime, u64)>>;

pub(crate) fn fingerprint<'a>(paths: impl IntoIterator<Item = &'a Path>) -> Fingerprint {
    paths
        .into_iter()
        .map(|path| {
            let meta = std::fs::metadata(path).ok()?;
            Some((meta.modified().ok()?, meta.len()))
        })
        .collect()
}
