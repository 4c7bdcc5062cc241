//! The HTTP client shared by controller peers, brokers and the admin command: one pooled
//! `reqwest` client, postcard in and out, failures sorted into "could not reach it" (safe to
//! try another node) and everything else. With TLS settings it speaks HTTPS, trusting only
//! the cluster's CA and presenting this process's certificate.

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::AUTHORIZATION;
use serde::Serialize;
use serde::de::DeserializeOwned;

use skiff_tls::ClientFiles;

use super::wire::POSTCARD;
use crate::auth::ClusterSecret;
pub use crate::error::TransportError;

/// How long to wait for a TCP connection to a node before calling it unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// Cheap to clone; clones share the connection pool.
#[derive(Debug, Clone)]
pub struct HttpClient {
    inner: reqwest::Client,
    /// `https` with TLS settings, else `http`.
    scheme: &'static str,
    /// Signs every request when the cluster has a secret (see `crate::auth`).
    secret: Option<Arc<ClusterSecret>>,
}

impl HttpClient {
    /// Plain HTTP.
    pub fn new() -> Result<Self, TransportError> {
        Self::with_tls(None)
    }

    /// HTTPS when `tls` is given (its CA the only root), plain HTTP otherwise.
    pub fn with_tls(tls: Option<&ClientFiles>) -> Result<Self, TransportError> {
        let builder = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .tcp_nodelay(true)
            // Controllers talk on a private network; a proxy would only add a hop.
            .no_proxy();
        let (builder, scheme) = match tls {
            None => (builder, "http"),
            Some(files) => {
                let config = skiff_tls::client_config(files)
                    .map_err(|e| TransportError::Client(e.to_string()))?;
                (
                    builder.tls_backend_preconfigured(config).https_only(true),
                    "https",
                )
            }
        };
        let inner = builder
            .build()
            .map_err(|e| TransportError::Client(e.to_string()))?;
        Ok(HttpClient {
            inner,
            scheme,
            secret: None,
        })
    }

    /// Signs every request with `secret` from now on (`None`: unsigned, as without one).
    pub fn with_secret(mut self, secret: Option<ClusterSecret>) -> Self {
        self.secret = secret.map(Arc::new);
        self
    }

    fn url(&self, addr: &str, path_and_query: &str) -> String {
        format!("{}://{addr}{path_and_query}", self.scheme)
    }

    /// A GET of `{addr}{path_and_query}`, signed, for callers that read the body themselves
    /// (the watch stream).
    pub fn get_request(&self, addr: &str, path_and_query: &str) -> reqwest::RequestBuilder {
        let request = self.inner.get(self.url(addr, path_and_query));
        self.sign(request, "GET", path_and_query, &[])
    }

    fn sign(
        &self,
        request: reqwest::RequestBuilder,
        method: &str,
        path_and_query: &str,
        body: &[u8],
    ) -> reqwest::RequestBuilder {
        match &self.secret {
            Some(secret) => request.header(
                AUTHORIZATION,
                secret.authorization(method, path_and_query, body),
            ),
            None => request,
        }
    }

    /// POSTs `body` to `{addr}{path}` and decodes the reply.
    pub async fn post<B: Serialize, R: DeserializeOwned>(
        &self,
        addr: &str,
        path: &str,
        body: &B,
        timeout: Duration,
    ) -> Result<R, TransportError> {
        let body = postcard::to_allocvec(body).map_err(TransportError::Encode)?;
        let request = self
            .sign(self.inner.post(self.url(addr, path)), "POST", path, &body)
            .header(reqwest::header::CONTENT_TYPE, POSTCARD)
            .body(body)
            .timeout(timeout);
        self.send(addr, request, timeout).await
    }

    /// GETs `{addr}{path}` and decodes the reply.
    pub async fn get<R: DeserializeOwned>(
        &self,
        addr: &str,
        path: &str,
        timeout: Duration,
    ) -> Result<R, TransportError> {
        let request = self.get_request(addr, path).timeout(timeout);
        self.send(addr, request, timeout).await
    }

    async fn send<R: DeserializeOwned>(
        &self,
        addr: &str,
        request: reqwest::RequestBuilder,
        timeout: Duration,
    ) -> Result<R, TransportError> {
        let response = request
            .send()
            .await
            .map_err(|e| classify(addr, timeout, &e))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| classify(addr, timeout, &e))?;
        if status == reqwest::StatusCode::UNAUTHORIZED {
            return Err(TransportError::Unauthorized {
                addr: addr.to_string(),
            });
        }
        if !status.is_success() {
            return Err(TransportError::Status {
                addr: addr.to_string(),
                status: status.as_u16(),
                message: String::from_utf8_lossy(bytes.get(..200).unwrap_or(&bytes)).into_owned(),
            });
        }
        postcard::from_bytes(&bytes).map_err(|e| TransportError::Decode {
            addr: addr.to_string(),
            message: e.to_string(),
        })
    }
}

pub(crate) fn classify(addr: &str, timeout: Duration, e: &reqwest::Error) -> TransportError {
    if let Some(tls) = tls_failure(e) {
        TransportError::Tls {
            addr: addr.to_string(),
            message: tls.to_string(),
        }
    } else if e.is_connect() {
        TransportError::Unreachable {
            addr: addr.to_string(),
            message: error_chain(e),
        }
    } else if e.is_timeout() {
        TransportError::Timeout {
            addr: addr.to_string(),
            timeout,
        }
    } else {
        TransportError::Interrupted {
            addr: addr.to_string(),
            message: error_chain(e),
        }
    }
}

/// The rustls error somewhere in `e`'s causes: a certificate refused by us, or an alert from a
/// server that refused ours (with TLS 1.3 that arrives on the first read, after the request
/// was written, though the server never read it).
fn tls_failure<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut cause = Some(e);
    while let Some(error) = cause {
        if let Some(tls) = error.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        // io::Error's source() skips the error it wraps, and hyper-rustls wraps tokio-rustls'
        // io::Error in another one: follow what each wraps.
        cause = match error.downcast_ref::<std::io::Error>() {
            Some(io) => io
                .get_ref()
                .map(|inner| inner as &(dyn std::error::Error + 'static)),
            None => error.source(),
        };
    }
    None
}

/// reqwest's top-level message is "error sending request"; the cause says why.
pub(crate) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
