//! Authentication of the controller's HTTP API with a shared cluster secret.
//!
//! Every request carries `Authorization: Skiff-HMAC-SHA256 ts=<ms>,nonce=<hex>,sig=<hex>`,
//! where `sig` is HMAC-SHA256 under the secret of the method, path and query, timestamp,
//! nonce and body. The secret itself never crosses the wire, so a process that only sees the
//! traffic cannot make requests of its own; the signed body means a captured header is no use
//! on another body; the timestamp window and the nonces a node remembers within it refuse a
//! replay to the same node. It authenticates, it does not encrypt: the bodies travel in clear.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, KeyInit, Mac};
use parking_lot::Mutex;
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The `Authorization` scheme.
pub const SCHEME: &str = "Skiff-HMAC-SHA256";
/// The first line of every signed message, so a signature means nothing in another protocol.
const CONTEXT: &str = "skiff-controller-v1";
/// The shortest secret accepted: brute-forcing an HMAC key of 16 random bytes is out of reach.
pub const MIN_SECRET_BYTES: usize = 16;
/// A request's timestamp may differ from this node's clock by this much (clock skew between
/// hosts plus time in flight).
pub const MAX_SKEW: Duration = Duration::from_secs(120);
/// Nonces one node remembers (each for about twice `MAX_SKEW`): at 1,000,000 it refuses
/// further requests until older ones age out, rather than grow (about 40 MB at the bound).
const MAX_REMEMBERED_NONCES: usize = 1_000_000;

/// Why a cluster secret file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SecretFileError {
    #[error("cannot read the cluster secret file {}: {source}", .path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the cluster secret in {} is {len} bytes; it needs at least 16 \
         (make one with `openssl rand -hex 32 > FILE`)",
        .path.display()
    )]
    TooShort { path: PathBuf, len: usize },
}

/// The shared secret every controller, broker and admin command of a cluster holds.
#[derive(Clone, PartialEq, Eq)]
pub struct ClusterSecret {
    key: Vec<u8>,
}

impl std::fmt::Debug for ClusterSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClusterSecret(..)")
    }
}

impl ClusterSecret {
    /// Reads the secret from `path`: its bytes without leading and trailing whitespace (so
    /// the newline `echo` or `openssl rand -hex` leaves does not count).
    pub fn from_file(path: &Path) -> Result<ClusterSecret, SecretFileError> {
        let bytes = std::fs::read(path).map_err(|source| SecretFileError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        warn_if_others_can_read(path);
        let key = bytes.trim_ascii().to_vec();
        if key.len() < MIN_SECRET_BYTES {
            return Err(SecretFileError::TooShort {
                path: path.to_path_buf(),
                len: key.len(),
            });
        }
        Ok(ClusterSecret { key })
    }

    /// A secret from bytes (tests, and callers that read it some other way).
    pub fn from_bytes(key: &[u8]) -> ClusterSecret {
        ClusterSecret { key: key.to_vec() }
    }

    /// The `Authorization` header value for a request made now.
    pub fn authorization(&self, method: &str, path_and_query: &str, body: &[u8]) -> String {
        let nonce = hex(uuid::Uuid::new_v4().as_bytes());
        self.authorization_at(now_ms(), &nonce, method, path_and_query, body)
    }

    fn authorization_at(
        &self,
        ts: u64,
        nonce: &str,
        method: &str,
        path_and_query: &str,
        body: &[u8],
    ) -> String {
        let sig = self.signature(ts, nonce, method, path_and_query, body);
        format!("{SCHEME} ts={ts},nonce={nonce},sig={sig}")
    }

    fn signature(
        &self,
        ts: u64,
        nonce: &str,
        method: &str,
        path_and_query: &str,
        body: &[u8],
    ) -> String {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        mac.update(format!("{CONTEXT}\n{method}\n{path_and_query}\n{ts}\n{nonce}\n").as_bytes());
        mac.update(body);
        hex(&mac.finalize().into_bytes())
    }
}

/// Warns once when the file's mode lets other users read the secret.
fn warn_if_others_can_read(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path)
            && meta.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(
                file = %path.display(),
                "the cluster secret file can be read by other users; `chmod 600` it"
            );
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// Why a request was refused (logged, never sent back in detail).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("no Authorization header")]
    Missing,
    #[error("the Authorization header is not Skiff-HMAC-SHA256 ts=..,nonce=..,sig=..")]
    Malformed,
    #[error("the request's timestamp is {skew_s} s away from this node's clock")]
    Stale { skew_s: u64 },
    #[error("wrong signature (another cluster secret?)")]
    BadSignature,
    #[error("a replayed request (its nonce was used before)")]
    Replayed,
    #[error("too many recent requests to remember their nonces")]
    Busy,
}

