//! SaslAuthenticate: one step of the mechanism's exchange (also used for the bare tokens
//! that follow a v0 SaslHandshake). A failure is answered SASL_AUTHENTICATION_FAILED and the
//! connection closes.

use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::{SaslAuthenticateRequest, SaslAuthenticateResponse};
use tracing::{info, warn};

use super::str_bytes;
use crate::context::BrokerContext;
use crate::security::sasl::{SaslSession, Step};

/// Where the exchange stands after a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// More tokens to come.
    Continue,
    /// The client is authenticated (or re-authenticated).
    Authenticated,
    /// Answer, then close the connection.
    Close,
}

/// One step: the bytes for the client (or the error code and message) and the outcome.
pub struct StepResult {
    pub error_code: i16,
    pub error_message: Option<&'static str>,
    pub auth_bytes: Bytes,
    pub lifetime_ms: i64,
    pub outcome: Outcome,
}

pub fn handle(
    ctx: &BrokerContext,
    session: Option<&mut SaslSession>,
    req: &SaslAuthenticateRequest,
    peer: SocketAddr,
) -> (SaslAuthenticateResponse, Outcome) {
    let step = match session {
        Some(session) => step(ctx, session, &req.auth_bytes, peer),
        None => illegal_state(),
    };
    let response = SaslAuthenticateResponse::default()
        .with_error_code(step.error_code)
        .with_error_message(step.error_message.map(str_bytes))
        .with_auth_bytes(step.auth_bytes)
        .with_session_lifetime_ms(step.lifetime_ms);
    (response, step.outcome)
}

fn illegal_state() -> StepResult {
    StepResult {
        error_code: ResponseError::IllegalSaslState.code(),
        error_message: Some("SaslAuthenticate is not expected in this SASL state"),
        auth_bytes: Bytes::new(),
        lifetime_ms: 0,
        outcome: Outcome::Close,
    }
}

/// Runs one step of the exchange against the users in the controller state.
pub fn step(
    ctx: &BrokerContext,
    session: &mut SaslSession,
    token: &[u8],
    peer: SocketAddr,
) -> StepResult {
    let state = ctx.controller.state();
    let lookup = |user: &str, mechanism| state.read().users().credential(user, mechanism).cloned();
    match session.authenticate(token, lookup, Instant::now()) {
        Err(_) => illegal_state(),
        Ok(Ok(Step::Challenge(bytes))) => StepResult {
            error_code: 0,
            error_message: None,
            auth_bytes: Bytes::from(bytes),
            lifetime_ms: 0,
            outcome: Outcome::Continue,
        },
        Ok(Ok(Step::Done { reply, lifetime_ms })) => {
            info!(%peer, principal = session.principal().unwrap_or_default(), "SASL authentication succeeded");
            StepResult {
                error_code: 0,
                error_message: None,
                auth_bytes: Bytes::from(reply),
                lifetime_ms,
                outcome: Outcome::Authenticated,
            }
        }
        Ok(Err(failure)) => {
            ctx.metrics.connections.authentication_failures.increment(1);
            if let Some(allowed) = ctx
                .warnings
                .authentication
                .check(&peer.ip(), Instant::now())
            {
                warn!(%peer, reason = %failure, held_back = allowed.held_back, "SASL authentication failed; closing the connection");
            }
            StepResult {
                error_code: ResponseError::SaslAuthenticationFailed.code(),
                // Kafka's wording: says nothing about which part was wrong.
                error_message: Some("Authentication failed: Invalid username or password"),
                auth_bytes: Bytes::new(),
                lifetime_ms: 0,
                outcome: Outcome::Close,
            }
        }
    }
}
