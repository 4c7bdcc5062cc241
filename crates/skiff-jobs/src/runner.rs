//! The per-broker job runner: one owned task that starts the jobs the controller leased to this
//! broker (at most `max_running_jobs` at a time), renews their leases while they work, and on
//! shutdown cancels them, gives their leases back and waits for every one to end.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use skiff_meta::StateHandle;
use skiff_meta::state::Job;
use skiff_meta::{
    AbandonJob, CommitJob, CommitJobOutputs, CommitMerges, ControllerClient, JobCommitted,
    JobError, JobKind, MergeSwap, Propose, RenewJobLeases,
};
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;

use crate::background::{BackgroundRuntime, SubmitOn};
use crate::config::JobRunnerConfig;
use crate::context::{Done, Finished, JobContext};
use crate::error::JobFailure;
use crate::merge_bundle::Bundle;
use crate::metrics::RunnerMetrics;
use crate::work;
use skiff_storage::SegmentStore;

/// Milliseconds since the Unix epoch, for the times jobs propose (tests pass a manual one).
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// The system's wall clock.
pub fn wall_clock() -> Clock {
    Arc::new(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
    })
}

/// A broker's job runner. Owns its task; [`JobRunner::shutdown`] drains it.
pub struct JobRunner {
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl JobRunner {
    pub fn spawn(
        controller: Arc<dyn ControllerClient>,
        store: SegmentStore,
        config: JobRunnerConfig,
        clock: Clock,
    ) -> JobRunner {
        let stop = CancellationToken::new();
        let context = |store: SegmentStore, controller: Arc<dyn ControllerClient>| {
            Arc::new(JobContext {
                store,
                broker_id: config.broker_id,
                read_concurrency: config.read_concurrency,
                compaction_map_bytes: config.compaction_map_bytes,
                archive_collect_every_commits: config.archive_collect_every_commits,
                archive_orphan_margin: config.archive_orphan_margin,
                archive_glue: config.archive_glue.clone(),
                controller,
            })
        };
        let background =
            Background::start(&store, &controller).map(|(runtime, store, controller)| Background {
                runtime,
                ctx: context(store, controller),
            });
        let shared = Arc::new(Shared {
            ctx: context(store, controller.clone()),
            background,
            controller,
            clock,
            metrics: RunnerMetrics::register(),
            config,
        });
        let runner = Runner {
            shared,
            leased: HashMap::new(),
            finished: HashSet::new(),
            tasks: JoinSet::new(),
            task_jobs: HashMap::new(),
            bundle_task: None,
        };
        let task = tokio::spawn(runner.run(stop.clone()));
        JobRunner { stop, task }
    }

    /// Cancels running jobs, gives their leases back, and waits for all of them to end.
    pub async fn shutdown(self) {
        self.stop.cancel();
        if let Err(e) = self.task.await {
            tracing::warn!(error = %e, "job runner failed");
        }
    }
}

/// What the runner and every job task share.
struct Shared {
    ctx: Arc<JobContext>,
    /// Where archive passes run, below the Kafka path's priority; `None` if it could not start.
    background: Option<Background>,
    controller: Arc<dyn ControllerClient>,
    clock: Clock,
    metrics: RunnerMetrics,
    config: JobRunnerConfig,
}

/// The low-priority runtime and the context its jobs use: their own store client and a
/// controller client whose requests run on this (the Kafka path's) runtime.
struct Background {
    runtime: BackgroundRuntime,
    ctx: Arc<JobContext>,
}

impl Background {
    fn start(
        store: &SegmentStore,
        controller: &Arc<dyn ControllerClient>,
    ) -> Option<(BackgroundRuntime, SegmentStore, Arc<dyn ControllerClient>)> {
        let io = tokio::runtime::Handle::current();
        let started = BackgroundRuntime::start()
            .map_err(|e| e.to_string())
            .and_then(|runtime| {
                let store = store.client_on(io.clone()).map_err(|e| e.to_string())?;
                Ok((runtime, store))
            });
        match started {
            Ok((runtime, store)) => {
                let controller: Arc<dyn ControllerClient> = Arc::new(SubmitOn {
                    inner: controller.clone(),
                    io,
                });
                Some((runtime, store, controller))
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not start the background runtime; archive passes run at normal priority");
                None
            }
        }
    }
}

/// A job this broker runs, as the runner keeps it.
struct Leased {
    /// Cancelled when the lease is lost: the job is no longer ours to commit.
    lost: CancellationToken,
    lease_ms: i64,
    renewed_at_ms: i64,
}

struct Runner {
    shared: Arc<Shared>,
    leased: HashMap<u64, Leased>,
    /// Jobs that ended here and may still show in a lagging replica: not started again.
    finished: HashSet<u64>,
    tasks: JoinSet<()>,
    /// The jobs each task runs: one, or a bundle of merges.
    task_jobs: HashMap<tokio::task::Id, Vec<u64>>,
    /// The task running this broker's merges, if any: merges leased meanwhile wait for the
    /// next bundle.
    bundle_task: Option<tokio::task::Id>,
}

impl Runner {
    async fn run(mut self, stop: CancellationToken) {
        let state = self.shared.controller.state();
        let mut applied = state.applied();
        let mut check = tokio::time::interval(self.shared.config.lease_check_interval);
        check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            self.start_leased_jobs(&stop);
            tokio::select! {
                _ = stop.cancelled() => break,
                changed = applied.changed() => if changed.is_err() { break },
                Some(done) = self.tasks.join_next_with_id() => self.job_ended(done),
                _ = check.tick() => self.renew_due_leases().await,
            }
        }
        for job in self.leased.values() {
            job.lost.cancel();
        }
        while let Some(done) = self.tasks.join_next_with_id().await {
            self.job_ended(done);
        }
        self.shared.metrics.running.set(0.0);
    }

