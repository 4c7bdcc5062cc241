//! The leader's archive planning: every topic with `skiff.archive.enable=true` gets an archive
//! job (one per topic at a time, leased to the least busy live broker, which runs it with
//! `skiff-archive`) once it has records not archived yet and either `archive_interval_ms` went
//! by since its last archive commit (or its creation) or `archive_flush_bytes` of stored data
//! wait. The job commits with `CommitArchive`, which applies only if the archive did not move
//! meanwhile, so a job redone after its lease lapsed never archives a record twice. Lapsed
//! leases are taken back by the job planner ([`super::jobs`]), like every job's.
//!
//! A topic with nothing new still gets a pass now and then ([`upkeep_interval_ms`]): its table's
//! retention and snapshot expiry run only when a pass commits, so an idle topic would keep
//! expired files and snapshots forever.

use std::collections::HashMap;
use std::time::Duration;

use metrics::{Gauge, Unit, gauge};
use skiff_meta::{
    ARCHIVE_JOB_PARTITION, ControllerState, JobSpec, PartitionRef, PlanJobs, PlannedJob,
    StateHandle, Topic, TopicId,
};

use super::{LifecycleSettings, PeriodicDuty, propose};
use crate::raft::types::Raft;

/// Gauge, label `topic`: offsets of an archiving topic not archived yet, on the leader.
pub const ARCHIVE_LAG_RECORDS: &str = "skiff_archive_lag_records";

/// Help text for the archive planner's metric.
pub fn describe_archive_metrics() {
    metrics::describe_gauge!(
        ARCHIVE_LAG_RECORDS,
        Unit::Count,
        "Offsets of an archiving topic not in its Iceberg table yet (controller leader only)"
    );
}

/// When a topic is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ArchivePolicy {
    pub(crate) interval_ms: i64,
    pub(crate) flush_bytes: u64,
}

/// What an archiving topic has not archived yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Backlog {
    /// Offsets from each partition's archived offset (or log start, if later) to its end.
    pub(crate) records: u64,
    /// Stored bytes of those offsets' entries, counted up to the flush threshold only.
    pub(crate) bytes: u64,
}

/// The longest an idle archiving topic goes without an upkeep pass: its snapshots expire
/// after a day, so hourly checks keep them within about a day and an hour.
pub(crate) const UPKEEP_MAX_MS: i64 = 3_600_000;

/// How long an archiving topic with nothing new waits between upkeep passes: a tenth of its
/// `skiff.archive.retention.ms` (so files outlive it by at most that), at least the archive
/// interval, at most [`UPKEEP_MAX_MS`].
pub(crate) fn upkeep_interval_ms(topic: &Topic, policy: ArchivePolicy) -> i64 {
    let by_retention = topic.config.archive_retention().map_or(UPKEEP_MAX_MS, |r| {
        i64::try_from(r.as_millis() / 10).unwrap_or(i64::MAX)
    });
    by_retention.max(policy.interval_ms).min(UPKEEP_MAX_MS)
}

/// An archiving topic's backlog; `None` when the topic does not archive.
pub(crate) fn backlog(state: &ControllerState, topic: &Topic, flush_bytes: u64) -> Option<Backlog> {
    let mut backlog = Backlog::default();
    for (partition, log) in (0u32..).zip(&topic.partitions) {
        let hold = state.archive_hold(PartitionRef {
            topic_id: topic.id,
            partition,
        })?;
        let from = hold.max(log.log_start_offset());
        let waiting = log.high_watermark().saturating_sub(from);
        backlog.records = backlog
            .records
            .saturating_add(u64::try_from(waiting).unwrap_or(0));
        if waiting > 0 {
            for entry in log.entries_from(from) {
                if backlog.bytes >= flush_bytes {
                    break;
                }
                backlog.bytes = backlog.bytes.saturating_add(u64::from(entry.len));
            }
        }
    }
    Some(backlog)
}

/// Whether `topic` (with this backlog) should be archived at `now_ms`. With nothing new, only
/// an existing table is, for upkeep, once the upkeep interval passed since its last commit
/// and since `upkept_ms` (this leader's last upkeep pass for it).
pub(crate) fn due(
    state: &ControllerState,
    topic: &Topic,
    backlog: Backlog,
    now_ms: i64,
    policy: ArchivePolicy,
    upkept_ms: Option<i64>,
) -> bool {
    let progress = state.archive_progress(&topic.id);
    let since = progress.map_or(topic.created_ms, |p| p.last_commit_ms);
    if backlog.records == 0 {
        let since = since.max(upkept_ms.unwrap_or(i64::MIN));
        return progress.is_some()
            && now_ms.saturating_sub(since) >= upkeep_interval_ms(topic, policy);
    }
    backlog.bytes >= policy.flush_bytes || now_ms.saturating_sub(since) >= policy.interval_ms
}

