//! One bench run per mode: prepare the topic, start the worker threads, show progress, and
//! assemble the summary.

use std::sync::Arc;
use std::time::Duration;

use crate::args::{
    BenchArgs, BenchMode, CommonArgs, ConsumeArgs, E2eArgs, LoadArgs, ProduceArgs, StopCondition,
};
use crate::cluster::{self, Cluster};
use crate::consumer::{self, ConsumeJob, ConsumeLimit, ConsumeOutcome};
use crate::error::BenchError;
use crate::latency::{RunClock, STAMP_LEN};
use crate::live::LiveCounters;
use crate::metrics_http::fetch_text;
use crate::producer::{self, ProduceJob};
use crate::progress::{ProgressGoal, ProgressView};
use crate::prometheus::{RequestCounts, object_store_requests};
use crate::summary::{ObjectStoreReport, ProducedSide, Summary, rates};

/// How often the progress bar reads the counters.
const PROGRESS_TICK: Duration = Duration::from_millis(200);

/// How long one metrics scrape may take.
const METRICS_TIMEOUT: Duration = Duration::from_secs(5);

/// Runs the bench and prints its summary on stdout. A consumer that gave up waiting still
/// prints what it measured before the error.
pub async fn run(args: BenchArgs) -> Result<(), BenchError> {
    let json = match &args.mode {
        BenchMode::Produce(a) => a.common.json,
        BenchMode::Consume(a) => a.common.json,
        BenchMode::E2e(a) => a.common.json,
    };
    let outcome = measure(args).await?;
    match outcome.summary.print(json, &mut std::io::stdout().lock()) {
        // The reader went away (`skiff bench ... | head -3`): it has what it wanted.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        printed => printed?,
    }
    match outcome.idle {
        Some(idle) => Err(BenchError::Idle {
            consumed: outcome.summary.records,
            expected: idle.expected,
            idle: idle.waited,
        }),
        None => Ok(()),
    }
}

/// A finished run: its summary, and whether the consumer stopped by giving up.
#[derive(Debug, Clone)]
pub struct Measured {
    pub summary: Summary,
    pub idle: Option<IdleStop>,
}

#[derive(Debug, Clone, Copy)]
pub struct IdleStop {
    pub expected: u64,
    pub waited: Duration,
}

/// Runs the bench and returns its summary without printing it.
pub async fn measure(args: BenchArgs) -> Result<Measured, BenchError> {
    match args.mode {
        BenchMode::Produce(args) => measure_produce(args).await,
        BenchMode::Consume(args) => measure_consume(args).await,
        BenchMode::E2e(args) => measure_e2e(args).await,
    }
}

async fn measure_produce(args: ProduceArgs) -> Result<Measured, BenchError> {
    let ProduceArgs { common, load } = args;
    let cluster = Cluster::connect(&common).await?;
    let partitions = cluster.ensure_topic(&common.topic, load.partitions).await?;
    let before = scrape(&common).await;

    let counters = Arc::new(LiveCounters::default());
    let clock = RunClock::start();
    let run = producer::start(produce_job(&common, &load, clock, counters.clone()))?;
    let progress = ProgressView::new(progress_goal(load.stop_condition()), common.json);
    let produced = drive(
        move || run.join(),
        &progress,
        &counters,
        clock,
        |c| c.acked_figures(),
    )
    .await?;

    let (mb_per_sec, records_per_sec) =
        rates(produced.acked, produced.acked_bytes, produced.elapsed);
    let mut summary = Summary {
        mode: "produce",
        topic: common.topic.clone(),
        partitions: partitions.len(),
        record_size: Some(load.record_size),
        acks: Some(load.acks.as_config()),
        compression: Some(load.compression.as_config()),
        sent: Some(produced.sent),
        records: produced.acked,
        bytes: produced.acked_bytes,
        elapsed_secs: produced.elapsed.as_secs_f64(),
        mb_per_sec,
        records_per_sec,
        errors: produced.errors,
        first_error: counters.first_error(),
        latency: produced.latency.percentiles(),
        latency_measures: Some("send_to_ack"),
        produced: None,
        object_store: None,
        metrics_error: None,
    };
    attach_object_store(&common, before, &mut summary).await;
    Ok(Measured {
        summary,
        idle: None,
    })
}

