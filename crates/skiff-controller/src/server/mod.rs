//! The controller's HTTP API (HTTP/1.1, postcard bodies) on one listener: Raft RPCs between
//! controller nodes, the broker API (propose, snapshot, watch, status) and admin membership
//! changes, over plain HTTP or TLS (`tls_listener`). Serves until shut down. Watch streams end
//! on shutdown too, so a graceful stop never waits on a broker that keeps its watch open.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

mod admin_routes;
mod authenticate;
mod broker_routes;
mod raft_routes;
mod refusal_log;
mod route_state;
mod tls_listener;
mod watch;

use route_state::RouteState;

use crate::auth::Verifier;
use crate::controller::Controller;
use crate::error::{ControllerError, InvalidConfig};
use crate::rpc::wire::{
    PATH_ADD_NODE, PATH_PROPOSE, PATH_RAFT_APPEND, PATH_RAFT_SNAPSHOT, PATH_RAFT_VOTE,
    PATH_REMOVE_NODE, PATH_SNAPSHOT, PATH_STATUS, PATH_WATCH,
};

/// The largest request body: a proposal or Raft batch of big segment commits, or one
/// snapshot chunk (openraft sends 3 MiB chunks).
const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// Open watch streams one node serves at once (each broker keeps one).
const MAX_WATCHERS: usize = 4096;

/// The running HTTP listener of one controller node.
pub struct ControllerServer {
    local_addr: SocketAddr,
    stop: CancellationToken,
    task: JoinHandle<()>,
    /// Swaps in new certificates when the files change (TLS only).
    tls_reload: Option<JoinHandle<()>>,
}

impl ControllerServer {
    /// Serves on an already bound listener (so tests and peers can know the port first).
    pub fn start(
        controller: Arc<Controller>,
        listener: TcpListener,
    ) -> Result<Self, ControllerError> {
        let local_addr = listener
            .local_addr()
            .map_err(|source| ControllerError::Listener { source })?;
        let stop = CancellationToken::new();
        let secret = controller.cluster_secret.clone();
        let tls = controller.tls.clone();
        let reload_interval = controller.tls_reload_interval;
        let mutual_tls = tls.as_ref().is_some_and(|t| t.client_ca.is_some());
        if secret.is_none() && !mutual_tls && !local_addr.ip().is_loopback() {
            tracing::warn!(
                addr = %local_addr,
                "the controller API on a non-loopback address has no authentication: anyone \
                 who reaches it can change the cluster; give every controller, broker and \
                 admin command --cluster-secret-file or the --controller-tls-* files"
            );
        }
        // Built before anything is spawned, so bad files fail the start.
        let acceptor = tls
            .as_ref()
            .map(|files| files.shared_acceptor())
            .transpose()
            .map_err(InvalidConfig::from)?;
        let state = Arc::new(RouteState {
            controller,
            stop: stop.clone(),
            watchers: Arc::new(Semaphore::new(MAX_WATCHERS)),
        });
        let router = Router::new()
            .route(PATH_RAFT_APPEND, post(raft_routes::append))
            .route(PATH_RAFT_VOTE, post(raft_routes::vote))
            .route(PATH_RAFT_SNAPSHOT, post(raft_routes::install_snapshot))
            .route(PATH_PROPOSE, post(broker_routes::propose))
            .route(PATH_SNAPSHOT, get(broker_routes::snapshot))
            .route(PATH_STATUS, get(broker_routes::status))
            .route(PATH_WATCH, get(watch::watch))
            .route(PATH_ADD_NODE, post(admin_routes::add_node))
            .route(PATH_REMOVE_NODE, post(admin_routes::remove_node))
            // axum's 2 MB default would refuse large commits and snapshot chunks; keep a bound.
            .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
            .with_state(state);
        let router = match secret {
            Some(secret) => {
                let gate = Arc::new(authenticate::Gate::new(
                    Verifier::new(secret),
                    MAX_BODY_BYTES,
                ));
                router.layer(middleware::from_fn_with_state(
                    gate,
                    authenticate::authenticate,
                ))
            }
            None => router,
        };
        let shutdown = stop.clone();
        let (task, tls_reload) = match (tls, acceptor) {
            (Some(files), Some(acceptor)) => {
                let reload = (!reload_interval.is_zero()).then(|| {
                    skiff_tls::reload::spawn(files, acceptor.clone(), reload_interval, stop.clone())
                });
                let task = tokio::spawn(tls_listener::serve(listener, acceptor, router, shutdown));
                (task, reload)
            }
            _ => {
                let task = tokio::spawn(async move {
                    let served = axum::serve(
                        listener,
                        router.into_make_service_with_connect_info::<SocketAddr>(),
                    )
                    .with_graceful_shutdown(async move { shutdown.cancelled().await })
                    .await;
                    if let Err(e) = served {
                        tracing::warn!(error = %e, "controller HTTP listener failed");
                    }
                });
                (task, None)
            }
        };
        Ok(ControllerServer {
            local_addr,
            stop,
            task,
            tls_reload,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting, ends watch streams, and waits for requests in progress.
    pub async fn shutdown(self) {
        self.stop.cancel();
        if let Err(e) = self.task.await {
            tracing::warn!(error = %e, "controller HTTP task failed");
        }
        if let Some(reload) = self.tls_reload
            && let Err(e) = reload.await
        {
            tracing::warn!(error = %e, "controller TLS reload task failed");
        }
    }
}
