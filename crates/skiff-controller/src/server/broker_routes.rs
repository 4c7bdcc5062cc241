//! The broker API: propose (forwarded to the leader by a follower), the whole state for a
//! broker's bootstrap, and this node's status.

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::route_state::{Shared, bad_request, postcard_reply};
use skiff_meta::ProposeError;

use crate::rpc::wire::{PATH_PROPOSE, ProposeRequest, Proposed, StateSnapshot};

pub(super) async fn propose(State(s): State<Shared>, body: Bytes) -> Response {
    let request: ProposeRequest = match postcard::from_bytes(&body) {
        Ok(r) => r,
        Err(e) => return bad_request("propose", &e),
    };
    postcard_reply(&propose_or_forward(&s, request).await)
}

async fn propose_or_forward(s: &Shared, request: ProposeRequest) -> Result<Proposed, ProposeError> {
    let controller = &s.controller;
    // Forward only when another node is known to lead; otherwise let Raft decide (it answers
    // with the leader it knows if this node does not lead), so the command is never cloned.
    let leader = controller.leader_with_addr();
    let (leader_id, leader_addr) = match leader {
        Some((id, addr)) if id != controller.node_id() && !request.forwarded => (id, addr),
        _ => {
            return match controller.submit_indexed(request.command).await {
                Ok((index, response)) => Ok(Proposed { index, response }),
                Err(ProposeError::NotLeader { leader, .. }) => Err(ProposeError::NotLeader {
                    leader,
                    leader_addr: controller.leader_with_addr().map(|(_, addr)| addr),
                }),
                Err(e) => Err(e),
            };
        }
    };
    let forwarded = ProposeRequest {
        command: request.command,
        forwarded: true,
    };
    controller
        .http
        .post::<_, Result<Proposed, ProposeError>>(
            &leader_addr,
            PATH_PROPOSE,
            &forwarded,
            s.controller.forward_timeout,
        )
        .await
        .unwrap_or_else(|e| {
            // Never delivered: the caller may retry anywhere. Otherwise the outcome is
            // unknown, which the caller must learn.
            if e.never_delivered() {
                Err(ProposeError::NotLeader {
                    leader: Some(leader_id),
                    leader_addr: Some(leader_addr.clone()),
                })
            } else {
                Err(e.into_propose_error())
            }
        })
}

pub(super) async fn snapshot(State(s): State<Shared>) -> Response {
    let source = s.controller.state_source.clone();
    let encoded = tokio::task::spawn_blocking(move || source.encode()).await;
    let reply: Result<StateSnapshot, ProposeError> = match encoded {
        Ok(Ok((index, state))) => Ok(StateSnapshot { index, state }),
        Ok(Err(e)) => Err(ProposeError::Storage {
            detail: format!("cannot encode the state: {e}"),
        }),
        Err(e) => Err(ProposeError::Storage {
            detail: format!("the state encoding task failed: {e}"),
        }),
    };
    postcard_reply(&reply)
}

#[derive(Debug, Deserialize)]
pub(super) struct StatusParams {
    format: Option<String>,
}

pub(super) async fn status(
    State(s): State<Shared>,
    Query(params): Query<StatusParams>,
) -> Response {
    let status = s.controller.status();
    match params.format.as_deref() {
        Some("json") => match serde_json::to_vec_pretty(&status) {
            Ok(body) => ([(CONTENT_TYPE, "application/json")], body).into_response(),
            Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
        },
        None | Some("postcard") => postcard_reply(&status),
        Some(other) => (
            StatusCode::BAD_REQUEST,
            format!("unknown status format {other:?}: use json or postcard"),
        )
            .into_response(),
    }
}
