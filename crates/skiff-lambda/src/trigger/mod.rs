//! `skiff trigger`: a consumer-group member that invokes a Lambda function with each batch of
//! records, as AWS's event source mapping for self-managed Kafka does, against any Kafka
//! cluster and any Lambda endpoint (AWS, or a local emulator).
//!
//! ```text
//! librdkafka consumer ──► dispatcher ──► partition worker (one per assigned partition)
//!   (group, rebalance,     (encodes each      cuts batches, invokes, retries, bisects,
//!    fetch, pause)          record as JSON)   failure topic, commits ──► librdkafka commit
//! ```

pub mod args;
pub mod config_file;
mod consumer;
mod error;
pub mod failure_topic;
mod invoker;
mod metrics;
mod partition;
mod runtime;
pub mod settings;
mod worker;

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::consumer::Consumer;
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{error, info};

pub use args::{EXAMPLES, TriggerArgs};
pub use error::TriggerError;
pub use metrics::describe_metrics;
pub use settings::{StartingPosition, TriggerSettings, TriggerSpec};

use consumer::{Ownership, PartitionCommitter, SpawnWorker, TriggerConsumer, TriggerContext};
use failure_topic::FailureTopic;
use invoker::LambdaInvoker;
use metrics::TriggerMetrics;
use partition::{EncodedRecord, GlobalBudget, PartitionBudget};
use worker::{Backoffs, PartitionWorker, WallClock};

use crate::event::EventFrame;

/// Where the trigger looks for Kafka without `--bootstrap` or `SKIFF_BOOTSTRAP`.
pub const DEFAULT_BOOTSTRAP: &str = "127.0.0.1:9092";
/// How long start-up waits for the cluster's metadata.
const METADATA_TIMEOUT: Duration = Duration::from_secs(15);

/// Triggers running in this process.
pub struct TriggerSet {
    triggers: Vec<RunningTrigger>,
}