    fn job_ended(&mut self, done: Result<(tokio::task::Id, ()), tokio::task::JoinError>) {
        let id = match &done {
            Ok((id, ())) => *id,
            Err(e) => {
                tracing::warn!(error = %e, "a job task failed");
                e.id()
            }
        };
        if self.bundle_task == Some(id) {
            self.bundle_task = None;
        }
        for job_id in self.task_jobs.remove(&id).unwrap_or_default() {
            self.leased.remove(&job_id);
            self.finished.insert(job_id);
        }
        self.shared.metrics.running.set(self.leased.len() as f64);
    }

    /// Starts jobs leased to this broker that are not running yet, up to the limit of running
    /// tasks: each merge, compaction or archive job on its own task, except that every waiting
    /// merge runs on one task together (a bundle).
    fn start_leased_jobs(&mut self, stop: &CancellationToken) {
        let broker_id = self.shared.config.broker_id;
        let jobs: Vec<Job> = {
            let state = self.shared.controller.state();
            let state = state.read();
            let mine: Vec<Job> = state
                .jobs()
                .filter(|j| j.broker_id == broker_id)
                .copied()
                .collect();
            self.finished.retain(|id| state.job(*id).is_some());
            mine
        };
        let max_tasks = self.shared.config.max_running_jobs;
        let mut merges: Vec<Job> = Vec::new();
        for job in jobs {
            if self.leased.contains_key(&job.id) || self.finished.contains(&job.id) {
                continue;
            }
            if job.spec.kind == JobKind::Merge {
                merges.push(job);
                continue;
            }
            if self.task_jobs.len() >= max_tasks {
                continue;
            }
            let lost = self.lease(&job);
            let handle =
                self.tasks
                    .spawn(run_job(self.shared.clone(), job, lost, stop.child_token()));
            self.task_jobs.insert(handle.id(), vec![job.id]);
        }
        if !merges.is_empty() && self.bundle_task.is_none() && self.task_jobs.len() < max_tasks {
            for job in &merges {
                // A bundle commits whichever of its merges are still leased; the controller
                // refuses the others, so a lost lease needs no cancelling here.
                self.lease(job);
            }
            let ids = merges.iter().map(|j| j.id).collect();
            let handle =
                self.tasks
                    .spawn(run_bundle(self.shared.clone(), merges, stop.child_token()));
            self.bundle_task = Some(handle.id());
            self.task_jobs.insert(handle.id(), ids);
        }
        self.shared.metrics.running.set(self.leased.len() as f64);
    }

