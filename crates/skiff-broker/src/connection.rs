//! One client connection: frames in, requests started in arrival order, replies written in
//! the same order while later requests are already being worked on (Kafka clients pipeline).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use futures::future::BoxFuture;
use futures::stream::FuturesOrdered;
use futures::{FutureExt, StreamExt};
use kafka_protocol::messages::{ApiKey, ResponseKind};
use skiff_protocol::{
    RequestError, api_versions_response, decode_request, encode_error_response, encode_response,
    response_size,
};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, WriteHalf};
use tokio::sync::OwnedSemaphorePermit;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use crate::connection_sasl::{self, Gate};
use crate::context::BrokerContext;
use crate::frame_reader::{FrameEvent, FrameReader};
use crate::kafka_error::unsupported_version_code;
use crate::reply::{Outgoing, Reply};
use crate::router;
use crate::security::authorizer::Caller;

/// Encode buffers larger than this are dropped after their write rather than kept for the
/// connection's next reply, so one large fetch does not pin its size per connection.
const RETAINED_OUT_CAPACITY: usize = 1024 * 1024;

/// Serves one connection until the client closes it, it sends something unreadable, it stays
/// idle past `connections_max_idle_ms`, it is too slow to send a request or to take its
/// responses, or the broker shuts down. Requests already started are answered before the
/// socket closes (unless the client stopped reading them).
///
/// Generic over the stream (plain TCP or TLS): one copy of this loop per stream type, no
/// dynamic dispatch per read or write. On SASL listeners, requests pass the connection's
/// SASL gate first.
pub async fn serve<S>(
    stream: S,
    peer: SocketAddr,
    tls_principal: Option<String>,
    ctx: Arc<BrokerContext>,
    shutdown: CancellationToken,
) where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let (read, mut write) = tokio::io::split(stream);
    let mut sasl = ctx.new_sasl_session();
    // Kafka's principal: the SASL user once authenticated, else the client certificate's
    // subject, else ANONYMOUS. A re-authentication may not change it (SaslSession refuses).
    let mut caller = match tls_principal {
        Some(principal) => Caller {
            principal: Arc::from(principal),
            ip: peer.ip(),
        },
        None => Caller::anonymous(peer.ip()),
    };
    // Until a client authenticates, its frames are held to Kafka's sasl.server.max.receive.size.
    let first_max_frame = match sasl {
        Some(_) => ctx
            .config
            .sasl_max_receive_bytes
            .min(ctx.config.max_request_bytes),
        None => ctx.config.max_request_bytes,
    };
    let mut frames = FrameReader::new(
        read,
        first_max_frame,
        ctx.request_budget.clone(),
        ctx.config.request_read_timeout(),
    );
    let max_in_flight = ctx.config.max_in_flight_per_connection;
    let mut in_flight: FuturesOrdered<BoxFuture<'static, Outgoing>> = FuturesOrdered::new();
    let mut reading = true;
    let mut out = BytesMut::new();
    // Idle means nothing in progress (a parked long-poll fetch is in progress) and no frame
    // since the deadline was last pushed back; clients that went away without a FIN would
    // otherwise hold a connection slot forever.
    let max_idle = ctx.config.connections_max_idle();
    let idle = tokio::time::sleep(max_idle.unwrap_or(Duration::MAX));
    tokio::pin!(idle);

    loop {
        if !reading && in_flight.is_empty() {
            break;
        }
        tokio::select! {
            biased;
            Some(done) = in_flight.next(), if !in_flight.is_empty() => {
                if !write_replies(&ctx, &mut write, &mut out, done, &mut in_flight, peer).await {
                    return;
                }
                if let Some(max_idle) = max_idle {
                    idle.as_mut().reset(tokio::time::Instant::now() + max_idle);
                }
            }
            event = frames.next(), if reading && in_flight.len() < max_in_flight => match event {
                FrameEvent::Closed => reading = false,
                FrameEvent::Failed(e) => {
                    debug!(%peer, error = %e, "connection ended inside a request");
                    reading = false;
                }
                FrameEvent::TooLarge { length, limit } => {
                    if let Some(allowed) = ctx.warnings.malformed_input.check(&peer.ip(), Instant::now()) {
                        warn!(%peer, length, limit, held_back = allowed.held_back, "closing connection: frame length out of range");
                    }
                    reading = false;
                }
                FrameEvent::TimedOut { received, length } => {
                    ctx.metrics.connections.read_timeouts.increment(1);
                    if let Some(allowed) = ctx.warnings.connection_limits.check(&peer.ip(), Instant::now()) {
                        warn!(%peer, received, length, held_back = allowed.held_back, "closing connection: request frame not completed within request_read_timeout_ms");
                    }
                    reading = false;
                }
                FrameEvent::Frame(frame, budget) => {
                    let decoded_at = Instant::now();
                    if let Some(max_idle) = max_idle {
                        idle.as_mut().reset(tokio::time::Instant::now() + max_idle);
                    }
                    let gate = match sasl.as_mut() {
                        Some(session) => connection_sasl::gate(&ctx, session, frame, peer),
                        None => decode_request(frame).map(Gate::Pass),
                    };
                    let gate = match gate {
                        Ok(Gate::Pass(request)) => Ok(request),
                        Ok(Gate::Answer { outgoing, then }) => {
                            ctx.metrics.requests.api(outgoing.api_key).finished(decoded_at, &outgoing.reply);
                            in_flight.push_back(Box::pin(std::future::ready(outgoing)));
                            match then {
                                connection_sasl::Then::Continue => {}
                                connection_sasl::Then::Authenticated => {
                                    frames.set_max_frame(ctx.config.max_request_bytes);
                                    if let Some(principal) = sasl.as_ref().and_then(|s| s.principal())
                                        && *caller.principal != *principal
                                    {
                                        caller.principal = Arc::from(principal);
                                    }
                                }
                                connection_sasl::Then::Close => reading = false,
                            }
                            continue;
                        }
                        Ok(Gate::Close) => {
                            reading = false;
                            continue;
                        }
                        Err(error) => Err(error),
                    };
                    match gate {
                        Ok(request) => {
                            let (correlation_id, api_key, version) = (request.correlation_id, request.api_key, request.api_version);
                            let recorder = ctx.clone();
                            let reply = router::start(&ctx, request, peer, &caller).await;
                            in_flight.push_back(Box::pin(reply.map(move |reply| {
                                recorder.metrics.requests.api(api_key).finished(decoded_at, &reply);
                                Outgoing { correlation_id, api_key, version, reply }
                            })));
                        }
                        Err(error) => match unsupported_reply(&error) {
                            Some(outgoing) => {
                                debug!(%peer, %error, "answering unsupported request");
                                ctx.metrics.requests.unsupported().finished(decoded_at, &outgoing.reply);
                                in_flight.push_back(Box::pin(std::future::ready(outgoing)));
                            }
                            None => {
                                if let Some(allowed) = ctx.warnings.malformed_input.check(&peer.ip(), Instant::now()) {
                                    warn!(%peer, %error, held_back = allowed.held_back, "closing connection: malformed request");
                                }
                                ctx.metrics.requests.unsupported().unanswered();
                                reading = false;
                            }
                        },
                    }
                    // The frame's bytes now live in what the handler kept (produce data sits
                    // in the pending segment, under max_pending_bytes) or are gone.
                    drop(budget);
                }
            },
            _ = shutdown.cancelled(), if reading => reading = false,
            _ = &mut idle, if reading && in_flight.is_empty() && max_idle.is_some() && !frames.in_frame() => {
                debug!(%peer, "closing idle connection");
                ctx.metrics.connections.idle_closed.increment(1);
                reading = false;
            }
        }
    }
    let _ = write.shutdown().await;
}

