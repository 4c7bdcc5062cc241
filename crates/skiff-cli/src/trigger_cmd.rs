//! `skiff trigger`, and the triggers `skiff dev --trigger-config` runs in its own process.

use std::path::Path;

use anyhow::Context;
use skiff_lambda::trigger::{TriggerArgs, TriggerSet};

use crate::metrics_server;
use crate::signals::StopSignal;

pub async fn run(args: TriggerArgs) -> anyhow::Result<()> {
    let metrics = metrics_server::start_if_asked(args.metrics_addr).await?;
    let mut stop = StopSignal::listen();
    let result = skiff_lambda::trigger::run(args, async move { stop.recv().await }).await;
    metrics_server::shutdown(metrics).await;
    Ok(result?)
}

/// Starts the triggers of `file` against the dev process's Kafka listener at `bootstrap`.
pub async fn start_in_dev(
    file: Option<&Path>,
    bootstrap: &str,
) -> anyhow::Result<Option<TriggerSet>> {
    let Some(file) = file else { return Ok(None) };
    let triggers = skiff_lambda::trigger::start_from_file(file, bootstrap)
        .await
        .with_context(|| format!("--trigger-config {}", file.display()))?;
    Ok(Some(triggers))
}

/// Stops the dev process's triggers before its broker, so their last commits get through.
pub async fn stop_in_dev(triggers: Option<TriggerSet>) {
    if let Some(triggers) = triggers {
        triggers.shutdown().await;
    }
}