    /// Takes a leased job on: its lease is renewed from now on. Answers the token cancelled if
    /// the lease is lost.
    fn lease(&mut self, job: &Job) -> CancellationToken {
        let lost = CancellationToken::new();
        self.leased.insert(
            job.id,
            Leased {
                lost: lost.clone(),
                lease_ms: job.lease_until_ms.saturating_sub(job.planned_ms).max(1),
                renewed_at_ms: job.planned_ms,
            },
        );
        lost
    }

    /// Renews every lease a third or more of which has gone by; a job whose lease the
    /// controller no longer holds for this broker is cancelled.
    async fn renew_due_leases(&mut self) {
        let now = (self.shared.clock)();
        let mut due: HashMap<i64, Vec<u64>> = HashMap::new();
        for (id, job) in &self.leased {
            if now.saturating_sub(job.renewed_at_ms) >= job.lease_ms / 3 {
                due.entry(job.lease_ms).or_default().push(*id);
            }
        }
        for (lease_ms, job_ids) in due {
            let renewal = RenewJobLeases {
                broker_id: self.shared.config.broker_id,
                now_ms: now,
                lease_ms,
                job_ids: job_ids.clone(),
            };
            let answers = match self.shared.controller.propose(renewal).await {
                Ok(answers) => answers,
                Err(e) => {
                    tracing::warn!(error = %e, "could not renew job leases; retrying");
                    continue;
                }
            };
            for (id, renewed) in job_ids.into_iter().zip(answers) {
                let Some(job) = self.leased.get_mut(&id) else {
                    continue;
                };
                if renewed {
                    job.renewed_at_ms = now;
                } else {
                    tracing::warn!(
                        job = id,
                        "lost the lease of a running job; it will be redone elsewhere"
                    );
                    job.lost.cancel();
                }
            }
        }
    }
}

/// How a job ended, for logs and the duration histogram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Committed,
    /// The entries changed, or the lease went elsewhere: the output is garbage.
    Lost,
    Failed,
    Cancelled,
}

impl Outcome {
    fn label(self) -> &'static str {
        match self {
            Outcome::Committed => "committed",
            Outcome::Lost => "lost",
            Outcome::Failed => "failed",
            Outcome::Cancelled => "cancelled",
        }
    }
}

/// Does a job's work. Archive passes, which spend CPU on Parquet, run on the background
/// runtime (see background.rs); the rest is mostly I/O and stays here.
async fn run_work(shared: &Shared, state: &StateHandle, job: &Job) -> Result<Done, JobFailure> {
    let now_ms = (shared.clock)();
    if job.spec.kind == JobKind::Archive
        && let Some(background) = &shared.background
    {
        let (ctx, state, job) = (background.ctx.clone(), state.clone(), *job);
        if let Some(task) = background
            .runtime
            .spawn(async move { work::run(&ctx, &state, &job, now_ms).await })
        {
            return task
                .await
                .unwrap_or_else(|e| Err(JobFailure::Worker(e.to_string())));
        }
    }
    work::run(&shared.ctx, state, job, now_ms).await
}

async fn run_job(shared: Arc<Shared>, job: Job, lost: CancellationToken, stop: CancellationToken) {
    let started = Instant::now();
    let kind = job.spec.kind.name();
    let state = shared.controller.state();
    tracing::info!(
        job = job.id,
        kind,
        topic_id = %job.spec.partition.topic_id,
        partition = job.spec.partition.partition,
        first_offset = job.spec.first_offset,
        last_offset = job.spec.last_offset,
        entries = job.spec.source_entries,
        bytes = job.spec.source_bytes,
        "job started"
    );
    let worked = tokio::select! {
        finished = run_work(&shared, &state, &job) => finished,
        _ = lost.cancelled() => Err(JobFailure::Cancelled),
        _ = stop.cancelled() => Err(JobFailure::Cancelled),
    };
    let archiving = job.spec.kind == skiff_meta::JobKind::Archive;
    let outcome = match worked {
        Ok(Done::Swap(finished)) => commit(&shared, &job, finished).await,
        Ok(Done::Archived(archived)) => {
            archive_committed(&shared, &job, archived.as_ref());
            abandon(&shared, &job).await;
            Outcome::Committed
        }
        Err(JobFailure::Cancelled) if lost.is_cancelled() => Outcome::Lost,
        Err(JobFailure::ArchiveRefused(e)) if crate::archive::lost_race(&e) => {
            tracing::info!(job = job.id, reason = %e, "archive pass lost its race; its files are garbage");
            abandon(&shared, &job).await;
            Outcome::Lost
        }
        Err(JobFailure::Cancelled) => {
            abandon(&shared, &job).await;
            Outcome::Cancelled
        }
        Err(e) => {
            tracing::warn!(job = job.id, kind, error = %e, "job failed; giving it back");
            if archiving {
                shared.metrics.archive_failures.increment(1);
            }
            abandon(&shared, &job).await;
            Outcome::Failed
        }
    };
    RunnerMetrics::duration(kind, outcome.label()).record(started.elapsed().as_secs_f64());
}