async fn measure_consume(args: ConsumeArgs) -> Result<Measured, BenchError> {
    let common = &args.common;
    let cluster = Cluster::connect(common).await?;
    let partitions = cluster.existing_partitions(&common.topic).await?;
    let ranges = cluster.offsets(&common.topic, &partitions).await?;
    let limit = args
        .records
        .map_or(ConsumeLimit::EndOffsets, ConsumeLimit::Records);
    let goal = args
        .records
        .unwrap_or_else(|| consumer::expected_records(&ranges));
    let before = scrape(common).await;

    let counters = Arc::new(LiveCounters::default());
    let clock = RunClock::start();
    let worker = consumer::start(ConsumeJob {
        config: cluster::consumer_config(common, &args.consumer_props),
        topic: common.topic.clone(),
        ranges,
        limit,
        idle_timeout: args.idle_timeout,
        measure_latency: false,
        clock,
        counters: counters.clone(),
    })?;
    let progress = ProgressView::new(ProgressGoal::Records(goal), common.json);
    let consumed = drive(
        move || join_consumer(worker),
        &progress,
        &counters,
        clock,
        |c| c.consumed_figures(),
    )
    .await?;

    let (mb_per_sec, records_per_sec) = rates(consumed.records, consumed.bytes, consumed.elapsed);
    let mut summary = Summary {
        mode: "consume",
        topic: common.topic.clone(),
        partitions: partitions.len(),
        record_size: None,
        acks: None,
        compression: None,
        sent: None,
        records: consumed.records,
        bytes: consumed.bytes,
        elapsed_secs: consumed.elapsed.as_secs_f64(),
        mb_per_sec,
        records_per_sec,
        errors: consumed.errors,
        first_error: counters.first_error(),
        latency: None,
        latency_measures: None,
        produced: None,
        object_store: None,
        metrics_error: None,
    };
    attach_object_store(common, before, &mut summary).await;
    Ok(Measured {
        summary,
        idle: idle_stop(&consumed),
    })
}

async fn measure_e2e(args: E2eArgs) -> Result<Measured, BenchError> {
    let E2eArgs {
        common,
        load,
        idle_timeout,
        consumer_props,
    } = args;
    if load.record_size < STAMP_LEN {
        return Err(BenchError::InvalidSetting(format!(
            "e2e needs --record-size of at least {STAMP_LEN} bytes to carry the send time, \
             got {}",
            load.record_size
        )));
    }
    let cluster = Cluster::connect(&common).await?;
    let partitions = cluster.ensure_topic(&common.topic, load.partitions).await?;
    // Start reading at today's end, so only this run's records are consumed.
    let ranges: Vec<_> = cluster
        .offsets(&common.topic, &partitions)
        .await?
        .into_iter()
        .map(|mut range| {
            range.start = range.end;
            range
        })
        .collect();
    let before = scrape(&common).await;

    let counters = Arc::new(LiveCounters::default());
    let clock = RunClock::start();
    let consume_worker = consumer::start(ConsumeJob {
        config: cluster::consumer_config(&common, &consumer_props),
        topic: common.topic.clone(),
        ranges,
        limit: ConsumeLimit::MatchProducer,
        idle_timeout,
        measure_latency: true,
        clock,
        counters: counters.clone(),
    })?;
    let produce_run = producer::start(produce_job(&common, &load, clock, counters.clone()))?;
    let progress = ProgressView::new(progress_goal(load.stop_condition()), common.json);
    let both_counters = counters.clone();
    let (produced, consumed) = drive(
        move || {
            let consumed = join_consumer(consume_worker);
            if consumed.is_err() {
                // Without a consumer the producer's records would wait for nothing.
                both_counters.abort();
            }
            let produced = produce_run.join();
            Ok((produced?, consumed?))
        },
        &progress,
        &counters,
        clock,
        |c| c.consumed_figures(),
    )
    .await?;

    let (mb_per_sec, records_per_sec) = rates(consumed.records, consumed.bytes, consumed.elapsed);
    let (produced_mb_per_sec, _) = rates(produced.acked, produced.acked_bytes, produced.elapsed);
    let mut summary = Summary {
        mode: "e2e",
        topic: common.topic.clone(),
        partitions: partitions.len(),
        record_size: Some(load.record_size),
        acks: Some(load.acks.as_config()),
        compression: Some(load.compression.as_config()),
        sent: Some(produced.sent),
        records: consumed.records,
        bytes: consumed.bytes,
        elapsed_secs: consumed.elapsed.as_secs_f64(),
        mb_per_sec,
        records_per_sec,
        errors: produced.errors + consumed.errors,
        first_error: counters.first_error(),
        latency: consumed.latency.as_ref().and_then(|l| l.percentiles()),
        latency_measures: Some("send_to_consume"),
        produced: Some(ProducedSide {
            sent: produced.sent,
            acked: produced.acked,
            bytes: produced.acked_bytes,
            mb_per_sec: produced_mb_per_sec,
            ack_latency: produced.latency.percentiles(),
        }),
        object_store: None,
        metrics_error: None,
    };
    attach_object_store(&common, before, &mut summary).await;
    Ok(Measured {
        summary,
        idle: idle_stop(&consumed),
    })
}

