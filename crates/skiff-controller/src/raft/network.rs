//! Raft networking between controller nodes.
//!
//! The controller runs as a single node today, so openraft never needs a peer and this factory
//! is never asked for one. The multi-node controller (the cluster issue) replaces this with a
//! real transport; until then every RPC fails as unreachable with a message saying why.

use openraft::error::{InstallSnapshotError, RPCError, RaftError, Unreachable};
use openraft::network::RPCOption;
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::{BasicNode, RaftNetwork, RaftNetworkFactory};

use super::types::{NodeId, TypeConfig};

#[derive(Debug, thiserror::Error)]
#[error(
    "controller node {target} is unreachable: this build runs a single-node controller and has no network transport between controller nodes"
)]
pub struct NoPeerTransport {
    target: NodeId,
}

/// Hands out clients that cannot reach anyone. Replaced by the cluster issue's transport.
#[derive(Debug, Clone, Default)]
pub struct SingleNodeNetwork;

/// A peer client that fails every call with [`NoPeerTransport`].
#[derive(Debug, Clone)]
pub struct UnreachablePeer {
    target: NodeId,
}

impl UnreachablePeer {
    fn unreachable<E: std::error::Error>(&self) -> RPCError<NodeId, BasicNode, E> {
        tracing::warn!(
            target_node = self.target,
            "raft RPC to a peer in a single-node controller"
        );
        RPCError::Unreachable(Unreachable::new(&NoPeerTransport {
            target: self.target,
        }))
    }
}

impl RaftNetworkFactory<TypeConfig> for SingleNodeNetwork {
    type Network = UnreachablePeer;

    async fn new_client(&mut self, target: NodeId, _node: &BasicNode) -> Self::Network {
        UnreachablePeer { target }
    }
}

impl RaftNetwork<TypeConfig> for UnreachablePeer {
    async fn append_entries(
        &mut self,
        _rpc: AppendEntriesRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        Err(self.unreachable())
    }

    async fn install_snapshot(
        &mut self,
        _rpc: InstallSnapshotRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<NodeId>,
        RPCError<NodeId, BasicNode, RaftError<NodeId, InstallSnapshotError>>,
    > {
        Err(self.unreachable())
    }

    async fn vote(
        &mut self,
        _rpc: VoteRequest<NodeId>,
        _option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        Err(self.unreachable())
    }
}
