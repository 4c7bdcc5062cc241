//! The leader's job planning (Kafka's cleaner backoff, `log.cleaner.backoff.ms`): every
//! `cleaner_backoff_ms` it drops job leases that lapsed (their broker died or stalled, so the
//! work can be planned again) and leases new merge and compaction jobs to live brokers, at most
//! `jobs_per_broker` each, visiting partitions round-robin from where the last round stopped
//! so no topic waits behind busier ones. Brokers run the jobs (`skiff-jobs`).
//!
//! As Kafka's cleaner does, it waits the whole backoff only after a round that found nothing
//! to do: while rounds find work it looks again every [`BUSY_PAUSE`], so a freed slot gets its
//! next job at once. Otherwise merges would run at one job per broker per backoff, and a
//! broker with a thousand busy partitions would merge each of them every four hours.

use std::ops::Deref;
use std::time::Duration;

use skiff_meta::{
    ControllerState, ExpireJobs, JobKind, JobSpec, PartitionRef, PlanJobs, PlannedJob, StateHandle,
};

use super::compact_plan::job_for;
use super::merge_plan::{MergePolicy, SettledPrefixes, merge_cap};
use super::{LifecycleSettings, PeriodicDuty, propose};
use crate::raft::types::Raft;

/// How soon the planner looks again while its rounds find work.
pub(crate) const BUSY_PAUSE: Duration = Duration::from_millis(200);

pub(crate) struct JobPlanner {
    settings: LifecycleSettings,
    /// The last round with a free slot found a job: more may be waiting.
    found_work: bool,
    /// Where the next round starts looking: the partition after the last one planned.
    cursor: Option<PartitionRef>,
    /// How far each partition's settled entries reach, so rounds skip them.
    settled: SettledPrefixes,
}

impl JobPlanner {
    pub(crate) fn new(settings: LifecycleSettings) -> Self {
        JobPlanner {
            settings,
            found_work: false,
            cursor: None,
            settled: SettledPrefixes::default(),
        }
    }
}

impl PeriodicDuty for JobPlanner {
    fn period(&self) -> Duration {
        Duration::from_millis(self.settings.config.cleaner_backoff_ms)
    }

    fn hurry(&self) -> Option<Duration> {
        self.found_work.then(|| BUSY_PAUSE.min(self.period()))
    }

    async fn round(&mut self, raft: &Raft, state: &StateHandle) {
        let now = self.settings.clock.now_ms();
        let lapsed: Vec<u64> = state
            .read()
            .jobs()
            .filter(|j| j.lease_until_ms <= now)
            .map(|j| j.id)
            .collect();
        if !lapsed.is_empty() {
            let count = lapsed.len();
            match propose(
                raft,
                ExpireJobs {
                    now_ms: now,
                    job_ids: lapsed,
                },
            )
            .await
            {
                Ok(()) => {
                    tracing::info!(count, "job leases lapsed; the jobs will be planned again")
                }
                Err(e) => {
                    tracing::warn!(error = %e, "could not expire job leases");
                    return;
                }
            }
        }
        let config = &self.settings.config;
        if no_free_slot(&state.read(), config.jobs_per_broker) {
            // Whether work waits is unknown until a slot frees: keep the pace.
            return;
        }
        let policy = MergePolicy {
            target_bytes: config.merge_target_bytes,
            min_age_ms: i64::try_from(config.merge_min_age_ms).unwrap_or(i64::MAX),
        };
        let jobs = plan_round(
            || state.read(),
            now,
            policy,
            config.jobs_per_broker,
            &mut self.cursor,
            &mut self.settled,
        );
        self.found_work = !jobs.is_empty();
        if jobs.is_empty() {
            return;
        }
        let lease_ms = i64::try_from(config.job_lease_ms).unwrap_or(i64::MAX);
        let planned = jobs.clone();
        let answers = match propose(
            raft,
            PlanJobs {
                now_ms: now,
                lease_ms,
                jobs,
            },
        )
        .await
        {
            Ok(answers) => answers,
            Err(e) => {
                tracing::warn!(error = %e, "could not plan jobs; retrying next round");
                return;
            }
        };
        for (job, answer) in planned.iter().zip(answers) {
            match answer {
                Ok(id) => tracing::info!(
                    job = id,
                    kind = job.spec.kind.name(),
                    broker = job.broker_id,
                    topic_id = %job.spec.partition.topic_id,
                    partition = job.spec.partition.partition,
                    entries = job.spec.source_entries,
                    bytes = job.spec.source_bytes,
                    "planned a job"
                ),
                Err(e) => tracing::debug!(error = %e, "a planned job was refused"),
            }
        }
    }
}

/// Slots a broker's jobs take: one per compaction or archive job, and one for all its merges
/// (it runs them together, as one bundle).
fn slots_taken(state: &ControllerState, broker_id: i32) -> usize {
    let (merges, others) = state.jobs().filter(|j| j.broker_id == broker_id).fold(
        (0usize, 0usize),
        |(m, o), j| match j.spec.kind {
            JobKind::Merge => (m + 1, o),
            _ => (m, o + 1),
        },
    );
    others + merges.min(1)
}

/// Whether every live broker already runs as many jobs as it may (or none is live).
fn no_free_slot(state: &ControllerState, jobs_per_broker: usize) -> bool {
    state
        .live_brokers()
        .all(|b| slots_taken(state, b.id) >= jobs_per_broker)
}

