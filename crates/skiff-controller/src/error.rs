//! Errors of the controller's own operations: starting, stopping, membership changes and
//! connecting a broker. Proposals fail with the model's [`ProposeError`], which this wraps.

use std::path::PathBuf;
use std::time::Duration;

use skiff_meta::ProposeError;

use crate::raft::{LogStoreError, SnapshotError};

/// Why a controller operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ControllerError {
    /// A proposal, a membership change or a read of the leader's state did not go through.
    #[error(transparent)]
    Propose(#[from] ProposeError),
    #[error("invalid controller configuration: {0}")]
    InvalidConfig(#[from] InvalidConfig),
    #[error("cannot create data directory {}: {source}", .path.display())]
    DataDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("controller storage failed: {0}")]
    Log(#[from] LogStoreError),
    #[error("controller storage failed: {0}")]
    Snapshot(#[from] SnapshotError),
    #[error("a blocking controller task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error("node {node} did not become the controller leader within {waited_ms} ms")]
    NotLeaderInTime { node: u64, waited_ms: u128 },
    #[error("the controller did not apply its log within {waited_ms} ms of starting")]
    LogNotAppliedInTime { waited_ms: u128 },
    #[error("no controller leader was elected within {waited_ms} ms")]
    NoLeaderInTime { waited_ms: u128 },
    #[error("no controller of {controllers} answered within {waited_ms} ms")]
    NotConnected {
        controllers: String,
        waited_ms: u128,
    },
    /// A controller answered 401 to the first state read (the secrets differ), or TLS with it
    /// failed (a certificate refused).
    #[error("the controllers refused this broker: {reason}")]
    Refused { reason: String },
    #[error("undecodable controller state from {controller}: {source}")]
    UndecodableState {
        controller: String,
        #[source]
        source: postcard::Error,
    },
    #[error("the controller's listener has no address: {source}")]
    Listener {
        #[source]
        source: std::io::Error,
    },
    #[error("the raft log was still open {waited_s} s after raft stopped")]
    LogStillOpen { waited_s: u64 },
}

/// A setting the controller cannot run with.
#[derive(Debug, thiserror::Error)]
pub enum InvalidConfig {
    #[error("snapshot_logs_since_last must be at least 1")]
    ZeroSnapshotThreshold,
    #[error("the peer list does not include this node ({node})")]
    PeersWithoutThisNode { node: u64 },
    #[error("{0}")]
    Raft(Box<openraft::ConfigError>),
    #[error("at least one controller address is needed")]
    NoControllers,
    #[error("a controller node needs an address")]
    NodeWithoutAddress,
    #[error("node {node} is not a member")]
    NotAMember { node: u64 },
    #[error("the {setting} must be {rule}")]
    Lifecycle {
        setting: &'static str,
        rule: &'static str,
    },
    #[error(
        "a controller cluster with TLS needs --controller-tls-client-ca-file: it is the CA \
         this node trusts for its peers' certificates and requires of its clients"
    )]
    TlsWithoutCa,
    #[error("{0}")]
    Tls(#[from] skiff_tls::TlsSetupError),
}

impl ControllerError {
    /// The error as a controller sends it to a broker or admin: proposal failures as they are,
    /// everything else as the reason the request was refused.
    pub fn into_propose_error(self) -> ProposeError {
        match self {
            ControllerError::Propose(e) => e,
            ControllerError::Log(e) => ProposeError::Storage {
                detail: e.to_string(),
            },
            ControllerError::Snapshot(e) => ProposeError::Storage {
                detail: e.to_string(),
            },
            ControllerError::Transport(e) => e.into_propose_error(),
            other => ProposeError::BadRequest {
                detail: other.to_string(),
            },
        }
    }
}

/// Why a request to another controller node failed.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("cannot reach {addr}: {message}")]
    Unreachable { addr: String, message: String },
    #[error("{addr} did not answer within {} ms", .timeout.as_millis())]
    Timeout { addr: String, timeout: Duration },
    /// The request may have been delivered and acted on; only the reply was lost.
    #[error("lost the connection to {addr}: {message}")]
    Interrupted { addr: String, message: String },
    #[error("{addr} answered HTTP {status}: {message}")]
    Status {
        addr: String,
        status: u16,
        message: String,
    },
    #[error("cannot encode the request: {0}")]
    Encode(postcard::Error),
    #[error("undecodable reply from {addr}: {message}")]
    Decode { addr: String, message: String },
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
    /// HTTP 401: the node has a cluster secret and this request was not signed with it.
    #[error(
        "{addr} refused the request as unauthenticated (HTTP 401): give every controller, \
         broker and admin command the same --cluster-secret-file"
    )]
    Unauthorized { addr: String },
    /// The TLS handshake failed: a certificate was refused on one side or the other.
    #[error(
        "TLS with {addr} failed: {message}; the controllers' certificates must be signed by the \
         CA of --controller-tls-client-ca-file and name the address used, and a controller \
         requiring client certificates needs --controller-tls-cert-file and \
         --controller-tls-key-file signed by its CA"
    )]
    Tls { addr: String, message: String },
}

impl TransportError {
    /// The request never reached the node, so trying another node cannot apply it twice.
    pub fn never_delivered(&self) -> bool {
        matches!(self, TransportError::Unreachable { .. })
    }

    /// What a proposer learns from this failure.
    pub fn into_propose_error(self) -> skiff_meta::ProposeError {
        let delivered = !self.never_delivered();
        let detail = self.to_string();
        match self {
            TransportError::Unreachable { addr, .. }
            | TransportError::Timeout { addr, .. }
            | TransportError::Interrupted { addr, .. }
            | TransportError::Status { addr, .. }
            | TransportError::Decode { addr, .. } => ProposeError::Unreachable {
                controller: addr,
                delivered,
                detail,
            },
            // Nothing was done, but no other node will take it either.
            TransportError::Encode(_)
            | TransportError::Unauthorized { .. }
            | TransportError::Tls { .. } => ProposeError::BadRequest { detail },
            TransportError::Client(_) => ProposeError::Unreachable {
                controller: String::new(),
                delivered: false,
                detail,
            },
        }
    }
}