struct RunningTrigger {
    group: String,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl TriggerSet {
    /// Starts every trigger, or none: each checks its topics, its failure topic and its AWS
    /// configuration first, and a failure stops those already started.
    pub async fn start(all: Vec<TriggerSettings>) -> Result<TriggerSet, TriggerError> {
        let mut set = TriggerSet {
            triggers: Vec::with_capacity(all.len()),
        };
        for settings in all {
            match start_trigger(settings).await {
                Ok(trigger) => set.triggers.push(trigger),
                Err(e) => {
                    set.shutdown().await;
                    return Err(e);
                }
            }
        }
        Ok(set)
    }

    /// Resolves if a trigger's task ends by itself (it only ends when told to), with its group.
    pub async fn any_stopped(&mut self) -> String {
        if self.triggers.is_empty() {
            return std::future::pending().await;
        }
        let tasks = self.triggers.iter_mut().map(|t| &mut t.task);
        let (result, index, _) = futures::future::select_all(tasks).await;
        let trigger = self.triggers.remove(index);
        if let Err(e) = result {
            error!(group = %trigger.group, "trigger task failed: {e}");
        }
        trigger.group
    }

    /// Stops every trigger: invocations under way may finish (within their grace period) and
    /// commit, then each consumer leaves its group.
    pub async fn shutdown(self) {
        for trigger in &self.triggers {
            trigger.stop.cancel();
        }
        for trigger in self.triggers {
            if let Err(e) = trigger.task.await {
                error!(group = %trigger.group, "trigger task failed: {e}");
            }
        }
    }
}

/// `skiff trigger`: runs the triggers the flags (or `--config`) describe until `stop`.
pub async fn run(args: TriggerArgs, stop: impl Future<Output = ()>) -> Result<(), TriggerError> {
    let mut set = TriggerSet::start(args.triggers()?).await?;
    let failed = tokio::select! {
        () = stop => None,
        group = set.any_stopped() => Some(group),
    };
    set.shutdown().await;
    match failed {
        Some(group) => Err(TriggerError::TaskFailed(format!(
            "trigger {group} stopped on its own"
        ))),
        None => Ok(()),
    }
}

/// `skiff dev --trigger-config FILE`: the file's triggers, with `bootstrap` defaulting to the
/// dev process's own Kafka listener.
pub async fn start_from_file(path: &Path, bootstrap: &str) -> Result<TriggerSet, TriggerError> {
    let fallback = TriggerSpec {
        bootstrap: Some(bootstrap.to_owned()),
        ..TriggerSpec::default()
    };
    let triggers = config_file::load(path, &TriggerSpec::default(), &fallback)
        .map_err(|e| TriggerError::Args(e.into()))?;
    TriggerSet::start(triggers).await
}

fn kafka_error(
    group: &str,
    action: &'static str,
) -> impl FnOnce(rdkafka::error::KafkaError) -> TriggerError {
    let group = group.to_owned();
    move |source| TriggerError::Kafka {
        group,
        action,
        source,
    }
}

async fn start_trigger(settings: TriggerSettings) -> Result<RunningTrigger, TriggerError> {
    let settings = Arc::new(settings);
    let group = settings.group.clone();
    let mut base = ClientConfig::new();
    base.set("bootstrap.servers", &settings.bootstrap)
        .set("client.id", "skiff-trigger");
    for (key, value) in &settings.kafka_properties {
        base.set(key, value);
    }
    let wake = Arc::new(Notify::new());
    let metrics = TriggerMetrics::new(&group);
    let context = TriggerContext::new(
        &group,
        settings.starting_position,
        wake.clone(),
        metrics.clone(),
    );
    let consumer: TriggerConsumer =
        consumer::consumer_config(&base, &group, settings.starting_position)
            .create_with_context(context)
            .map_err(kafka_error(&group, "create the Kafka consumer"))?;
    let consumer = Arc::new(consumer);
    check_topics(&consumer, &settings).await?;
    let sink = match &settings.on_failure_topic {
        Some(topic) => Some(Arc::new(
            FailureTopic::new(&base, topic)
                .map_err(kafka_error(&group, "create the failure-topic producer"))?,
        )),
        None => None,
    };
    let invoker = Arc::new(LambdaInvoker::connect(&settings).await?);
    let topics: Vec<&str> = settings.topics.iter().map(String::as_str).collect();
    consumer
        .subscribe(&topics)
        .map_err(kafka_error(&group, "subscribe to the topics"))?;
    info!(
        group = %group,
        topics = %settings.topics.join(","),
        function = %settings.function_name,
        batch_size = settings.batch_size,
        batching_window_ms = settings.batching_window.as_millis() as u64,
        maximum_retry_attempts = settings.maximum_retry_attempts.map_or(-1, i64::from),
        maximum_record_age_s = settings.maximum_record_age.map_or(-1, |d| d.as_secs() as i64),
        bisect = settings.bisect_batch_on_function_error,
        report_batch_item_failures = settings.report_batch_item_failures,
        on_failure_topic = settings.on_failure_topic.as_deref().unwrap_or("-"),
        "trigger started"
    );
    let global = Arc::new(GlobalBudget {
        wake,
        ..GlobalBudget::default()
    });
    // Room for several batches while one is being invoked, so that with small records the
    // byte budget, not this count, pauses a partition: a pause makes librdkafka drop what it
    // prefetched, and the refetch after the resume leaves the worker short of records (cut
    // batches, more invocations). The channel allocates as it fills, so a large bound is free.
    let capacity = (settings.batch_size * 8).clamp(8_000, 80_000);
    let assigned = metrics.assigned_partitions.clone();
    let workers = Workers {
        settings,
        invoker,
        sink,
        consumer: consumer.clone(),
        metrics,
        backoffs: Backoffs::default(),
    };
    let stop = CancellationToken::new();
    let task = tokio::spawn(consumer::dispatch(
        consumer,
        workers,
        global,
        capacity,
        stop.clone(),
        assigned,
    ));
    Ok(RunningTrigger { group, stop, task })
}

/// Fails start-up with a clear message when the cluster cannot be reached or a topic is
/// missing (instead of a consumer that waits for ever).
async fn check_topics(
    consumer: &Arc<TriggerConsumer>,
    settings: &Arc<TriggerSettings>,
) -> Result<(), TriggerError> {
    let consumer = consumer.clone();
    let metadata =
        tokio::task::spawn_blocking(move || consumer.fetch_metadata(None, METADATA_TIMEOUT))
            .await
            .map_err(|e| TriggerError::TaskFailed(e.to_string()))?
            .map_err(|source| TriggerError::Unreachable {
                group: settings.group.clone(),
                bootstrap: settings.bootstrap.clone(),
                source,
            })?;
    let exists = |name: &str| {
        metadata
            .topics()
            .iter()
            .any(|t| t.name() == name && t.error().is_none() && !t.partitions().is_empty())
    };
    for topic in &settings.topics {
        if !exists(topic) {
            return Err(TriggerError::TopicMissing {
                group: settings.group.clone(),
                topic: topic.clone(),
                bootstrap: settings.bootstrap.clone(),
            });
        }
    }
    if let Some(topic) = &settings.on_failure_topic
        && !exists(topic)
    {
        return Err(TriggerError::FailureTopicMissing {
            group: settings.group.clone(),
            topic: topic.clone(),
            bootstrap: settings.bootstrap.clone(),
        });
    }
    Ok(())
}

/// Starts partition workers for one trigger.
struct Workers {
    settings: Arc<TriggerSettings>,
    invoker: Arc<LambdaInvoker>,
    sink: Option<Arc<FailureTopic>>,
    consumer: Arc<TriggerConsumer>,
    metrics: TriggerMetrics,
    backoffs: Backoffs,
}

impl SpawnWorker for Workers {
    fn spawn(
        &mut self,
        topic: Arc<str>,
        partition: i32,
        ownership: Arc<Ownership>,
        feed: mpsc::Receiver<EncodedRecord>,
        budget: Arc<PartitionBudget>,
        previous: Option<JoinHandle<()>>,
    ) -> JoinHandle<()> {
        let worker = PartitionWorker {
            frame: EventFrame::new(&self.settings.bootstrap, &topic, partition),
            topic: topic.clone(),
            partition,
            settings: self.settings.clone(),
            invoker: self.invoker.clone(),
            sink: self.sink.clone(),
            committer: PartitionCommitter {
                consumer: self.consumer.clone(),
                topic: topic.clone(),
                partition,
                ownership: ownership.clone(),
                commits: self.metrics.commits.clone(),
            },
            metrics: self.metrics.clone(),
            cancel: ownership.cancel.clone(),
            backoffs: self.backoffs,
            clock: WallClock::new(),
        };
        tokio::spawn(async move {
            // The partition's previous worker (revoked, then assigned here again) finishes
            // first, so commits never go backwards.
            if let Some(previous) = previous {
                let _ = previous.await;
            }
            worker.run(feed, budget).await;
        })
    }
}
