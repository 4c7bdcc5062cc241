//! Raft RPCs between controller nodes over HTTP (postcard bodies). A peer's address is the
//! `addr` of its `BasicNode` in the membership, so adding a node needs no restart elsewhere.
//! A dead peer costs one failed connect per backoff step, never a panic.

use std::time::Duration;

use openraft::error::{
    InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable,
};
use openraft::network::{Backoff, RPCOption};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::{BasicNode, RaftNetwork, RaftNetworkFactory};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::http::{HttpClient, TransportError};
use super::wire::{PATH_RAFT_APPEND, PATH_RAFT_SNAPSHOT, PATH_RAFT_VOTE};
use crate::raft::types::{NodeId, TypeConfig};

/// First and longest pause before retrying an unreachable peer: short enough that a restarted
/// node catches up quickly, long enough that a dead one costs little.
const BACKOFF_FIRST: Duration = Duration::from_millis(50);
const BACKOFF_MAX: Duration = Duration::from_secs(1);

/// Hands out one HTTP client per peer; all share a connection pool.
#[derive(Debug, Clone)]
pub struct HttpNetwork {
    http: HttpClient,
}

impl HttpNetwork {
    pub fn new(http: HttpClient) -> Self {
        HttpNetwork { http }
    }
}

/// Sends Raft RPCs to one peer.
#[derive(Debug, Clone)]
pub struct HttpPeer {
    http: HttpClient,
    target: NodeId,
    addr: String,
}

impl RaftNetworkFactory<TypeConfig> for HttpNetwork {
    type Network = HttpPeer;

    async fn new_client(&mut self, target: NodeId, node: &BasicNode) -> Self::Network {
        HttpPeer {
            http: self.http.clone(),
            target,
            addr: node.addr.clone(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("controller node {target} has no address in the membership")]
struct NoAddress {
    target: NodeId,
}

impl HttpPeer {
    async fn call<Req, Resp, E>(
        &self,
        path: &str,
        rpc: &Req,
        option: &RPCOption,
    ) -> Result<Resp, RPCError<NodeId, BasicNode, E>>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
    {
        if self.addr.is_empty() {
            return Err(RPCError::Unreachable(Unreachable::new(&NoAddress {
                target: self.target,
            })));
        }
        let reply: Result<Resp, E> = self
            .http
            .post(&self.addr, path, rpc, option.hard_ttl())
            .await
            .map_err(|e| {
                tracing::debug!(target_node = self.target, error = %e, "raft RPC failed");
                match e {
                    TransportError::Unreachable { .. } => {
                        RPCError::Unreachable(Unreachable::new(&e))
                    }
                    other => RPCError::Network(NetworkError::new(&other)),
                }
            })?;
        reply.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }
}

impl RaftNetwork<TypeConfig> for HttpPeer {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        self.call(PATH_RAFT_APPEND, &rpc, &option).await
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<NodeId>,
        RPCError<NodeId, BasicNode, RaftError<NodeId, InstallSnapshotError>>,
    > {
        self.call(PATH_RAFT_SNAPSHOT, &rpc, &option).await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        self.call(PATH_RAFT_VOTE, &rpc, &option).await
    }

    fn backoff(&self) -> Backoff {
        let mut next = BACKOFF_FIRST;
        Backoff::new(std::iter::from_fn(move || {
            let current = next;
            next = (next * 2).min(BACKOFF_MAX);
            Some(current)
        }))
    }
}
