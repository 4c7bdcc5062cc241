use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use skiff_meta::{BrokerInfo, Propose, RegisterBroker};
use skiff_storage::{ChunkCache, SegmentStore};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, warn};

use crate::config::BrokerConfig;
use crate::connection;
use crate::context::BrokerContext;
use crate::error::BrokerError;
use crate::fetch::ChunkSource;
use crate::groups::{GroupConfig, GroupCoordinator};
use crate::lease::{LeaseKeeper, LeaseStatus, end_previous_lease};
use crate::log_levels::LogLevels;
use crate::log_limit::Warnings;
use crate::metrics::{BrokerMetrics, ConnectionMetrics};
use crate::produce::{FlushDeps, Flusher, ProduceBuffer};
use crate::recent_segments::RecentSegments;
use crate::security::authorizer::{self, Authorizer, AuthorizerConfig};
use crate::security::tls;
use skiff_meta::ControllerClient;
use skiff_tls::reload as tls_reload;
use skiff_tls::{SharedAcceptor, TlsFiles};

/// How long shutdown waits for connections to finish their in-flight requests.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// What a broker is built on; `skiff dev` passes an embedded controller.
pub struct BrokerDeps {
    pub controller: Arc<dyn ControllerClient>,
    pub store: SegmentStore,
    pub cache: ChunkCache,
    /// The process's log filter, for BROKER_LOGGER configs; `None` refuses them (tests, or
    /// a process that does not own its subscriber).
    pub log_levels: Option<Arc<dyn LogLevels>>,
}

/// A running Kafka listener with its write path. Owns every task it starts.
pub struct Broker {
    local_addr: SocketAddr,
    shutdown: CancellationToken,
    connections: TaskTracker,
    acceptor: JoinHandle<()>,
    flusher: Flusher,
    groups: Arc<GroupCoordinator>,
    /// Heartbeats to a controller cluster; `None` with an embedded controller.
    lease: Option<LeaseKeeper>,
    /// Rebuilds the authorizer's ACL index when the replicated ACLs change.
    acl_refresh: JoinHandle<()>,
    /// Reloads the TLS files when they change; `None` without TLS or with reloading off.
    tls_reload: Option<JoinHandle<()>>,
    ctx: Arc<BrokerContext>,
}

/// Bytes held against the broker's memory budgets right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BudgetUse {
    /// Request frame bytes read and not yet handed on (`queued_max_request_bytes`).
    pub request_bytes: usize,
    /// Response bytes encoded and not yet written (`queued_max_response_bytes`).
    pub response_bytes: usize,
}

impl Broker {
    pub async fn start(mut config: BrokerConfig, deps: BrokerDeps) -> Result<Broker, BrokerError> {
        config.validate().map_err(BrokerError::InvalidConfig)?;
        // Resolved once, so DescribeConfigs shows the value in force.
        config.min_flush_interval_ms =
            Some(config.min_flush_interval_ms(deps.store.billed_per_request()));
        let tls_files = match (&config.tls_cert_file, &config.tls_key_file) {
            (Some(cert), Some(key)) if config.security_protocol.uses_tls() => Some(TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
                client_ca: config.tls_client_ca_file.clone(),
            }),
            _ => None,
        };
        let tls: Option<SharedAcceptor> = match &tls_files {
            Some(files) => Some(Arc::new(ArcSwap::from_pointee(
                files
                    .acceptor()
                    .map_err(|e| BrokerError::InvalidConfig(e.to_string()))?,
            ))),
            None => None,
        };
        let sasl_mechanisms = match config.security_protocol.uses_sasl() {
            true => Some(
                config
                    .sasl_mechanisms()
                    .map_err(BrokerError::InvalidConfig)?
                    .into(),
            ),
            false => None,
        };
        let listener = TcpListener::bind(config.kafka_addr)
            .await
            .map_err(|source| BrokerError::Bind {
                addr: config.kafka_addr,
                source,
            })?;
        let local_addr = listener.local_addr().map_err(|source| BrokerError::Bind {
            addr: config.kafka_addr,
            source,
        })?;
        let (advertised_host, advertised_port) = advertised(&config, local_addr)?;

