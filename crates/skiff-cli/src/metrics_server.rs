//! `--metrics-addr`: installs the process-wide Prometheus recorder and serves `GET /metrics`.
//!
//! The recorder must be installed before any store, cache, controller or broker is opened:
//! they register their metric handles when created, and handles registered earlier report to
//! the no-op recorder for good.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::http::header;
use axum::routing::get;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// Prometheus text exposition format 0.0.4.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Histogram samples are buffered until drained into buckets; draining this often keeps that
/// buffer small even when nobody scrapes.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// Upper bounds for `*_seconds` histograms: sub-millisecond local-store flushes up to slow
/// S3 requests.
const SECONDS_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Upper bounds for `*_bytes` histograms: small segments of a quiet broker up to the largest
/// `flush_bytes` anyone sets.
const BYTES_BUCKETS: &[f64] = &[
    1024.0,
    4096.0,
    16384.0,
    65536.0,
    262_144.0,
    1_048_576.0,
    4_194_304.0,
    8_388_608.0,
    16_777_216.0,
    67_108_864.0,
    268_435_456.0,
];

/// Installs the global Prometheus recorder and describes every Skiff metric. Call before
/// opening anything that emits metrics.
pub fn install_recorder() -> anyhow::Result<PrometheusHandle> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS_BUCKETS)
        .context("histogram buckets")?
        .set_buckets_for_metric(Matcher::Suffix("_bytes".into()), BYTES_BUCKETS)
        .context("histogram buckets")?
        .install_recorder()
        .context("cannot install the metrics recorder")?;
    skiff_storage::describe_metrics();
    skiff_broker::metrics::describe_metrics();
    skiff_jobs::describe_metrics();
    skiff_controller::describe_metrics();
    skiff_controller::describe_lifecycle_metrics();
    skiff_controller::describe_archive_metrics();
    skiff_lambda::trigger::describe_metrics();
    Ok(handle)
}

/// The `/metrics` listener: an owned task, stopped and drained by [`MetricsServer::shutdown`].
pub struct MetricsServer {
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl MetricsServer {
    /// Installs the recorder, binds `addr` and starts serving. Logs the bound address.
    pub async fn start(addr: SocketAddr) -> anyhow::Result<MetricsServer> {
        let handle = install_recorder()?;
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen for metrics on {addr}"))?;
        let local_addr = listener.local_addr().context("metrics listener address")?;
        let stop = CancellationToken::new();
        let task = tokio::spawn(serve(listener, handle, stop.clone()));
        info!("metrics on http://{local_addr}/metrics");
        Ok(MetricsServer { stop, task })
    }

    /// Stops accepting scrapes, lets a scrape in progress finish, and waits for the task.
    pub async fn shutdown(self) {
        self.stop.cancel();
        if let Err(e) = self.task.await {
            warn!(error = %e, "metrics listener task failed");
        }
    }
}

/// Starts a metrics server when an address is given; `--metrics-addr` is off by default.
pub async fn start_if_asked(addr: Option<SocketAddr>) -> anyhow::Result<Option<MetricsServer>> {
    match addr {
        Some(addr) => MetricsServer::start(addr).await.map(Some),
        None => Ok(None),
    }
}

/// Stops the metrics server, if one runs.
pub async fn shutdown(server: Option<MetricsServer>) {
    if let Some(server) = server {
        server.shutdown().await;
    }
}

async fn serve(listener: TcpListener, handle: PrometheusHandle, stop: CancellationToken) {
    let render = handle.clone();
    let app = Router::new().route(
        "/metrics",
        get(move || {
            let render = render.clone();
            async move { ([(header::CONTENT_TYPE, CONTENT_TYPE)], render.render()) }
        }),
    );
    let server = axum::serve(listener, app).with_graceful_shutdown(stop.clone().cancelled_owned());
    let upkeep = async {
        let mut every = tokio::time::interval(UPKEEP_INTERVAL);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            handle.run_upkeep();
        }
    };
    tokio::select! {
        served = server => if let Err(e) = served {
            warn!(error = %e, "metrics listener failed");
        },
        // Never finishes; the server ends on `stop`.
        () = upkeep => {}
    }
}
