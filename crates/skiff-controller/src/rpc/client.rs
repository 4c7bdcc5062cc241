//! The client side of the broker and admin API: a list of controller addresses, tried in turn.
//! A proposal moves on to another controller only when the previous one was not reached at
//! all or had no leader, so a proposal is never applied twice because of a retry here.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::http::{HttpClient, TransportError};
use skiff_meta::{Command, ControllerState, ProposeError};

use super::wire::{
    AddNodeRequest, MembershipReply, NodeStatus, PATH_ADD_NODE, PATH_PROPOSE, PATH_REMOVE_NODE,
    PATH_SNAPSHOT, PATH_STATUS, PATH_WATCH, ProposeRequest, Proposed, RemoveNodeRequest,
    StateSnapshot,
};
use crate::auth::ClusterSecret;
use crate::error::{ControllerError, InvalidConfig};
use skiff_tls::ClientFiles;

/// One request's time limit by default; a proposal can wait out an election at the leader.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a proposal keeps trying other controllers / waiting for a leader in total.
const PROPOSE_DEADLINE: Duration = Duration::from_secs(15);
const RETRY_FIRST: Duration = Duration::from_millis(50);
/// Short: an election takes about one election timeout, and asking again is cheap.
const RETRY_MAX: Duration = Duration::from_millis(200);

/// Every controller a broker or admin command may talk to.
#[derive(Debug)]
pub struct ControllerEndpoints {
    addrs: Vec<String>,
    http: HttpClient,
    /// The address that last answered; tried first.
    preferred: AtomicUsize,
    request_timeout: Duration,
}

impl ControllerEndpoints {
    /// Plain HTTP.
    pub fn new(addrs: Vec<String>) -> Result<Self, ControllerError> {
        Self::with_tls(addrs, None)
    }

    /// HTTPS when `tls` is given: its CA is the only root the controllers' certificates are
    /// checked against, and its identity the client certificate presented.
    pub fn with_tls(
        addrs: Vec<String>,
        tls: Option<&ClientFiles>,
    ) -> Result<Self, ControllerError> {
        if addrs.is_empty() {
            return Err(InvalidConfig::NoControllers.into());
        }
        let http = HttpClient::with_tls(tls)?;
        Ok(ControllerEndpoints {
            addrs,
            http,
            preferred: AtomicUsize::new(0),
            request_timeout: REQUEST_TIMEOUT,
        })
    }

    /// Gives each request `timeout` instead of the default 10 s (a proposal of many
    /// megabytes in a debug build, say).
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Signs every request with the cluster secret (`None`: unsigned).
    pub fn with_secret(mut self, secret: Option<ClusterSecret>) -> Self {
        self.http = self.http.with_secret(secret);
        self
    }

    pub fn addrs(&self) -> &[String] {
        &self.addrs
    }

    pub fn http(&self) -> &HttpClient {
        &self.http
    }

    /// The address to try first, and the one after it.
    pub fn current(&self) -> &str {
        let i = self.preferred.load(Ordering::Relaxed) % self.addrs.len();
        self.addrs.get(i).map_or("", String::as_str)
    }

    /// Moves on to the next controller (after a failure of the current one).
    pub fn rotate(&self) {
        self.preferred.fetch_add(1, Ordering::Relaxed);
    }