/// The parts of a well-formed header.
#[derive(Debug, PartialEq, Eq)]
pub struct Credentials<'a> {
    ts: u64,
    nonce: &'a str,
    sig: &'a str,
}

/// The server side: checks headers and remembers recent nonces.
pub struct Verifier {
    secret: ClusterSecret,
    /// (timestamp, nonce) of requests accepted within the window.
    seen: Mutex<BTreeSet<(u64, u128)>>,
}

impl Verifier {
    pub fn new(secret: ClusterSecret) -> Verifier {
        Verifier {
            secret,
            seen: Mutex::new(BTreeSet::new()),
        }
    }

    /// Parses the header and checks its timestamp: cheap, done before the body is read.
    pub fn precheck<'a>(&self, header: Option<&'a str>) -> Result<Credentials<'a>, Refusal> {
        self.precheck_at(header, now_ms())
    }

    fn precheck_at<'a>(
        &self,
        header: Option<&'a str>,
        now: u64,
    ) -> Result<Credentials<'a>, Refusal> {
        let credentials = parse(header.ok_or(Refusal::Missing)?)?;
        let skew = now.abs_diff(credentials.ts);
        if skew > MAX_SKEW.as_millis() as u64 {
            return Err(Refusal::Stale {
                skew_s: skew / 1000,
            });
        }
        Ok(credentials)
    }

    /// Checks the signature over the whole request, then that the nonce is new.
    pub fn verify(
        &self,
        credentials: &Credentials<'_>,
        method: &str,
        path_and_query: &str,
        body: &[u8],
    ) -> Result<(), Refusal> {
        self.verify_at(credentials, method, path_and_query, body, now_ms())
    }

    fn verify_at(
        &self,
        c: &Credentials<'_>,
        method: &str,
        path_and_query: &str,
        body: &[u8],
        now: u64,
    ) -> Result<(), Refusal> {
        let expected = self
            .secret
            .signature(c.ts, c.nonce, method, path_and_query, body);
        if !bool::from(expected.as_bytes().ct_eq(c.sig.as_bytes())) {
            return Err(Refusal::BadSignature);
        }
        // Only signed requests reach the nonce set, so nobody without the secret can fill it.
        let nonce = u128::from_str_radix(c.nonce, 16).map_err(|_| Refusal::Malformed)?;
        let mut seen = self.seen.lock();
        // A timestamp older than this is refused by the precheck, so its nonce can go.
        let horizon = now.saturating_sub(MAX_SKEW.as_millis() as u64);
        let keep = seen.split_off(&(horizon, 0));
        *seen = keep;
        if seen.len() >= MAX_REMEMBERED_NONCES {
            return Err(Refusal::Busy);
        }
        if !seen.insert((c.ts, nonce)) {
            return Err(Refusal::Replayed);
        }
        Ok(())
    }
}

fn parse(header: &str) -> Result<Credentials<'_>, Refusal> {
    let rest = header
        .strip_prefix(SCHEME)
        .and_then(|r| r.strip_prefix(' '))
        .ok_or(Refusal::Malformed)?;
    let (mut ts, mut nonce, mut sig) = (None, None, None);
    for part in rest.split(',') {
        match part.trim().split_once('=') {
            Some(("ts", v)) => ts = v.parse::<u64>().ok(),
            Some(("nonce", v)) => nonce = Some(v),
            Some(("sig", v)) => sig = Some(v),
            _ => return Err(Refusal::Malformed),
        }
    }
    let nonce = nonce.filter(|n| n.len() == 32 && n.bytes().all(|b| b.is_ascii_hexdigit()));
    match (ts, nonce, sig) {
        (Some(ts), Some(nonce), Some(sig)) => Ok(Credentials { ts, nonce, sig }),
        _ => Err(Refusal::Malformed),
    }
}

