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
};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_util::codec::LengthDelimitedCodec;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use crate::context::BrokerContext;
use crate::kafka_error::unsupported_version_code;
use crate::reply::Reply;
use crate::router;

/// A reply on its way out, with what the frame header needs.
struct Outgoing {
    correlation_id: i32,
    api_key: ApiKey,
    version: i16,
    reply: Reply,
}

/// Serves one connection until the client closes it, it sends something unreadable, it stays
/// idle past `connections_max_idle_ms`, or the broker shuts down. Requests already started are
/// always answered before the socket closes.
pub async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    ctx: Arc<BrokerContext>,
    shutdown: CancellationToken,
) {
    let (read, mut write) = stream.into_split();
    let mut frames = LengthDelimitedCodec::builder()
        .length_field_length(4)
        .max_frame_length(ctx.config.max_request_bytes)
        .new_read(read);
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
                let mut ok = encode(&mut out, done, peer);
                // Batch every reply that is already complete into one write.
                while ok {
                    match in_flight.next().now_or_never() {
                        Some(Some(next)) => ok = encode(&mut out, next, peer),
                        _ => break,
                    }
                }
                if !out.is_empty() {
                    if let Err(e) = write.write_all(&out).await {
                        debug!(%peer, error = %e, "client went away");
                        return;
                    }
                    out.clear();
                }
                if !ok {
                    return;
                }
                if let Some(max_idle) = max_idle {
                    idle.as_mut().reset(tokio::time::Instant::now() + max_idle);
                }
            }
            frame = frames.next(), if reading && in_flight.len() < max_in_flight => match frame {
                None => reading = false,
                Some(Err(e)) => {
                    warn!(%peer, error = %e, limit = ctx.config.max_request_bytes, "closing connection: unreadable frame");
                    reading = false;
                }
                Some(Ok(frame)) => {
                    let decoded_at = Instant::now();
                    if let Some(max_idle) = max_idle {
                        idle.as_mut().reset(tokio::time::Instant::now() + max_idle);
                    }
                    match decode_request(frame.freeze()) {
                        Ok(request) => {
                            let (correlation_id, api_key, version) = (request.correlation_id, request.api_key, request.api_version);
                            let recorder = ctx.clone();
                            let reply = router::start(&ctx, request, peer).await;
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
                                warn!(%peer, %error, "closing connection: malformed request");
                                ctx.metrics.requests.unsupported().unanswered();
                                reading = false;
                            }
                        },
                    }
                }
            },
            _ = shutdown.cancelled(), if reading => reading = false,
            _ = &mut idle, if reading && in_flight.is_empty() && max_idle.is_some() => {
                debug!(%peer, "closing idle connection");
                ctx.metrics.connections.idle_closed.increment(1);
                reading = false;
            }
        }
    }
    let _ = write.shutdown().await;
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