/// Runs merges together into one object and commits them with one proposal.
async fn run_bundle(shared: Arc<Shared>, jobs: Vec<Job>, stop: CancellationToken) {
    let started = Instant::now();
    let state = shared.controller.state();
    tracing::info!(
        merges = jobs.len(),
        entries = jobs
            .iter()
            .map(|j| u64::from(j.spec.source_entries))
            .sum::<u64>(),
        bytes = jobs.iter().map(|j| j.spec.source_bytes).sum::<u64>(),
        "merge bundle started"
    );
    let worked = tokio::select! {
        bundle = work::run_merges(&shared.ctx, &state, &jobs, (shared.clock)()) => bundle,
        _ = stop.cancelled() => Err(JobFailure::Cancelled),
    };
    let outcome = match worked {
        Ok(bundle) => commit_bundle(&shared, &jobs, bundle).await,
        Err(e) => {
            let outcome = match e {
                JobFailure::Cancelled => Outcome::Cancelled,
                e => {
                    tracing::warn!(merges = jobs.len(), error = %e, "merge bundle failed; giving its jobs back");
                    Outcome::Failed
                }
            };
            for job in &jobs {
                abandon(&shared, job).await;
            }
            outcome
        }
    };
    RunnerMetrics::duration(JobKind::Merge.name(), outcome.label())
        .record(started.elapsed().as_secs_f64());
}

async fn commit_bundle(shared: &Shared, jobs: &[Job], bundle: Bundle) -> Outcome {
    let Bundle {
        object,
        merges,
        dropped,
    } = bundle;
    let job = |id: u64| jobs.iter().find(|j| j.id == id);
    for (id, failure) in &dropped {
        match failure {
            JobFailure::SourceChanged => {
                tracing::info!(job = id, "a merge's entries changed before it ran")
            }
            e => tracing::warn!(job = id, error = %e, "a merge could not run; giving it back"),
        }
        if let Some(job) = job(*id) {
            abandon(shared, job).await;
        }
    }
    let Some(object) = object else {
        return Outcome::Lost;
    };
    let proposal = CommitMerges {
        broker_id: shared.config.broker_id,
        now_ms: (shared.clock)(),
        object_key: object.key.clone(),
        object_size: object.size,
        merges: merges
            .iter()
            .map(|m| MergeSwap {
                job_id: m.job_id,
                replaced: m.replaced.clone(),
                entries: m.entries.clone(),
            })
            .collect(),
    };
    let answer = match shared.controller.propose(proposal).await {
        Ok(answer) => answer,
        Err(e) => {
            // Whether it applied is unknown: giving the jobs back is harmless either way.
            tracing::warn!(merges = merges.len(), error = %e, "could not commit a merge bundle");
            for m in &merges {
                if let Some(job) = job(m.job_id) {
                    abandon(shared, job).await;
                }
            }
            return Outcome::Failed;
        }
    };
    let mut applied = 0usize;
    for (merge, result) in merges.iter().zip(&answer.merges) {
        match result {
            Ok(()) => {
                applied += 1;
                shared.metrics.merged(
                    merge.source_bytes,
                    merge.replaced.len() as u64,
                    merge.entries.len() as u64,
                );
            }
            Err(e @ (JobError::EntriesChanged | JobError::NotLeased)) => {
                tracing::info!(job = merge.job_id, reason = %e, "a bundled merge lost its race")
            }
            Err(e) => {
                tracing::warn!(job = merge.job_id, error = %e, "the controller refused a bundled merge")
            }
        }
    }
    tracing::info!(
        merges = merges.len(),
        applied,
        replaced_entries = merges.iter().map(|m| m.replaced.len()).sum::<usize>(),
        bytes = merges.iter().map(|m| m.source_bytes).sum::<u64>(),
        object = %object.key,
        object_id = answer.object_id,
        released_objects = answer.released_objects,
        "merge bundle committed"
    );
    match applied {
        0 => Outcome::Lost,
        _ => Outcome::Committed,
    }
}