/// Encodes `first` and every reply already complete after it, within the broker's response
/// budget, and writes them. False when the connection must close (the client stopped taking
/// responses, went away, or a reply could not be encoded).
async fn write_replies(
    ctx: &BrokerContext,
    write: &mut WriteHalf<impl AsyncWrite>,
    out: &mut BytesMut,
    first: Outgoing,
    in_flight: &mut FuturesOrdered<BoxFuture<'static, Outgoing>>,
    peer: SocketAddr,
) -> bool {
    let budget_total = ctx.config.queued_max_response_bytes;
    let mut held: Option<OwnedSemaphorePermit> = None;
    let mut next = Some(first);
    let mut encoded = true;
    while let Some(outgoing) = next.take() {
        // A reply larger than the whole budget takes all of it, so it still goes out alone.
        let size = u32::try_from(outgoing_size(&outgoing).min(budget_total)).unwrap_or(u32::MAX);
        let permit = match ctx.response_budget.clone().try_acquire_many_owned(size) {
            Ok(permit) => permit,
            Err(_) => {
                // Write what is already encoded so its budget comes back, then wait for room:
                // back-pressure, while nothing more is read from this connection.
                if !flush(ctx, write, out, peer).await {
                    return false;
                }
                drop(held.take());
                match ctx.response_budget.clone().acquire_many_owned(size).await {
                    Ok(permit) => permit,
                    Err(_) => return false,
                }
            }
        };
        match &mut held {
            Some(held) => held.merge(permit),
            None => held = Some(permit),
        }
        encoded = encode(out, outgoing, peer);
        if !encoded {
            break;
        }
        // Batch every reply that is already complete into one write.
        next = in_flight.next().now_or_never().flatten();
    }
    flush(ctx, write, out, peer).await && encoded
}

