//! The SASL gate of a connection on a SASL listener: which requests pass to the router, and
//! the SASL APIs answered in place, since they change the connection's own state and must be
//! handled in arrival order (Kafka's SaslServerAuthenticator).

use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;
use kafka_protocol::messages::{ApiKey, RequestKind, ResponseKind};
use skiff_protocol::{DecodedRequest, RequestError, decode_request};
use tracing::debug;

use crate::context::BrokerContext;
use crate::handlers::{sasl_authenticate, sasl_handshake};
use crate::reply::{Outgoing, Reply};
use crate::security::sasl::{Admission, SaslSession};

/// What the connection does after answering a SASL request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Then {
    Continue,
    /// The client authenticated: lift the pre-authentication frame limit.
    Authenticated,
    /// Stop reading; close once the answer is written.
    Close,
}

impl From<sasl_authenticate::Outcome> for Then {
    fn from(outcome: sasl_authenticate::Outcome) -> Then {
        match outcome {
            sasl_authenticate::Outcome::Continue => Then::Continue,
            sasl_authenticate::Outcome::Authenticated => Then::Authenticated,
            sasl_authenticate::Outcome::Close => Then::Close,
        }
    }
}

pub enum Gate {
    /// An authenticated client's request (or ApiVersions): route it.
    Pass(DecodedRequest),
    /// A SASL request, answered here.
    Answer { outgoing: Outgoing, then: Then },
    /// Close without an answer: a request before authentication, an expired session, or a
    /// failed v0 exchange (Kafka closes in each case).
    Close,
}

pub fn gate(
    ctx: &BrokerContext,
    session: &mut SaslSession,
    frame: Bytes,
    peer: SocketAddr,
) -> Result<Gate, RequestError> {
    if session.expects_raw_token() {
        let step = sasl_authenticate::step(ctx, session, &frame, peer);
        return Ok(match Then::from(step.outcome) {
            Then::Close => Gate::Close,
            then => Gate::Answer {
                outgoing: Outgoing {
                    correlation_id: 0,
                    api_key: ApiKey::SaslAuthenticate,
                    version: 0,
                    reply: Reply::SaslToken(step.auth_bytes),
                },
                then,
            },
        });
    }
    let request = decode_request(frame)?;
    if let Admission::Close(reason) = session.admit(request.api_key, Instant::now()) {
        debug!(%peer, api = ?request.api_key, reason, "closing connection");
        return Ok(Gate::Close);
    }
    let (correlation_id, api_key, version) =
        (request.correlation_id, request.api_key, request.api_version);
    let (response, then) = match &request.body {
        RequestKind::SaslHandshake(req) => {
            let (response, keep_open) = sasl_handshake::handle(Some(session), req, version);
            let then = if keep_open {
                Then::Continue
            } else {
                Then::Close
            };
            (ResponseKind::SaslHandshake(response), then)
        }
        RequestKind::SaslAuthenticate(req) => {
            let (response, outcome) = sasl_authenticate::handle(ctx, Some(session), req, peer);
            (ResponseKind::SaslAuthenticate(response), outcome.into())
        }
        _ => return Ok(Gate::Pass(request)),
    };
    Ok(Gate::Answer {
        outgoing: Outgoing {
            correlation_id,
            api_key,
            version,
            reply: Reply::Response(response),
        },
        then,
    })
}
