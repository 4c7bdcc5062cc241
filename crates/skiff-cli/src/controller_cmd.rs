//! `skiff controller`: one node of the Raft controller cluster, serving Raft, the broker API
//! and admin requests on one HTTP listener until SIGTERM or Ctrl-C.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use skiff_controller::server::ControllerServer;
use skiff_controller::{Controller, ControllerConfig};
use skiff_storage::SegmentStore;
use tokio::net::TcpListener;
use tracing::{info, warn};

use crate::controller_args::ControllerNodeArgs;
use crate::metrics_server;
use crate::signals::StopSignal;

/// How long a starting node logs "waiting" before the next reminder.
const LEADER_WAIT_STEP: Duration = Duration::from_secs(10);

pub fn config_from(
    args: &ControllerNodeArgs,
) -> anyhow::Result<(ControllerConfig, std::net::SocketAddr)> {
    let missing = |flag: &str| anyhow::anyhow!("--{flag} is required");
    let defaults = ControllerConfig::default();
    let mut cfg = ControllerConfig {
        node_id: args.node_id.ok_or_else(|| missing("node-id"))?,
        data_dir: args.data_dir.clone().ok_or_else(|| missing("data-dir"))?,
        peers: args.peers.clone().ok_or_else(|| missing("peers"))?,
        join: args.join,
        snapshot_logs_since_last: args
            .snapshot_logs
            .unwrap_or(defaults.snapshot_logs_since_last),
        heartbeat_interval_ms: args.heartbeat_ms.unwrap_or(100),
        election_timeout_min_ms: args.election_timeout_min_ms.unwrap_or(500),
        election_timeout_max_ms: args.election_timeout_max_ms.unwrap_or(1000),
        broker_lease_ms: args.broker_lease_ms.unwrap_or(defaults.broker_lease_ms),
        gc_grace_ms: args.gc_grace_ms.unwrap_or(defaults.gc_grace_ms),
        gc_interval_ms: args.gc_interval_ms.unwrap_or(defaults.gc_interval_ms),
        cluster_secret: args.secret.load()?,
        tls: args.tls.server()?,
        ..defaults
    };
    args.lifecycle.apply_to(&mut cfg.lifecycle);
    cfg.lifecycle
        .validate()
        .map_err(|e| anyhow::anyhow!("invalid setting: {e}"))?;
    if !cfg.peers.contains_key(&cfg.node_id) {
        anyhow::bail!(
            "--peers does not include this node's id {} (it lists {:?})",
            cfg.node_id,
            cfg.peers.keys().collect::<Vec<_>>()
        );
    }
    let listen = args.listen.ok_or_else(|| missing("listen"))?;
    Ok((cfg, listen))
}

pub async fn run(args: ControllerNodeArgs) -> anyhow::Result<()> {
    let (cfg, listen) = config_from(&args)?;
    let metrics = metrics_server::start_if_asked(args.metrics_addr).await?;
    let node_id = cfg.node_id;
    let data_dir = cfg.data_dir.clone();
    // Bind first: peers must reach this node for the first election.
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let local = listener.local_addr().context("listener address")?;
    let store = match args.store.store_config() {
        Some(store_cfg) => {
            if skiff_store_check::S3Target::parse(&store_cfg.url).is_ok() {
                crate::store_cmd::check_before_start(&store_cfg, args.allow_unsafe_store).await?;
            }
            let store = SegmentStore::open(&store_cfg).context("object store")?;
            store
                .check()
                .await
                .with_context(|| format!("object store {} is not reachable", store.describe()))?;
            info!(store = %store.describe(), "garbage-collecting segment objects while leading");
            Some(store)
        }
        None => None,
    };
    let controller = Arc::new(
        Controller::start_with_store(cfg, store)
            .await
            .context("controller")?,
    );
    let server = ControllerServer::start(controller.clone(), listener).context("listener")?;
    info!("skiff controller listening: node {node_id} on {local}");

    let mut signals = StopSignal::listen();
    let stop = signals.recv();
    tokio::pin!(stop);
    let ready = async {
        loop {
            match controller.wait_for_leader(LEADER_WAIT_STEP).await {
                Ok(leader) => return Some(leader),
                Err(skiff_controller::ControllerError::Propose(
                    skiff_meta::ProposeError::ShuttingDown,
                )) => return None,
                Err(_) => info!(
                    "node {node_id}: waiting for a controller leader (are the other peers up?)"
                ),
            }
        }
    };
    let stopped_early = tokio::select! {
        leader = ready => {
            if let Some(leader) = leader {
                info!(
                    "skiff controller ready: node {node_id} on {local}, leader {leader}, data in {}",
                    data_dir.display()
                );
            }
            false
        }
        _ = &mut stop => true,
    };
    if !stopped_early {
        stop.await;
    }
    info!("shutting down controller node {node_id}");
    server.shutdown().await;
    if let Err(e) = controller.shutdown().await {
        warn!(error = %e, "controller did not shut down cleanly");
    }
    metrics_server::shutdown(metrics).await;
    info!("stopped");
    Ok(())
}