fn hex(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(text, "{b:02x}");
    }
    text
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NONCE: &str = "0123456789abcdef0123456789abcdef";

    fn secret() -> ClusterSecret {
        ClusterSecret::from_bytes(b"a cluster secret of some length")
    }

    fn check(v: &Verifier, header: &str, body: &[u8], now: u64) -> Result<(), Refusal> {
        let c = v.precheck_at(Some(header), now)?;
        v.verify_at(&c, "POST", "/v1/propose", body, now)
    }

    #[test]
    fn a_signed_request_passes_once() {
        let v = Verifier::new(secret());
        let h = secret().authorization_at(1_000_000, NONCE, "POST", "/v1/propose", b"body");
        assert_eq!(check(&v, &h, b"body", 1_000_500), Ok(()));
        assert_eq!(check(&v, &h, b"body", 1_000_600), Err(Refusal::Replayed));
    }

    #[test]
    fn another_secret_body_path_or_method_fails() {
        let v = Verifier::new(secret());
        let other = ClusterSecret::from_bytes(b"another secret of some length");
        let h = other.authorization_at(1_000_000, NONCE, "POST", "/v1/propose", b"body");
        assert_eq!(
            check(&v, &h, b"body", 1_000_000),
            Err(Refusal::BadSignature)
        );
        let h = secret().authorization_at(1_000_000, NONCE, "POST", "/v1/propose", b"body");
        assert_eq!(
            check(&v, &h, b"bodY", 1_000_000),
            Err(Refusal::BadSignature)
        );
        let h = secret().authorization_at(1_000_000, NONCE, "POST", "/v1/snapshot", b"body");
        assert_eq!(
            check(&v, &h, b"body", 1_000_000),
            Err(Refusal::BadSignature)
        );
        let h = secret().authorization_at(1_000_000, NONCE, "GET", "/v1/propose", b"body");
        assert_eq!(
            check(&v, &h, b"body", 1_000_000),
            Err(Refusal::BadSignature)
        );
    }

    #[test]
    fn old_and_future_timestamps_fail_and_old_nonces_are_forgotten() {
        let v = Verifier::new(secret());
        let window = MAX_SKEW.as_millis() as u64;
        let h = secret().authorization_at(1_000_000, NONCE, "POST", "/v1/propose", b"");
        assert!(matches!(
            check(&v, &h, b"", 1_000_000 + window + 1),
            Err(Refusal::Stale { .. })
        ));
        assert!(matches!(
            check(&v, &h, b"", 1_000_000 - window - 1),
            Err(Refusal::Stale { .. })
        ));
        assert_eq!(check(&v, &h, b"", 1_000_000), Ok(()));
        let later =
            secret().authorization_at(1_000_000 + 2 * window, NONCE, "POST", "/v1/propose", b"");
        assert_eq!(check(&v, &later, b"", 1_000_000 + 2 * window), Ok(()));
        assert_eq!(v.seen.lock().len(), 1, "the first nonce aged out");
    }

    #[test]
    fn malformed_headers_are_refused() {
        let v = Verifier::new(secret());
        for header in [
            "",
            "Bearer abc",
            "Skiff-HMAC-SHA256 ts=1,nonce=00,sig=00",
            "Skiff-HMAC-SHA256 ts=x,nonce=0123456789abcdef0123456789abcdef,sig=00",
            "Skiff-HMAC-SHA256 ts=1,sig=00",
            "Skiff-HMAC-SHA256 ts=1,nonce=0123456789abcdef0123456789abcdeg,sig=00",
            "Skiff-HMAC-SHA256 ts=1,nonce=0123456789abcdef0123456789abcdef,sig=00,x=1",
        ] {
            assert_eq!(
                v.precheck_at(Some(header), 1),
                Err(Refusal::Malformed),
                "{header}"
            );
        }
        assert_eq!(v.precheck_at(None, 1), Err(Refusal::Missing));
    }

    #[test]
    fn secret_files_are_trimmed_and_short_ones_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("secret");
        std::fs::write(&file, "  0123456789abcdef0123\n").unwrap();
        assert_eq!(
            ClusterSecret::from_file(&file).unwrap(),
            ClusterSecret::from_bytes(b"0123456789abcdef0123")
        );
        std::fs::write(&file, "short\n").unwrap();
        let err = ClusterSecret::from_file(&file).unwrap_err();
        assert!(err.to_string().contains("at least 16"), "{err}");
        let missing = ClusterSecret::from_file(&dir.path().join("none")).unwrap_err();
        assert!(missing.to_string().contains("cannot read"), "{missing}");
        assert_eq!(format!("{:?}", secret()), "ClusterSecret(..)");
    }
}
