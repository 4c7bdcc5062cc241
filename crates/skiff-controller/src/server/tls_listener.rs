//! The controller API over TLS: our own accept loop, since `axum::serve` takes only plain TCP.
//! Each connection runs in its own task (tracked, drained on shutdown): the handshake, bounded
//! by a timeout, then hyper's HTTP/1 connection serving the same router as plain HTTP. With a
//! client CA, rustls refuses a client without a certificate that CA signed during the
//! handshake, before any request is read. Connections beyond `MAX_CONNECTIONS` are closed at
//! once.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use skiff_tls::SharedAcceptor;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower_service::Service;

use super::refusal_log::RefusalLog;

/// Connections served at once: every broker keeps a watch stream and a few pooled
/// connections, every peer a few; far above what a cluster uses, low enough to bound memory.
const MAX_CONNECTIONS: usize = 8192;
/// A handshake that has not finished by then is dropped (a stalled or hostile client).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a connection may take to send a request's headers.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

pub(super) async fn serve(
    listener: TcpListener,
    acceptor: SharedAcceptor,
    router: Router,
    stop: CancellationToken,
) {
    let connections = TaskTracker::new();
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let refusals = Arc::new(RefusalLog::default());
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, say: wait a little rather than spin.
                    tracing::warn!(error = %e, "controller API accept failed");
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_millis(100)) => continue,
                        _ = stop.cancelled() => break,
                    }
                }
            },
            _ = stop.cancelled() => break,
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::debug!(%peer, "controller API at its connection limit; closing a new one");
            continue;
        };
        let acceptor = acceptor.load_full();
        let router = router.clone();
        let stop = stop.clone();
        let refusals = refusals.clone();
        connections.spawn(async move {
            serve_connection(stream, peer, &acceptor, router, &stop, &refusals).await;
            drop(slot);
        });
    }
    connections.close();
    connections.wait().await;
}

async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    acceptor: &tokio_rustls::TlsAcceptor,
    router: Router,
    stop: &CancellationToken,
    refusals: &RefusalLog,
) {
    if let Err(e) = stream.set_nodelay(true) {
        tracing::debug!(error = %e, "cannot set TCP_NODELAY");
    }
    let tls = tokio::select! {
        done = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)) => match done {
            Ok(Ok(tls)) => tls,
            Ok(Err(e)) => return log_refused(refusals, peer, &e.to_string()),
            Err(_) => return log_refused(refusals, peer, "the handshake did not finish in time"),
        },
        _ = stop.cancelled() => return,
    };
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        // What `into_make_service_with_connect_info` gives the plain listener's routes.
        request.extensions_mut().insert(ConnectInfo(peer));
        let mut router = router.clone();
        async move { router.call(request).await }
    });
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .serve_connection(TokioIo::new(tls), service);
    tokio::pin!(connection);
    let served = tokio::select! {
        served = connection.as_mut() => served,
        _ = stop.cancelled() => {
            // Finishes the request in progress (watch streams end on the same signal),
            // then closes.
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(e) = served {
        tracing::debug!(%peer, error = %e, "controller API connection ended with an error");
    }
}

fn log_refused(refusals: &RefusalLog, peer: SocketAddr, reason: &str) {
    if let Some(also) = refusals.admit() {
        tracing::warn!(
            %peer,
            reason,
            refused_since_last_line = also,
            "refused a TLS connection to the controller API"
        );
    }
}