    /// Proposes `command` through any controller (followers forward it to the leader) and
    /// returns the response with the log index it was applied at.
    pub async fn submit(&self, command: Command) -> Result<Proposed, ProposeError> {
        let request = ProposeRequest {
            command,
            forwarded: false,
        };
        let deadline = Instant::now() + PROPOSE_DEADLINE.max(self.request_timeout);
        let mut pause = RETRY_FIRST;
        loop {
            let addr = self.current().to_string();
            let outcome = self
                .http
                .post::<_, Result<Proposed, ProposeError>>(
                    &addr,
                    PATH_PROPOSE,
                    &request,
                    self.request_timeout,
                )
                .await;
            let retry_error = match outcome {
                Ok(Ok(proposed)) => return Ok(proposed),
                // No leader right now (an election): wait and ask again.
                Ok(Err(e @ ProposeError::NotLeader { .. }))
                | Ok(Err(e @ ProposeError::ShuttingDown)) => {
                    if matches!(e, ProposeError::ShuttingDown) {
                        self.rotate();
                    }
                    e
                }
                Ok(Err(e)) => return Err(e),
                Err(e) if e.never_delivered() => {
                    tracing::debug!(controller = %addr, error = %e, "controller unreachable; trying the next");
                    self.rotate();
                    e.into_propose_error()
                }
                // Delivered, but the outcome is unknown: the caller decides (a produce answers
                // with a retriable error, as Kafka does on a timeout).
                Err(e) => return Err(e.into_propose_error()),
            };
            if Instant::now() + pause > deadline {
                return Err(retry_error);
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(RETRY_MAX);
        }
    }

    /// The whole state from any reachable controller, with the index it reflects.
    pub async fn snapshot(&self) -> Result<(u64, ControllerState), ControllerError> {
        let mut last_error = None;
        for _ in 0..self.addrs.len() {
            let addr = self.current().to_string();
            match self
                .http
                .get::<Result<StateSnapshot, ProposeError>>(
                    &addr,
                    PATH_SNAPSHOT,
                    self.request_timeout,
                )
                .await
            {
                Ok(Ok(snapshot)) => {
                    let state: ControllerState =
                        postcard::from_bytes(&snapshot.state).map_err(|source| {
                            ControllerError::UndecodableState {
                                controller: addr,
                                source,
                            }
                        })?;
                    return Ok((snapshot.index, state));
                }
                Ok(Err(e)) => last_error = Some(ControllerError::from(e)),
                Err(e) => last_error = Some(ControllerError::from(e)),
            }
            self.rotate();
        }
        Err(last_error.unwrap_or(InvalidConfig::NoControllers.into()))
    }

    /// Opens a watch stream at the current controller from `from` on.
    pub async fn open_watch(&self, from: u64) -> Result<reqwest::Response, TransportError> {
        let addr = self.current().to_string();
        let response = self
            .http
            .get_request(&addr, &format!("{PATH_WATCH}?from={from}"))
            .send()
            .await
            .map_err(|e| super::http::classify(&addr, self.request_timeout, &e))?;
        if response.status() == reqwest::StatusCode::UNAUTHORIZED {
            return Err(TransportError::Unauthorized { addr });
        }
        if !response.status().is_success() {
            return Err(TransportError::Status {
                addr,
                status: response.status().as_u16(),
                message: "watch refused".into(),
            });
        }
        Ok(response)
    }

    /// The status of the controller at `addr`.
    pub async fn status_of(&self, addr: &str) -> Result<NodeStatus, TransportError> {
        self.http.get(addr, PATH_STATUS, self.request_timeout).await
    }

    /// Adds a controller node (sent to the first reachable controller, forwarded to the leader).
    pub async fn add_node(
        &self,
        id: u64,
        addr: String,
    ) -> Result<MembershipReply, ControllerError> {
        let request = AddNodeRequest {
            id,
            addr,
            forwarded: false,
        };
        self.admin(PATH_ADD_NODE, &request, Duration::from_secs(130))
            .await
    }

    pub async fn remove_node(&self, id: u64) -> Result<MembershipReply, ControllerError> {
        let request = RemoveNodeRequest {
            id,
            forwarded: false,
        };
        self.admin(PATH_REMOVE_NODE, &request, self.request_timeout)
            .await
    }

    async fn admin<B: serde::Serialize>(
        &self,
        path: &str,
        body: &B,
        timeout: Duration,
    ) -> Result<MembershipReply, ControllerError> {
        let mut last_error = None;
        for _ in 0..self.addrs.len() {
            let addr = self.current().to_string();
            match self
                .http
                .post::<_, Result<MembershipReply, ProposeError>>(&addr, path, body, timeout)
                .await
            {
                Ok(reply) => return reply.map_err(ControllerError::from),
                Err(e) if e.never_delivered() => {
                    last_error = Some(ControllerError::from(e));
                    self.rotate();
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(last_error.unwrap_or(InvalidConfig::NoControllers.into()))
    }
}