pub(crate) struct ArchivePlanner {
    settings: LifecycleSettings,
    lag: HashMap<TopicId, Gauge>,
    /// When this leader last planned an upkeep pass per topic (one that finds nothing to
    /// remove commits nothing). Not replicated: a new leader may do one early.
    upkept: HashMap<TopicId, i64>,
}

impl ArchivePlanner {
    pub(crate) fn new(settings: LifecycleSettings) -> Self {
        ArchivePlanner {
            settings,
            lag: HashMap::new(),
            upkept: HashMap::new(),
        }
    }

    fn policy(&self) -> ArchivePolicy {
        let config = &self.settings.config;
        ArchivePolicy {
            interval_ms: i64::try_from(config.archive_interval_ms).unwrap_or(i64::MAX),
            flush_bytes: config.archive_flush_bytes,
        }
    }

    /// The topics due now (without an archive job), and every archiving topic's lag. One read
    /// lock per topic.
    fn due_topics(&mut self, state: &StateHandle, now_ms: i64) -> Vec<(TopicId, u64)> {
        let policy = self.policy();
        let ids: Vec<TopicId> = state.read().topics().map(|t| t.id).collect();
        let mut due_now = Vec::new();
        let mut seen = Vec::new();
        for id in ids {
            let state = state.read();
            let Some(topic) = state.topic(&id) else {
                continue;
            };
            let Some(backlog) = backlog(&state, topic, policy.flush_bytes) else {
                continue;
            };
            seen.push(id);
            self.lag
                .entry(id)
                .or_insert_with(|| gauge!(ARCHIVE_LAG_RECORDS, "topic" => topic.name.clone()))
                .set(backlog.records as f64);
            let slot = PartitionRef {
                topic_id: id,
                partition: ARCHIVE_JOB_PARTITION,
            };
            let upkept = self.upkept.get(&id).copied();
            if state.job_for(slot).is_none() && due(&state, topic, backlog, now_ms, policy, upkept)
            {
                if backlog.records == 0 {
                    self.upkept.insert(id, now_ms);
                }
                due_now.push((id, backlog.bytes));
            }
        }
        // Topics deleted or no longer archiving report no lag.
        self.upkept.retain(|id, _| seen.contains(id));
        self.lag.retain(|id, gauge| {
            let kept = seen.contains(id);
            if !kept {
                gauge.set(0.0);
            }
            kept
        });
        due_now
    }
}

impl PeriodicDuty for ArchivePlanner {
    /// A quarter of the interval (between 50 ms and 5 s), so a topic waits at most about
    /// 1.25 intervals, and a backlog past the flush threshold is seen within 5 s.
    fn period(&self) -> Duration {
        Duration::from_millis((self.settings.config.archive_interval_ms / 4).clamp(50, 5_000))
    }

    async fn round(&mut self, raft: &Raft, state: &StateHandle) {
        let now = self.settings.clock.now_ms();
        let due_now = self.due_topics(state, now);
        if due_now.is_empty() {
            return;
        }
        let config = &self.settings.config;
        let jobs = assign(&state.read(), due_now, config.jobs_per_broker);
        if jobs.is_empty() {
            return;
        }
        let planned = jobs.clone();
        let proposal = PlanJobs {
            now_ms: now,
            lease_ms: i64::try_from(config.job_lease_ms).unwrap_or(i64::MAX),
            jobs,
        };
        let answers = match propose(raft, proposal).await {
            Ok(answers) => answers,
            Err(e) => {
                tracing::warn!(error = %e, "could not plan archive jobs; retrying next round");
                return;
            }
        };
        for (job, answer) in planned.iter().zip(answers) {
            match answer {
                Ok(id) => tracing::debug!(
                    job = id,
                    broker = job.broker_id,
                    topic_id = %job.spec.partition.topic_id,
                    bytes = job.spec.source_bytes,
                    "planned an archive job"
                ),
                Err(e) => tracing::debug!(error = %e, "a planned archive job was refused"),
            }
        }
    }
}

