//! The layer in front of every route when the cluster has a secret: a request without a valid
//! signature (see `crate::auth`) is answered 401 before any route sees it.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::refusal_log::RefusalLog;
use crate::auth::{Refusal, SCHEME, Verifier};

pub(super) struct Gate {
    pub(super) verifier: Verifier,
    pub(super) max_body_bytes: usize,
    refusals: RefusalLog,
}

impl Gate {
    pub(super) fn new(verifier: Verifier, max_body_bytes: usize) -> Gate {
        Gate {
            verifier,
            max_body_bytes,
            refusals: RefusalLog::default(),
        }
    }

    fn refuse(&self, peer: Option<SocketAddr>, path: &str, refusal: &Refusal) -> Response {
        if let Some(also) = self.refusals.admit() {
            tracing::warn!(
                peer = ?peer,
                path,
                reason = %refusal,
                refused_since_last_line = also,
                "refused an unauthenticated controller API request"
            );
        }
        let status = match refusal {
            Refusal::Busy => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::UNAUTHORIZED,
        };
        (
            status,
            [(WWW_AUTHENTICATE, SCHEME)],
            "this controller needs requests signed with the cluster secret",
        )
            .into_response()
    }
}

pub(super) async fn authenticate(
    State(gate): State<Arc<Gate>>,
    request: Request,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| *addr);
    let (parts, body) = request.into_parts();
    let path = parts
        .uri
        .path_and_query()
        .map_or(parts.uri.path(), |p| p.as_str());
    let header = parts
        .headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    // Header and clock first, so an unsigned request's body is never read.
    let credentials = match gate.verifier.precheck(header) {
        Ok(c) => c,
        Err(refusal) => return gate.refuse(peer, path, &refusal),
    };
    let bytes = match axum::body::to_bytes(body, gate.max_body_bytes).await {
        Ok(bytes) => bytes,
        Err(e) => {
            return (
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("cannot read the request body: {e}"),
            )
                .into_response();
        }
    };
    if let Err(refusal) = gate
        .verifier
        .verify(&credentials, parts.method.as_str(), path, &bytes)
    {
        return gate.refuse(peer, path, &refusal);
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}
