//! `skiff broker`: a stateless broker that reaches the controller cluster over HTTP, keeps a
//! watched replica of the controller state, and stores everything in the shared object store.
//! Safe to kill at any time; a restart re-registers and re-reads the state.

use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use skiff_broker::{Broker, BrokerDeps};
use skiff_controller::{RemoteController, RemoteControllerConfig};
use skiff_jobs::{JobRunner, wall_clock};
use skiff_storage::{ChunkCache, SegmentStore};
use tracing::{info, warn};

use crate::dev_args::DevArgs;
use crate::metrics_server;
use crate::settings::{self, DevSettings};
use crate::signals::StopSignal;

/// Heartbeat interval unless the config file sets `[broker] lease_heartbeat_ms`.
const DEFAULT_LEASE_HEARTBEAT_MS: u64 = 1_000;

/// The flags of `skiff dev` (except the controller's), plus where the controllers are.
#[derive(Debug, Args)]
pub struct BrokerArgs {
    /// Controller addresses (any subset of the cluster; more is better for failover).
    #[arg(
        long,
        env = "SKIFF_CONTROLLERS",
        value_name = "HOST:PORT[,HOST:PORT...]",
        value_delimiter = ',',
        required = true
    )]
    pub controllers: Vec<String>,

    #[command(flatten)]
    pub common: DevArgs,
}

pub async fn run(args: BrokerArgs) -> anyhow::Result<()> {
    if args.common.store.object_store.is_none() && args.common.config.is_none() {
        anyhow::bail!(
            "a broker needs --object-store (the store every broker and the controllers share)"
        );
    }
    if args.common.broker_id.is_none() && args.common.config.is_none() {
        anyhow::bail!("a broker needs --broker-id (unique among the cluster's brokers)");
    }
    let controller_only = [
        (args.common.gc_grace_ms.is_some(), "--gc-grace-ms"),
        (args.common.gc_interval_ms.is_some(), "--gc-interval-ms"),
    ]
    .into_iter()
    .find(|(given, _)| *given)
    .map(|(_, flag)| flag)
    .or(args.common.lifecycle.first_given());
    if let Some(flag) = controller_only {
        anyhow::bail!(
            "{flag} is a controller setting: the controller's leader runs retention, offset \
             expiry, job planning and garbage collection, so give it to `skiff controller`"
        );
    }
    let controllers = args.controllers;
    let controller_tls = args.common.controller_tls.client()?;
    let metrics = metrics_server::start_if_asked(args.common.metrics_addr).await?;
    let job_args = crate::job_runner::JobArgs::from_args(&args.common);
    let DevSettings {
        data_dir: _,
        mut broker,
        store,
        cache,
        controller: controller_settings,
        add_scram,
    } = settings::resolve(args.common)?;
    let broker_id = broker.broker_id;
    if broker.lease_heartbeat_ms == 0 {
        // The controllers expire brokers that stay silent for their lease (5 s by default).
        broker.lease_heartbeat_ms = DEFAULT_LEASE_HEARTBEAT_MS;
    }

    let job_config = job_args.config(broker_id, &store).await?;
    let store = SegmentStore::open(&store).context("object store")?;
    store
        .check()
        .await
        .with_context(|| format!("object store {} is not reachable", store.describe()))?;
    let cache = ChunkCache::open(&cache).await.context("cache")?;
    let remote = Arc::new(
        RemoteController::connect(RemoteControllerConfig {
            cluster_secret: controller_settings.cluster_secret,
            tls: controller_tls,
            ..RemoteControllerConfig::new(controllers.clone())
        })
        .await
        .context("controllers")?,
    );
    if let Err(e) =
        skiff_broker::security::bootstrap::create_first_users(remote.as_ref(), &add_scram).await
    {
        remote.shutdown().await;
        return Err(e).context("--add-scram");
    }
    let broker = match Broker::start(
        broker,
        BrokerDeps {
            controller: remote.clone(),
            store: store.clone(),
            cache: cache.clone(),
            log_levels: crate::log_levels::process_log_levels(),
        },
    )
    .await
    {
        Ok(broker) => broker,
        Err(e) => {
            remote.shutdown().await;
            return Err(e).context("broker");
        }
    };
    // Merges the controller's leader leases to this broker run here, apart from the Kafka
    // request path; a broker killed mid-job leaves the lease to lapse.
    let jobs = JobRunner::spawn(remote.clone(), store.clone(), job_config, wall_clock());
    let cluster_id = remote
        .state()
        .read()
        .cluster_id()
        .unwrap_or_default()
        .to_string();
    let mut stop = StopSignal::listen();
    info!(
        "skiff broker ready: broker {broker_id}, Kafka on {}, controllers {}, objects in {}, cluster {cluster_id}",
        broker.local_addr(),
        controllers.join(","),
        store.describe(),
    );

    stop.recv().await;
    info!("shutting down: flushing pending writes");
    jobs.shutdown().await;
    broker.shutdown().await;
    remote.shutdown().await;
    if let Err(e) = cache.close().await {
        warn!(error = %e, "cache did not close cleanly");
    }
    metrics_server::shutdown(metrics).await;
    info!("stopped");
    Ok(())
}