/// Leases each due topic's job to the live broker with the fewest jobs, none past
/// `jobs_per_broker`.
pub(crate) fn assign(
    state: &ControllerState,
    due_now: Vec<(TopicId, u64)>,
    jobs_per_broker: usize,
) -> Vec<PlannedJob> {
    let mut load: Vec<(usize, i32)> = state
        .live_brokers()
        .map(|b| (state.jobs().filter(|j| j.broker_id == b.id).count(), b.id))
        .collect();
    let mut jobs = Vec::new();
    for (topic_id, bytes) in due_now {
        load.sort_unstable();
        let Some(least) = load.first_mut().filter(|(n, _)| *n < jobs_per_broker) else {
            break;
        };
        least.0 += 1;
        jobs.push(PlannedJob {
            spec: JobSpec::archive(topic_id, bytes),
            broker_id: least.1,
        });
    }
    jobs
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use skiff_meta::*;

    use super::*;

    const T0: i64 = 1_700_000_000_000;
    const POLICY: ArchivePolicy = ArchivePolicy {
        interval_ms: 60_000,
        flush_bytes: 1_000,
    };

    fn apply<P: Proposal>(state: &mut ControllerState, proposal: P) -> P::Answer {
        let shape = proposal.shape();
        let command: Command = proposal.into();
        let kind = command.kind();
        skiff_meta::proposal::read_answer::<P>(kind, &shape, state.apply(&command)).expect("answer")
    }

    fn topic(state: &ControllerState, id: TopicId) -> Topic {
        state.topic(&id).cloned().expect("topic")
    }

    /// A topic created at T0 (archiving or not) with one partition, and broker 1 live.
    fn setup(archive: bool) -> (ControllerState, TopicId) {
        let mut state = ControllerState::default();
        let id = uuid::Uuid::from_u128(7);
        let configs = match archive {
            true => BTreeMap::from([("skiff.archive.enable".into(), "true".into())]),
            false => BTreeMap::new(),
        };
        let created = apply(
            &mut state,
            CreateTopics(vec![NewTopic {
                name: "t".into(),
                id,
                partitions: 1,
                configs,
                created_ms: T0,
            }]),
        );
        assert_eq!(created, vec![Ok(id)]);
        apply(
            &mut state,
            RegisterBroker(BrokerInfo {
                id: 1,
                host: "h".into(),
                port: 9092,
                rack: None,
            }),
        );
        (state, id)
    }

    /// One committed batch of `count` offsets and `len` bytes on partition 0.
    fn write(state: &mut ControllerState, id: TopicId, n: u64, len: u32, count: u32) {
        apply(
            state,
            SegmentCommit {
                object_key: format!("segments/{n}"),
                object_size: u64::from(len),
                broker_id: 1,
                append_time_ms: T0,
                chunks: vec![ChunkCommit {
                    topic_id: id,
                    partition: 0,
                    position: 0,
                    batches: vec![BatchCommit {
                        len,
                        offset_count: count,
                        record_count: count,
                        max_timestamp: T0,
                        producer_id: -1,
                        producer_epoch: -1,
                        base_sequence: -1,
                    }],
                }],
            },
        );
    }

    #[test]
    fn only_archiving_topics_with_new_records_are_due_after_the_interval_or_the_size() {
        let (mut state, id) = setup(false);
        write(&mut state, id, 1, 100, 10);
        assert_eq!(
            backlog(&state, &topic(&state, id), POLICY.flush_bytes),
            None
        );

        let (mut state, id) = setup(true);
        let empty = backlog(&state, &topic(&state, id), POLICY.flush_bytes).expect("archives");
        assert!(!due(
            &state,
            &topic(&state, id),
            empty,
            T0 + 120_000,
            POLICY,
            None
        ));

        write(&mut state, id, 1, 100, 10);
        let small = backlog(&state, &topic(&state, id), POLICY.flush_bytes).expect("archives");
        assert_eq!(
            small,
            Backlog {
                records: 10,
                bytes: 100
            }
        );
        // Small and recent: waits for the interval (counted from creation before any commit).
        assert!(!due(
            &state,
            &topic(&state, id),
            small,
            T0 + 59_999,
            POLICY,
            None
        ));
        assert!(due(
            &state,
            &topic(&state, id),
            small,
            T0 + 60_000,
            POLICY,
            None
        ));

        // Past the flush threshold: due at once.
        for n in 2..=10 {
            write(&mut state, id, n, 100, 10);
        }
        let large = backlog(&state, &topic(&state, id), POLICY.flush_bytes).expect("archives");
        assert_eq!(large.records, 100);
        assert!(large.bytes >= POLICY.flush_bytes);
        assert!(due(&state, &topic(&state, id), large, T0 + 1, POLICY, None));
    }

    #[test]
    fn the_interval_runs_from_the_last_commit_and_only_new_offsets_count() {
        let (mut state, id) = setup(true);
        write(&mut state, id, 1, 100, 10);
        apply(
            &mut state,
            ExpireJobs {
                now_ms: T0 + 100_000,
                job_ids: vec![],
            },
        );
        let committed = apply(
            &mut state,
            CommitArchive {
                topic_id: id,
                expected_metadata: None,
                metadata_location: "file:///a/archive/t/metadata/v1.metadata.json".into(),
                last_offsets: vec![(0, 9)],
                rows: 10,
                data_bytes: 10,
                data_files: 1,
            },
        );
        assert_eq!(committed, Ok(()));
        let nothing = backlog(&state, &topic(&state, id), POLICY.flush_bytes).expect("archives");
        assert_eq!(nothing.records, 0);
        write(&mut state, id, 2, 100, 5);
        let five = backlog(&state, &topic(&state, id), POLICY.flush_bytes).expect("archives");
        assert_eq!(five.records, 5);
        assert!(!due(
            &state,
            &topic(&state, id),
            five,
            T0 + 159_999,
            POLICY,
            None
        ));
        assert!(due(
            &state,
            &topic(&state, id),
            five,
            T0 + 160_000,
            POLICY,
            None
        ));
    }

    #[test]
    fn an_idle_table_gets_upkeep_passes_at_its_upkeep_interval() {
        let (mut state, id) = setup(true);
        write(&mut state, id, 1, 100, 10);
        let commit = |state: &mut ControllerState, at_ms: i64| {
            apply(
                state,
                ExpireJobs {
                    now_ms: at_ms,
                    job_ids: vec![],
                },
            );
            let done = apply(
                state,
                CommitArchive {
                    topic_id: id,
                    expected_metadata: None,
                    metadata_location: "file:///a/archive/t/metadata/v1.metadata.json".into(),
                    last_offsets: vec![(0, 9)],
                    rows: 10,
                    data_bytes: 10,
                    data_files: 1,
                },
            );
            assert_eq!(done, Ok(()));
        };
        // No table yet and nothing new: nothing to keep up.
        let (fresh, fresh_id) = setup(true);
        let none = backlog(&fresh, &topic(&fresh, fresh_id), 1_000).expect("archives");
        assert!(!due(
            &fresh,
            &topic(&fresh, fresh_id),
            none,
            T0 + 10 * UPKEEP_MAX_MS,
            POLICY,
            None
        ));

        commit(&mut state, T0);
        let idle = backlog(&state, &topic(&state, id), POLICY.flush_bytes).expect("archives");
        assert_eq!(idle.records, 0);
        // Without archive retention: hourly, from the last commit or the last upkeep.
        assert_eq!(
            upkeep_interval_ms(&topic(&state, id), POLICY),
            UPKEEP_MAX_MS
        );
        let t = topic(&state, id);
        assert!(!due(&state, &t, idle, T0 + UPKEEP_MAX_MS - 1, POLICY, None));
        assert!(due(&state, &t, idle, T0 + UPKEEP_MAX_MS, POLICY, None));
        let upkept = Some(T0 + UPKEEP_MAX_MS);
        assert!(!due(
            &state,
            &t,
            idle,
            T0 + 2 * UPKEEP_MAX_MS - 1,
            POLICY,
            upkept
        ));
        assert!(due(
            &state,
            &t,
            idle,
            T0 + 2 * UPKEEP_MAX_MS,
            POLICY,
            upkept
        ));

        // With skiff.archive.retention.ms: a tenth of it, but never below the interval.
        let mut with_retention = topic(&state, id);
        with_retention.config = TopicConfig::from_overrides(&BTreeMap::from([
            ("skiff.archive.enable".into(), "true".into()),
            ("skiff.archive.retention.ms".into(), "1200000".into()),
        ]))
        .expect("config");
        assert_eq!(upkeep_interval_ms(&with_retention, POLICY), 120_000);
        with_retention.config = TopicConfig::from_overrides(&BTreeMap::from([
            ("skiff.archive.enable".into(), "true".into()),
            ("skiff.archive.retention.ms".into(), "1000".into()),
        ]))
        .expect("config");
        assert_eq!(
            upkeep_interval_ms(&with_retention, POLICY),
            POLICY.interval_ms
        );
    }

    #[test]
    fn jobs_go_to_the_least_busy_live_broker_within_its_slots() {
        let (mut state, id) = setup(true);
        let jobs = assign(&state, vec![(id, 100)], 1);
        assert_eq!(jobs.len(), 1);
        assert_eq!(jobs[0].broker_id, 1);
        assert_eq!(jobs[0].spec, JobSpec::archive(id, 100));
        let planned = apply(
            &mut state,
            PlanJobs {
                now_ms: T0,
                lease_ms: 1_000,
                jobs,
            },
        );
        assert!(planned[0].is_ok());
        // Broker 1's one slot is taken.
        assert!(assign(&state, vec![(id, 100)], 1).is_empty());
        assert_eq!(assign(&state, vec![(id, 100)], 2).len(), 1);
    }
}