/// Writes `out` whole, giving up if the client accepts nothing for `response_write_timeout_ms`.
async fn flush(
    ctx: &BrokerContext,
    write: &mut WriteHalf<impl AsyncWrite>,
    out: &mut BytesMut,
    peer: SocketAddr,
) -> bool {
    let stall = ctx.config.response_write_timeout();
    let mut written = 0;
    while written < out.len() {
        let pending = out.get(written..).unwrap_or_default();
        match tokio::time::timeout(stall, write.write(pending)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                debug!(%peer, "client went away");
                return false;
            }
            Ok(Ok(n)) => written += n,
            Err(_) => {
                ctx.metrics.connections.write_timeouts.increment(1);
                if let Some(allowed) = ctx
                    .warnings
                    .connection_limits
                    .check(&peer.ip(), Instant::now())
                {
                    warn!(%peer, unwritten = out.len() - written, held_back = allowed.held_back, "closing connection: client took no response bytes within response_write_timeout_ms");
                }
                return false;
            }
        }
    }
    if out.capacity() > RETAINED_OUT_CAPACITY {
        *out = BytesMut::new();
    } else {
        out.clear();
    }
    true
}

/// The bytes a reply will take once encoded.
fn outgoing_size(outgoing: &Outgoing) -> usize {
    match &outgoing.reply {
        Reply::Nothing => 0,
        Reply::Error(_) => 10,
        Reply::SaslToken(token) => 4 + token.len(),
        Reply::Response(body) => {
            response_size(outgoing.api_key, outgoing.version, body).unwrap_or(0)
        }
    }
}

/// The answer for a request that decoded only as far as its header, or `None` when the
/// connection should close (Kafka closes on malformed requests too).
fn unsupported_reply(error: &RequestError) -> Option<Outgoing> {
    let unsupported = unsupported_version_code();
    match *error {
        // KIP-511: a client asking ApiVersions with a newer version than ours gets our list in
        // the v0 layout and retries with a version we support.
        RequestError::UnsupportedVersion {
            api_key: ApiKey::ApiVersions,
            correlation_id,
            ..
        } => Some(Outgoing {
            correlation_id,
            api_key: ApiKey::ApiVersions,
            version: 0,
            reply: Reply::Response(ResponseKind::ApiVersions(api_versions_response(
                unsupported,
            ))),
        }),
        RequestError::UnsupportedVersion {
            api_key,
            correlation_id,
            ..
        } => Some(Outgoing {
            correlation_id,
            api_key,
            version: 0,
            reply: Reply::Error(unsupported),
        }),
        RequestError::UnknownApiKey { correlation_id, .. } => Some(Outgoing {
            correlation_id,
            api_key: ApiKey::ApiVersions,
            version: 0,
            reply: Reply::Error(unsupported),
        }),
        RequestError::Malformed { .. } | RequestError::Unreadable(_) => None,
    }
}

/// Appends the reply's frame to `out`; false if it could not be encoded (a bug worth closing
/// the connection over, since the client would otherwise wait forever).
fn encode(out: &mut BytesMut, outgoing: Outgoing, peer: SocketAddr) -> bool {
    match outgoing.reply {
        Reply::Nothing => true,
        Reply::SaslToken(token) => {
            let Ok(len) = i32::try_from(token.len()) else {
                return false;
            };
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(&token);
            true
        }
        Reply::Error(code) => {
            out.extend_from_slice(&encode_error_response(outgoing.correlation_id, code));
            true
        }
        Reply::Response(body) => {
            let start = out.len();
            match encode_response(
                out,
                outgoing.correlation_id,
                outgoing.api_key,
                outgoing.version,
                &body,
            ) {
                Ok(()) => true,
                Err(e) => {
                    out.truncate(start);
                    warn!(%peer, error = %e, "closing connection: could not encode a response");
                    false
                }
            }
        }
    }
}
