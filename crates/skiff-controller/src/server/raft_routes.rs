//! Raft RPCs from peer controller nodes, handed straight to openraft.

use axum::body::Bytes;
use axum::extract::State;
use axum::response::Response;
use openraft::raft::{AppendEntriesRequest, InstallSnapshotRequest, VoteRequest};

use super::route_state::{Shared, bad_request, postcard_reply};
use crate::raft::types::{NodeId, TypeConfig};

pub(super) async fn append(State(s): State<Shared>, body: Bytes) -> Response {
    let rpc: AppendEntriesRequest<TypeConfig> = match postcard::from_bytes(&body) {
        Ok(rpc) => rpc,
        Err(e) => return bad_request("append-entries", &e),
    };
    postcard_reply(&s.controller.raft().append_entries(rpc).await)
}

pub(super) async fn vote(State(s): State<Shared>, body: Bytes) -> Response {
    let rpc: VoteRequest<NodeId> = match postcard::from_bytes(&body) {
        Ok(rpc) => rpc,
        Err(e) => return bad_request("vote", &e),
    };
    postcard_reply(&s.controller.raft().vote(rpc).await)
}

pub(super) async fn install_snapshot(State(s): State<Shared>, body: Bytes) -> Response {
    let rpc: InstallSnapshotRequest<TypeConfig> = match postcard::from_bytes(&body) {
        Ok(rpc) => rpc,
        Err(e) => return bad_request("install-snapshot", &e),
    };
    postcard_reply(&s.controller.raft().install_snapshot(rpc).await)
}
