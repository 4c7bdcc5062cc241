//! Membership changes, forwarded once to the leader like proposals.

use axum::body::Bytes;
use axum::extract::State;
use axum::response::Response;

use super::route_state::{Shared, bad_request, postcard_reply};
use skiff_meta::ProposeError;

use crate::error::ControllerError;
use crate::rpc::wire::{
    AddNodeRequest, MembershipReply, PATH_ADD_NODE, PATH_REMOVE_NODE, RemoveNodeRequest,
};

/// Adding a node waits for it to catch up, which may take a snapshot transfer.
const ADD_NODE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

pub(super) async fn add_node(State(s): State<Shared>, body: Bytes) -> Response {
    let request: AddNodeRequest = match postcard::from_bytes(&body) {
        Ok(r) => r,
        Err(e) => return bad_request("add-node", &e),
    };
    let result = s
        .controller
        .add_node(request.id, request.addr.clone())
        .await;
    let reply = match result {
        Err(ControllerError::Propose(ProposeError::NotLeader { leader, .. }))
            if !request.forwarded =>
        {
            let forwarded = AddNodeRequest {
                forwarded: true,
                ..request
            };
            forward(&s, leader, PATH_ADD_NODE, &forwarded, ADD_NODE_TIMEOUT).await
        }
        other => other.map_err(ControllerError::into_propose_error),
    };
    postcard_reply(&reply)
}

pub(super) async fn remove_node(State(s): State<Shared>, body: Bytes) -> Response {
    let request: RemoveNodeRequest = match postcard::from_bytes(&body) {
        Ok(r) => r,
        Err(e) => return bad_request("remove-node", &e),
    };
    let reply = match s.controller.remove_node(request.id).await {
        Err(ControllerError::Propose(ProposeError::NotLeader { leader, .. }))
            if !request.forwarded =>
        {
            let forwarded = RemoveNodeRequest {
                forwarded: true,
                ..request
            };
            forward(
                &s,
                leader,
                PATH_REMOVE_NODE,
                &forwarded,
                s.controller.forward_timeout,
            )
            .await
        }
        other => other.map_err(ControllerError::into_propose_error),
    };
    postcard_reply(&reply)
}

async fn forward<B: serde::Serialize>(
    s: &Shared,
    leader: Option<u64>,
    path: &str,
    body: &B,
    timeout: std::time::Duration,
) -> Result<MembershipReply, ProposeError> {
    let Some((id, addr)) = s.controller.leader_with_addr() else {
        return Err(ProposeError::NotLeader {
            leader,
            leader_addr: None,
        });
    };
    s.controller
        .http
        .post::<_, Result<MembershipReply, ProposeError>>(&addr, path, body, timeout)
        .await
        .unwrap_or_else(|e| {
            tracing::warn!(leader = id, error = %e, "forwarding a membership change to the leader failed");
            Err(e.into_propose_error())
        })
}