async fn commit(shared: &Shared, job: &Job, finished: Finished) -> Outcome {
    let Finished {
        replaced,
        mut outputs,
        source_bytes,
    } = finished;
    let replaced_entries = replaced.len() as u64;
    let output_entries: u64 = outputs.iter().map(|o| o.entries.len() as u64).sum();
    let output_objects = outputs.len();
    let output_key = outputs.first().map(|o| o.object_key.clone());
    let now_ms = (shared.clock)();
    // One object or none commits as it always did; several need the newer command.
    let committed = match outputs.len() {
        0 | 1 => {
            let proposal = CommitJob {
                job_id: job.id,
                broker_id: shared.config.broker_id,
                now_ms,
                replaced,
                output: outputs.pop(),
            };
            shared.controller.propose(proposal).await
        }
        _ => {
            let proposal = CommitJobOutputs {
                job_id: job.id,
                broker_id: shared.config.broker_id,
                now_ms,
                replaced,
                outputs,
            };
            shared.controller.propose(proposal).await
        }
    };
    match committed {
        Ok(Ok(JobCommitted {
            object_id,
            released_objects,
        })) => {
            if job.spec.kind.compacts() {
                shared.metrics.compacted_bytes.increment(source_bytes);
            }
            if job.spec.kind == JobKind::Merge {
                shared
                    .metrics
                    .merged(source_bytes, replaced_entries, output_entries);
            }
            tracing::info!(
                job = job.id,
                kind = job.spec.kind.name(),
                partition = job.spec.partition.partition,
                replaced_entries,
                output_entries,
                bytes = source_bytes,
                objects = output_objects,
                object = output_key.as_deref().unwrap_or("none"),
                object_id,
                released_objects,
                "job committed"
            );
            Outcome::Committed
        }
        Ok(Err(e @ (JobError::EntriesChanged | JobError::NotLeased))) => {
            tracing::info!(job = job.id, reason = %e, "job lost its race; its output is garbage");
            Outcome::Lost
        }
        Ok(Err(e)) => {
            tracing::warn!(job = job.id, error = %e, "the controller refused a job's commit");
            Outcome::Failed
        }
        Err(e) => {
            // Whether it applied is unknown: giving the job back is harmless either way.
            tracing::warn!(job = job.id, error = %e, "could not commit a job");
            abandon(shared, job).await;
            Outcome::Failed
        }
    }
}

/// Counts and logs a committed archive pass (the runner gives the job back next).
fn archive_committed(shared: &Shared, job: &Job, archived: Option<&skiff_archive::ArchiveCommit>) {
    let Some(archived) = archived else {
        tracing::debug!(job = job.id, "archive job found nothing new");
        return;
    };
    shared.metrics.archived_rows.increment(archived.rows);
    shared.metrics.archived_bytes.increment(archived.data_bytes);
    shared
        .metrics
        .archived_files
        .increment(archived.data_files as u64);
    tracing::info!(
        job = job.id,
        topic = %archived.topic,
        rows = archived.rows,
        files = archived.data_files,
        bytes = archived.data_bytes,
        metadata = %archived.metadata_location,
        "archive committed"
    );
}

/// Gives a job's lease back so it can be planned again at once instead of after it lapses.
async fn abandon(shared: &Shared, job: &Job) {
    let proposal = AbandonJob {
        job_id: job.id,
        broker_id: shared.config.broker_id,
        now_ms: (shared.clock)(),
    };
    match tokio::time::timeout(
        shared.config.abandon_timeout,
        shared.controller.propose(proposal),
    )
    .await
    {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            tracing::warn!(job = job.id, error = %e, "could not give a job back; its lease will lapse")
        }
        Err(_) => tracing::warn!(
            job = job.id,
            "giving a job back timed out; its lease will lapse"
        ),
    }
}
