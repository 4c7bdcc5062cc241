//! `skiff dev`: controller, broker and object store in one process.

use std::sync::Arc;

use anyhow::Context;
use skiff_broker::{Broker, BrokerDeps};
use skiff_controller::Controller;
use skiff_controller::server::ControllerServer;
use skiff_jobs::{JobRunner, wall_clock};
use skiff_storage::{ChunkCache, SegmentStore};
use tracing::{info, warn};

use crate::dev_args::DevArgs;
use crate::metrics_server;
use crate::settings::{self, DevSettings};
use crate::signals::StopSignal;
use crate::trigger_cmd;

pub async fn run(args: DevArgs) -> anyhow::Result<()> {
    // Before anything is opened: stores, caches, controller and broker register their
    // metric handles when created.
    let metrics = metrics_server::start_if_asked(args.metrics_addr).await?;
    let trigger_config = args.trigger_config.clone();
    let controller_addr = args.controller_addr;
    let controller_tls = args.controller_tls.server()?;
    if controller_tls.is_some() && controller_addr.is_none() {
        anyhow::bail!("--controller-tls-* are for the controller API: give --controller-addr too");
    }
    let job_args = crate::job_runner::JobArgs::from_args(&args);
    let DevSettings {
        data_dir,
        broker,
        store,
        cache,
        mut controller,
        add_scram,
    } = settings::resolve(args)?;
    let scheme = if controller_tls.is_some() {
        "https"
    } else {
        "http"
    };
    controller.tls = controller_tls;

    let job_config = job_args.config(broker.broker_id, &store).await?;
    let store = SegmentStore::open(&store).context("object store")?;
    store
        .check()
        .await
        .with_context(|| format!("object store {} is not reachable", store.describe()))?;
    let cache = ChunkCache::open(&cache).await.context("cache")?;
    // The embedded controller's leader also collects garbage in the store.
    let controller = Arc::new(
        Controller::start_with_store(controller, Some(store.clone()))
            .await
            .context("controller")?,
    );
    let controller_api = match controller_addr {
        Some(addr) => {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot bind the controller API to {addr}"))?;
            let server =
                ControllerServer::start(controller.clone(), listener).context("controller API")?;
            info!("controller API on {scheme}://{}", server.local_addr());
            Some(server)
        }
        None => None,
    };
    // The first users exist before the listener takes its first client.
    skiff_broker::security::bootstrap::create_first_users(controller.as_ref(), &add_scram)
        .await
        .context("--add-scram")?;
    let broker = Broker::start(
        broker,
        BrokerDeps {
            controller: controller.clone(),
            store: store.clone(),
            cache: cache.clone(),
            log_levels: crate::log_levels::process_log_levels(),
        },
    )
    .await
    .context("broker")?;
    // Merges the controller's leader plans run here, apart from the Kafka request path.
    let jobs = JobRunner::spawn(controller.clone(), store.clone(), job_config, wall_clock());

    let cluster_id = controller
        .state()
        .read()
        .cluster_id()
        .unwrap_or_default()
        .to_string();
    let mut stop = StopSignal::listen();
    // Lambda triggers need the Kafka listener; one that cannot start stops dev cleanly.
    let triggers =
        trigger_cmd::start_in_dev(trigger_config.as_deref(), &broker.local_addr().to_string())
            .await;
    if triggers.is_ok() {
        info!(
            "skiff dev ready: Kafka on {}, data in {}, objects in {}, cluster {cluster_id}",
            broker.local_addr(),
            data_dir.display(),
            store.describe(),
        );
        stop.recv().await;
    }
    let (triggers, result) = match triggers {
        Ok(triggers) => (triggers, Ok(())),
        Err(e) => (None, Err(e)),
    };
    trigger_cmd::stop_in_dev(triggers).await;
    info!("shutting down: flushing pending writes");
    jobs.shutdown().await;
    broker.shutdown().await;
    if let Some(server) = controller_api {
        server.shutdown().await;
    }
    if let Err(e) = controller.shutdown().await {
        warn!(error = %e, "controller did not shut down cleanly");
    }
    if let Err(e) = cache.close().await {
        warn!(error = %e, "cache did not close cleanly");
    }
    metrics_server::shutdown(metrics).await;
    info!("stopped");
    result
}