        let info = BrokerInfo {
            id: config.broker_id,
            host: advertised_host,
            port: advertised_port,
            rack: config.rack.clone(),
        };
        // Restarted within the previous process's lease: end it now, and go live later.
        let register_after = if config.lease_heartbeat_ms > 0 && config.restart_live_delay_ms > 0 {
            let recent_ms =
                i64::try_from(config.lease_heartbeat_ms.saturating_mul(3)).unwrap_or(i64::MAX);
            end_previous_lease(&deps.controller, config.broker_id, recent_ms)
                .await?
                .then(|| Duration::from_millis(config.restart_live_delay_ms))
        } else {
            None
        };
        if register_after.is_none() {
            deps.controller
                .propose(RegisterBroker(info.clone()))
                .await?;
        }
        // A broker that heard nothing back for three heartbeats suspects its lease (the
        // controller's default lease is five).
        let lease_status = (config.lease_heartbeat_ms > 0).then(|| {
            LeaseStatus::new(Duration::from_millis(
                config.lease_heartbeat_ms.saturating_mul(3),
            ))
        });
        let lease = lease_status.clone().map(|status| {
            LeaseKeeper::spawn(
                deps.controller.clone(),
                info,
                Duration::from_millis(config.lease_heartbeat_ms),
                status,
                register_after,
                Duration::from_millis(config.restart_live_delay_ms),
            )
        });

        let metrics = BrokerMetrics::register();
        let shutdown = CancellationToken::new();
        let produce = Arc::new(ProduceBuffer::new(
            config.flush_bytes,
            config.max_pending_bytes,
        ));
        let recent = Arc::new(RecentSegments::default());
        let flusher = Flusher::spawn(
            FlushDeps {
                buffer: produce.clone(),
                store: deps.store.clone(),
                cache: deps.cache.clone(),
                controller: deps.controller.clone(),
                recent: recent.clone(),
                broker_id: config.broker_id,
                flush_interval: config.flush_interval(),
                min_flush_interval: Duration::from_millis(
                    config.min_flush_interval_ms(deps.store.billed_per_request()),
                ),
                max_in_flight: config.max_in_flight_flushes,
                metrics: metrics.flush.clone(),
            },
            shutdown.clone(),
        );
        let groups = Arc::new(GroupCoordinator::start(
            GroupConfig::from_broker(&config),
            config.broker_id,
            deps.controller.clone(),
            lease_status,
        ));
        let authorizer = Arc::new(Authorizer::new(
            AuthorizerConfig {
                enabled: config.acl_authorizer,
                super_users: config.super_users.clone(),
                allow_everyone_if_no_acl_found: config.allow_everyone_if_no_acl_found,
            },
            &deps.controller.state().read(),
        ));
        let acl_refresh = authorizer::refresh::spawn(
            authorizer.clone(),
            deps.controller.state(),
            shutdown.clone(),
        );
        let ctx = Arc::new(BrokerContext {
            authorizer,
            groups: groups.clone(),
            chunks: ChunkSource::new(deps.cache, deps.store, recent),
            fetch_waiters: Arc::new(Semaphore::new(config.max_fetch_waiters)),
            request_budget: Arc::new(Semaphore::new(config.queued_max_request_bytes)),
            response_budget: Arc::new(Semaphore::new(config.queued_max_response_bytes)),
            controller: deps.controller,
            produce,
            shutdown: shutdown.clone(),
            metrics,
            warnings: Warnings::default(),
            sasl_mechanisms,
            log_levels: deps.log_levels,
            config,
        });
        let tls_reload = match (tls_files, &tls) {
            (Some(files), Some(current)) if ctx.config.tls_reload_interval_ms > 0 => {
                Some(tls_reload::spawn(
                    files,
                    current.clone(),
                    Duration::from_millis(ctx.config.tls_reload_interval_ms),
                    shutdown.clone(),
                ))
            }
            _ => None,
        };
        let connections = TaskTracker::new();
        let acceptor = tokio::spawn(accept_loop(
            listener,
            tls,
            ctx.clone(),
            connections.clone(),
            shutdown.clone(),
        ));
        Ok(Broker {
            local_addr,
            shutdown,
            connections,
            acceptor,
            flusher,
            groups,
            lease,
            acl_refresh,
            tls_reload,
            ctx,
        })
    }

    /// How much of the request and response budgets is in use.
    pub fn budget_use(&self) -> BudgetUse {
        let config = &self.ctx.config;
        BudgetUse {
            request_bytes: config.queued_max_request_bytes
                - self.ctx.request_budget.available_permits(),
            response_bytes: config.queued_max_response_bytes
                - self.ctx.response_budget.available_permits(),
        }
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting, stops reading new requests, flushes and commits what was already
    /// accepted, answers it, and closes every connection.
    pub async fn shutdown(self) {
        self.shutdown.cancel();
        if let Err(e) = self.acceptor.await {
            warn!(error = %e, "accept loop failed");
        }
        self.flusher.join().await;
        if let Err(e) = self.acl_refresh.await {
            warn!(error = %e, "ACL refresh task failed");
        }
        if let Some(task) = self.tls_reload
            && let Err(e) = task.await
        {
            warn!(error = %e, "TLS reload task failed");
        }
        self.connections.close();
        if tokio::time::timeout(DRAIN_TIMEOUT, self.connections.wait())
            .await
            .is_err()
        {
            warn!("connections did not drain within {DRAIN_TIMEOUT:?}");
        }
        // Last: draining connections may still have been committing offsets.
        self.groups.shutdown().await;
        if let Some(lease) = self.lease {
            lease.unregister().await;
        }
    }
}