/// Most merges in one bundle, and most source entries: its commit names every one, and a Raft
/// entry should stay well under a megabyte.
pub(crate) const MAX_BUNDLE_MERGES: usize = 2048;
pub(crate) const MAX_BUNDLE_ENTRIES: u64 = 16_384;
/// What a bundle's object holds besides its chunks, over-estimated (header, footer, and a footer
/// entry per chunk), so the object stays under the settled size the planner checks.
const BUNDLE_FIXED_BYTES: u64 = 4096;
const BUNDLE_BYTES_PER_CHUNK: u64 = 128;

/// The merges planned this round for one broker, to run together into one object.
struct OpenBundle {
    broker_id: i32,
    merges: usize,
    entries: u64,
    bytes: u64,
    /// The object must stay under the settled size of every member's topic: entries of a
    /// merged object at least that large are never merged again, which is right only for an
    /// object holding one partition's run.
    limit: u64,
}

impl OpenBundle {
    fn takes(&self, spec: &JobSpec, settled_len: u64) -> bool {
        let object = self.bytes
            + spec.source_bytes
            + BUNDLE_FIXED_BYTES
            + BUNDLE_BYTES_PER_CHUNK * (self.merges as u64 + 1);
        self.merges < MAX_BUNDLE_MERGES
            && self.entries + u64::from(spec.source_entries) <= MAX_BUNDLE_ENTRIES
            && object < self.limit.min(settled_len)
    }

    fn add(&mut self, spec: &JobSpec, settled_len: u64) {
        self.merges += 1;
        self.entries += u64::from(spec.source_entries);
        self.bytes += spec.source_bytes;
        self.limit = self.limit.min(settled_len);
    }
}

/// The jobs to lease this round, partitions visited from `cursor` on (and the cursor moved past
/// the last one taken). Each live broker's free slots are filled: a compaction takes a slot;
/// merges go into one bundle per broker without merges running, which takes one slot and as
/// many merges as fit in it (each broker's first free slot before any broker's second, so one
/// round's jobs spread). `read` gives the state; it is read once per partition, so applies
/// wait for one partition's look at most.
pub(crate) fn plan_round<G: Deref<Target = ControllerState>>(
    read: impl Fn() -> G,
    now_ms: i64,
    policy: MergePolicy,
    jobs_per_broker: usize,
    cursor: &mut Option<PartitionRef>,
    settled: &mut SettledPrefixes,
) -> Vec<PlannedJob> {
    let (free, merging, mut partitions) = {
        let state = read();
        settled.forget_gone(&state);
        let mut free: Vec<(i32, usize)> = Vec::new();
        let mut merging: Vec<i32> = Vec::new();
        for b in state.live_brokers() {
            free.push((
                b.id,
                jobs_per_broker.saturating_sub(slots_taken(&state, b.id)),
            ));
            if state
                .jobs()
                .any(|j| j.broker_id == b.id && j.spec.kind == JobKind::Merge)
            {
                merging.push(b.id);
            }
        }
        let mut partitions: Vec<PartitionRef> = Vec::new();
        for topic in state.topics() {
            let count = u32::try_from(topic.partitions.len()).unwrap_or(u32::MAX);
            partitions.extend((0..count).map(|partition| PartitionRef {
                topic_id: topic.id,
                partition,
            }));
        }
        (free, merging, partitions)
    };
    let mut slots: Vec<i32> = Vec::new();
    for slot in 0..jobs_per_broker {
        slots.extend(free.iter().filter(|(_, n)| *n > slot).map(|(id, _)| *id));
    }
    slots.reverse(); // popped from the end: first slots first
    if slots.is_empty() {
        return Vec::new();
    }
    partitions.sort();
    let start = cursor.map_or(0, |c| partitions.partition_point(|p| *p <= c));
    let mut jobs: Vec<PlannedJob> = Vec::new();
    let mut bundle: Option<OpenBundle> = None;
    // Brokers that got a bundle this round, or run merges: at most one bundle each.
    let mut bundled: Vec<i32> = merging;
    for at in partitions[start..].iter().chain(&partitions[..start]) {
        let bundle_full = bundle
            .as_ref()
            .is_none_or(|b| b.merges >= MAX_BUNDLE_MERGES);
        if slots.is_empty() && bundle_full {
            break;
        }
        let state = read();
        let Some(topic) = state.topic(&at.topic_id) else {
            continue;
        };
        let Some(spec) = job_for(&state, topic, at.partition, now_ms, policy, settled) else {
            continue;
        };
        let broker_id = match spec.kind {
            JobKind::Merge => {
                let settled_len = merge_cap(&state, topic, policy) / 2;
                match bundle.as_mut().filter(|b| b.takes(&spec, settled_len)) {
                    Some(open) => {
                        open.add(&spec, settled_len);
                        open.broker_id
                    }
                    None => {
                        let Some(i) = slots.iter().rposition(|id| !bundled.contains(id)) else {
                            continue;
                        };
                        let broker_id = slots.remove(i);
                        bundled.push(broker_id);
                        let mut open = OpenBundle {
                            broker_id,
                            merges: 0,
                            entries: 0,
                            bytes: 0,
                            limit: u64::MAX,
                        };
                        open.add(&spec, settled_len);
                        bundle = Some(open);
                        broker_id
                    }
                }
            }
            _ => match slots.pop() {
                Some(broker_id) => broker_id,
                None => continue,
            },
        };
        jobs.push(PlannedJob { spec, broker_id });
        *cursor = Some(*at);
    }
    jobs
}