fn produce_job(
    common: &CommonArgs,
    load: &LoadArgs,
    clock: RunClock,
    counters: Arc<LiveCounters>,
) -> ProduceJob {
    ProduceJob {
        config: cluster::producer_config(common, load),
        topic: common.topic.clone(),
        record_size: load.record_size,
        keyed: load.keyed,
        stop: load.stop_condition(),
        records_per_sec: load
            .throughput
            .map(|cap| cap.records_per_sec(load.record_size)),
        clock,
        counters,
    }
}

fn progress_goal(stop: StopCondition) -> ProgressGoal {
    match stop {
        StopCondition::Records(records) => ProgressGoal::Records(records),
        StopCondition::Duration(duration) => ProgressGoal::Duration(duration),
    }
}

fn join_consumer(
    worker: std::thread::JoinHandle<Result<ConsumeOutcome, BenchError>>,
) -> Result<ConsumeOutcome, BenchError> {
    worker
        .join()
        .map_err(|_| BenchError::WorkerLost { name: "consume" })?
}

fn idle_stop(consumed: &ConsumeOutcome) -> Option<IdleStop> {
    consumed.idle_for.map(|waited| IdleStop {
        expected: consumed.expected,
        waited,
    })
}

/// Waits for the blocking `work` while updating the progress bar; Ctrl-C asks the workers
/// to stop early (they still report what they did).
async fn drive<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, BenchError> + Send + 'static,
    progress: &ProgressView,
    counters: &LiveCounters,
    clock: RunClock,
    figures: fn(&LiveCounters) -> (u64, u64),
) -> Result<T, BenchError> {
    let mut done = tokio::task::spawn_blocking(work);
    let mut tick = tokio::time::interval(PROGRESS_TICK);
    let mut interrupted = false;
    let result = loop {
        tokio::select! {
            joined = &mut done => break joined,
            _ = tick.tick() => {
                let (records, bytes) = figures(counters);
                progress.update(records, bytes, clock.origin().elapsed());
            }
            _ = tokio::signal::ctrl_c(), if !interrupted => {
                interrupted = true;
                tracing::warn!("interrupted: stopping and summarising what was done");
                counters.abort();
            }
        }
    };
    progress.finish();
    result.map_err(|_| BenchError::WorkerLost { name: "bench" })?
}

/// Scrapes the broker's metrics, if asked to; a failure is kept for the summary.
async fn scrape(common: &CommonArgs) -> Option<Result<RequestCounts, String>> {
    let url = common.metrics_url.as_deref()?;
    Some(
        fetch_text(url, METRICS_TIMEOUT)
            .await
            .map(|text| object_store_requests(&text).unwrap_or_default()),
    )
}

/// Adds the object store figures between `before` and now to the summary.
async fn attach_object_store(
    common: &CommonArgs,
    before: Option<Result<RequestCounts, String>>,
    summary: &mut Summary,
) {
    let Some(before) = before else {
        return;
    };
    let after = scrape(common).await;
    match (before, after) {
        (Ok(before), Some(Ok(after))) => {
            summary.object_store =
                Some(ObjectStoreReport::new(after.since(&before), summary.bytes));
        }
        (Err(error), _) | (_, Some(Err(error))) => summary.metrics_error = Some(error),
        (Ok(_), None) => {}
    }
}