fn advertised(config: &BrokerConfig, local: SocketAddr) -> Result<(String, u16), BrokerError> {
    let Some(addr) = &config.advertised_addr else {
        return Ok((local.ip().to_string(), local.port()));
    };
    let invalid =
        || BrokerError::InvalidConfig(format!("advertised address {addr:?} is not host:port"));
    let (host, port) = addr.rsplit_once(':').ok_or_else(invalid)?;
    let port: u16 = port.parse().map_err(|_| invalid())?;
    if host.is_empty() {
        return Err(invalid());
    }
    // Advertising port 0 would send clients nowhere; use the port actually bound.
    Ok((
        host.trim_matches(['[', ']']).to_string(),
        if port == 0 { local.port() } else { port },
    ))
}

async fn accept_loop(
    listener: TcpListener,
    tls: Option<SharedAcceptor>,
    ctx: Arc<BrokerContext>,
    connections: TaskTracker,
    shutdown: CancellationToken,
) {
    let counts: ConnectionMetrics = ctx.metrics.connections.clone();
    let slots = Arc::new(ConnectionSlots::default());
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.cancelled() => return,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                // Usually out of file descriptors: back off instead of spinning.
                warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        // Over a limit, the connection is closed at once (the client sees it and backs off)
        // rather than left unanswered in the listen backlog.
        let slot = match slots.take(peer.ip(), &ctx.config) {
            Ok(slot) => slot,
            Err(limit) => {
                match limit {
                    Limit::Total => counts.refused_max_connections.increment(1),
                    Limit::PerIp => counts.refused_per_ip.increment(1),
                }
                if let Some(allowed) = ctx
                    .warnings
                    .connection_limits
                    .check(&peer.ip(), std::time::Instant::now())
                {
                    warn!(%peer, limit = limit.name(), held_back = allowed.held_back, "refusing connection: limit reached");
                }
                drop(stream);
                continue;
            }
        };
        if let Err(e) = stream.set_nodelay(true) {
            warn!(%peer, error = %e, "could not disable Nagle's algorithm");
        }
        let ctx = ctx.clone();
        let shutdown = shutdown.clone();
        let counts = counts.clone();
        counts.accepted.increment(1);
        counts.open.increment(1.0);
        // The acceptor of the files as they are now: a reload affects later connections only.
        let tls = tls.as_ref().map(|current| current.load_full());
        connections.spawn(async move {
            match tls {
                None => connection::serve(stream, peer, None, ctx, shutdown).await,
                Some(tls) => {
                    if let Some((stream, principal)) =
                        tls_handshake(&tls, stream, peer, &ctx, &shutdown).await
                    {
                        connection::serve(stream, peer, principal, ctx, shutdown).await;
                    }
                }
            }
            counts.open.decrement(1.0);
            drop(slot);
        });
    }
}

/// The TLS handshake of a new connection, within `request_read_timeout_ms`, and the client
/// certificate's principal (mutual TLS); `None` (the connection is dropped) when it fails,
/// stalls, or the broker shuts down first.
async fn tls_handshake(
    tls: &TlsAcceptor,
    stream: TcpStream,
    peer: SocketAddr,
    ctx: &BrokerContext,
    shutdown: &CancellationToken,
) -> Option<(TlsStream<TcpStream>, Option<String>)> {
    let handshake = tokio::time::timeout(ctx.config.request_read_timeout(), tls.accept(stream));
    let outcome = tokio::select! {
        outcome = handshake => outcome,
        _ = shutdown.cancelled() => return None,
    };
    let reason = match outcome {
        Ok(Ok(stream)) => {
            let principal = tls::client_principal(stream.get_ref().1);
            if let Some(principal) = &principal {
                debug!(%peer, %principal, "TLS client certificate verified");
            }
            return Some((stream, principal));
        }
        Ok(Err(e)) => e.to_string(),
        Err(_) => "not completed within request_read_timeout_ms".to_string(),
    };
    ctx.metrics.connections.tls_handshake_failures.increment(1);
    if let Some(allowed) = ctx
        .warnings
        .authentication
        .check(&peer.ip(), std::time::Instant::now())
    {
        warn!(%peer, %reason, held_back = allowed.held_back, "TLS handshake failed; closing the connection");
    }
    None
}

/// Open connections, in total and per client address.
#[derive(Default)]
struct ConnectionSlots {
    inner: parking_lot::Mutex<SlotCounts>,
}

#[derive(Default)]
struct SlotCounts {
    total: usize,
    by_ip: HashMap<IpAddr, usize>,
}

#[derive(Debug, Clone, Copy)]
enum Limit {
    Total,
    PerIp,
}

impl Limit {
    fn name(self) -> &'static str {
        match self {
            Limit::Total => "max_connections",
            Limit::PerIp => "max_connections_per_ip",
        }
    }
}

/// One open connection's place in [`ConnectionSlots`], given back on drop.
struct Slot {
    slots: Arc<ConnectionSlots>,
    ip: IpAddr,
}

impl ConnectionSlots {
    fn take(self: &Arc<Self>, ip: IpAddr, config: &BrokerConfig) -> Result<Slot, Limit> {
        let mut counts = self.inner.lock();
        if counts.total >= config.max_connections {
            return Err(Limit::Total);
        }
        let for_ip = counts.by_ip.get(&ip).copied().unwrap_or(0);
        if for_ip >= config.connection_limit_for(ip) {
            return Err(Limit::PerIp);
        }
        counts.total += 1;
        counts.by_ip.insert(ip, for_ip + 1);
        Ok(Slot {
            slots: self.clone(),
            ip,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self.slots.inner.lock();
        counts.total = counts.total.saturating_sub(1);
        if let Some(n) = counts.by_ip.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                counts.by_ip.remove(&self.ip);
            }
        }
    }
}

impl std::fmt::Debug for Broker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Broker")
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}
