//! Which index entries a merge job should rewrite: pure functions of the state and the
//! leader's clock, so they are tested without a running controller.
//!
//! A partition's candidate run starts after the point retention would cut now (merging data
//! retention is about to drop would keep it longer) and takes consecutive entries that are
//! - older than `min_age_ms` (by their flush's commit time), so tailing readers keep finding
//!   fresh entries in their caches and merges do not chase the head of the log (entries a job
//!   rewrote are as old as the flushes they came from, so their own commit time does not count);
//! - not settled: entries in a merged object of at least half the target size are left alone;
//! - within `cap` bytes together: the merge target, and a tenth of `retention.bytes` when the
//!   topic sets one, so size-based retention stays as fine-grained as the data allows;
//! - within a timestamp spread of a hundredth of `retention.ms`: retention drops a merged
//!   entry when its newest batch expires, so an older batch in it may stay up to that spread
//!   (1% of the retention time) longer than Kafka would keep it.
//!
//! The output object is indexed in entries of at most [`MERGED_ENTRY_BYTES`].
//!
//! A long-lived partition is mostly settled entries; the leader remembers, per partition, how
//! far from the run's start they reach ([`SettledPrefixes`]), so a round looks at the entries
//! after them rather than every entry of the partition again.
//!
//! A run is worth a job when it has at least two entries and its fresh bytes at least equal
//! the bytes it would rewrite again (earlier merge output), dropping as few of its leading
//! merged entries as that takes, so each byte is rewritten a bounded number of times
//! (geometric growth); a run of fresh entries only also waits for [`MIN_FRESH_RUN`] of them
//! (or a quiet partition, or a limit that ends the run), so a busy partition is not merged
//! two entries at a time; and any run of [`MAX_SMALL_ENTRIES`] entries is worth a job, so the
//! number of small entries per partition stays bounded.

use std::collections::BTreeMap;

use skiff_meta::{ControllerState, JobKind, JobSpec, PartitionLog, PartitionRef, Topic};

/// The largest index entry a merge writes: a fetch reads (and the cache keeps) whole entries,
/// so a merged object of up to the target size is indexed in slices of this size, about what
/// one consumer fetch asks of a partition. Index entries per partition stay one per this many
/// bytes of merged data.
pub(crate) const MERGED_ENTRY_BYTES: u64 = 4 * 1024 * 1024;
/// Small entries a run may gather before it is merged whatever its fresh bytes.
pub(crate) const MAX_SMALL_ENTRIES: u32 = 32;
/// Fresh entries a run of only fresh ones gathers before it is merged (unless the target
/// size or the timestamp spread ends it first).
const MIN_FRESH_RUN: u32 = 16;
/// Retention time over the largest timestamp spread one merged entry may have.
const RETENTION_SPREAD_DIVISOR: i64 = 100;
/// `retention.bytes` over the largest merged entry.
const RETENTION_BYTES_DIVISOR: i64 = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MergePolicy {
    pub(crate) target_bytes: u64,
    pub(crate) min_age_ms: i64,
}

/// The leader's memory of each partition's settled entries: from `from`, every entry before
/// `until` was settled for entries of merged objects of at least `settled_len` bytes. Settled
/// entries never change (no merge takes them, a compaction replaces only a compacted
/// partition's clean part, which its merges never start in) until retention or DeleteRecords
/// drop them, so the next round may start at `until` while its run starts at or after `from`
/// and its settled size is no larger. Not replicated: a new leader starts with none.
#[derive(Debug, Default)]
pub(crate) struct SettledPrefixes {
    by_partition: BTreeMap<PartitionRef, SettledPrefix>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct SettledPrefix {
    from: i64,
    until: i64,
    settled_len: u64,
}

impl SettledPrefixes {
    /// Where a scan from `start` may begin, and from where the settled prefix it finds counts.
    fn scan_from(&self, at: PartitionRef, start: i64, settled_len: u64) -> (i64, i64) {
        match self.by_partition.get(&at) {
            Some(p) if p.from <= start && settled_len <= p.settled_len && start < p.until => {
                (p.until, p.from)
            }
            _ => (start, start),
        }
    }

    fn note(&mut self, at: PartitionRef, prefix: SettledPrefix) {
        self.by_partition.insert(at, prefix);
    }

    /// Drops what is kept for partitions that no longer exist.
    pub(crate) fn forget_gone(&mut self, state: &ControllerState) {
        self.by_partition
            .retain(|at, _| state.partition_log(*at).is_some());
    }

    #[cfg(test)]
    fn until(&self, at: PartitionRef) -> Option<i64> {
        self.by_partition.get(&at).map(|p| p.until)
    }
}

/// The merge to plan for one partition now, if any.
pub(crate) fn merge_for(
    state: &ControllerState,
    topic: &Topic,
    partition: u32,
    now_ms: i64,
    policy: MergePolicy,
    settled: &mut SettledPrefixes,
) -> Option<JobSpec> {
    merge_from(state, topic, partition, now_ms, policy, i64::MIN, settled)
}

/// Like [`merge_for`], over the entries from `from_offset` on only (a compacted partition's
/// dirty entries: compacted ones have gaps a merge may not have).
pub(crate) fn merge_from(
    state: &ControllerState,
    topic: &Topic,
    partition: u32,
    now_ms: i64,
    policy: MergePolicy,
    from_offset: i64,
    settled: &mut SettledPrefixes,
) -> Option<JobSpec> {
    let at = PartitionRef {
        topic_id: topic.id,
        partition,
    };
    if state.job_for(at).is_some() {
        return None;
    }
    let log = topic.partitions.get(usize::try_from(partition).ok()?)?;
    let config = topic.config.effective(state.topic_defaults(None));
    let deletes = config.cleanup_policy().delete;
    let retention_ms = config.retention_ms();
    let retention_bytes = config.retention_bytes();
    let (retention_ms, retention_bytes) = if deletes {
        (retention_ms, retention_bytes)
    } else {
        (-1, -1)
    };
    let cap = cap_for(policy, retention_bytes);
    let max_spread = (retention_ms >= 0).then(|| (retention_ms / RETENTION_SPREAD_DIVISOR).max(0));
    let start = state
        .retention_cut(at, log, now_ms, retention_ms, retention_bytes)
        .unwrap_or(i64::MIN)
        .max(from_offset);
    let limits = RunLimits {
        cap,
        max_spread,
        settled_len: cap / 2,
        young_after_ms: now_ms.saturating_sub(policy.min_age_ms),
        quiet_after_ms: now_ms.saturating_sub(policy.min_age_ms.saturating_mul(2)),
    };
    let (scan_from, origin) = settled.scan_from(at, start, limits.settled_len);
    let stable = state.last_stable_offset(topic.id, partition, log);
    let (run, settled_until) = first_run(state, log, scan_from, stable, &limits);
    settled.note(
        at,
        SettledPrefix {
            from: origin,
            until: settled_until.unwrap_or(scan_from),
            settled_len: limits.settled_len,
        },
    );
    let run = run?;
    Some(JobSpec {
        kind: JobKind::Merge,
        partition: at,
        first_offset: run.first_offset,
        last_offset: run.last_offset,
        source_entries: run.entries,
        source_bytes: run.bytes,
        max_entry_bytes: u32::try_from(cap.min(MERGED_ENTRY_BYTES)).unwrap_or(u32::MAX),
    })
}

/// The most bytes one merge of `topic`'s partitions takes (and half of it, the size at which
/// its merged objects are settled).
pub(crate) fn merge_cap(state: &ControllerState, topic: &Topic, policy: MergePolicy) -> u64 {
    let config = topic.config.effective(state.topic_defaults(None));
    let retention_bytes = match config.cleanup_policy().delete {
        true => config.retention_bytes(),
        false => -1,
    };
    cap_for(policy, retention_bytes)
}

/// The merge target, and a tenth of `retention.bytes` when the topic sets one.
fn cap_for(policy: MergePolicy, retention_bytes: i64) -> u64 {
    let cap = policy.target_bytes.min(u64::from(u32::MAX));
    match retention_bytes {
        bytes if bytes >= 0 => {
            let tenth = u64::try_from(bytes / RETENTION_BYTES_DIVISOR).unwrap_or(0);
            cap.min(tenth.max(1))
        }
        _ => cap,
    }
}

struct RunLimits {
    cap: u64,
    max_spread: Option<i64>,
    /// Entries of a merged object at least this large are never merged again.
    settled_len: u64,
    /// Entries whose object was committed after this are too young.
    young_after_ms: i64,
    /// A run whose newest flush was committed by this may wait no longer for more entries.
    quiet_after_ms: i64,
}

#[derive(Debug, Clone, Copy, Default)]
struct Run {
    first_offset: i64,
    last_offset: i64,
    entries: u32,
    bytes: u64,
    /// Bytes of earlier merge output in the run.
    rewritten_bytes: u64,
    /// Commit time of the newest flush in the run (of its fresh entries).
    newest_flush_ms: i64,
    min_timestamp: i64,
    max_timestamp: i64,
}

impl Run {
    /// Worth a job by the geometric rule: the fresh bytes at least match the bytes rewritten
    /// again, so each byte is rewritten a bounded number of times. A run of fresh entries only
    /// waits for [`MIN_FRESH_RUN`] of them unless it can grow no more (`ended`) or its
    /// partition went quiet (no flush for twice the minimum age): merging two at a time would
    /// cost a job per partition per flush or two, which no planner keeps up with over thousands
    /// of partitions.
    fn pays_for_itself(&self, limits: &RunLimits, ended: bool) -> bool {
        let fresh = self.bytes - self.rewritten_bytes;
        let quiet = self.newest_flush_ms <= limits.quiet_after_ms;
        self.entries >= 2
            && fresh >= self.rewritten_bytes
            && (self.rewritten_bytes > 0 || ended || quiet || self.entries >= MIN_FRESH_RUN)
    }
}

/// One entry of the run being gathered.
#[derive(Debug, Clone, Copy)]
struct Member {
    base_offset: i64,
    last_offset: i64,
    len: u64,
    rewritten: bool,
    max_timestamp: i64,
    /// When its object was committed.
    committed_ms: i64,
}

fn run_of(members: &[Member]) -> Option<Run> {
    let (first, last) = (members.first()?, members.last()?);
    let mut run = Run {
        first_offset: first.base_offset,
        last_offset: last.last_offset,
        min_timestamp: i64::MAX,
        max_timestamp: i64::MIN,
        newest_flush_ms: i64::MIN,
        ..Run::default()
    };
    for m in members {
        run.entries += 1;
        run.bytes += m.len;
        if m.rewritten {
            run.rewritten_bytes += m.len;
        } else {
            run.newest_flush_ms = run.newest_flush_ms.max(m.committed_ms);
        }
        run.min_timestamp = run.min_timestamp.min(m.max_timestamp);
        run.max_timestamp = run.max_timestamp.max(m.max_timestamp);
    }
    Some(run)
}

/// The part of a gathered run worth a job, if any (`ended`: the run can grow no more, its next
/// entry being too large, too far apart in time or settled): the whole run when it pays for
/// itself;
/// otherwise the run without as few of its leading rewritten entries as it takes for the rest
/// to pay for itself (fresh entries behind a large merged one are merged among themselves
/// rather than rewriting it each time; merged entries join once as many fresh bytes come, so
/// they grow geometrically); otherwise the whole run once it holds [`MAX_SMALL_ENTRIES`]
/// entries, so small entries stay bounded in number.
fn worth_merging(members: &[Member], limits: &RunLimits, ended: bool) -> Option<Run> {
    let whole = run_of(members)?;
    if whole.pays_for_itself(limits, ended) {
        return Some(whole);
    }
    let leading = members.iter().take_while(|m| m.rewritten).count();
    for skip in 1..=leading {
        if let Some(tail) = run_of(&members[skip..]).filter(|r| r.pays_for_itself(limits, ended)) {
            return Some(tail);
        }
    }
    (whole.entries >= MAX_SMALL_ENTRIES).then_some(whole)
}

/// The first run worth merging from `start` on, before the last stable offset `stable`, and
/// the end of the settled entries right from `start` (`None` when the first entry is not
/// settled).
fn first_run(
    state: &ControllerState,
    log: &PartitionLog,
    start: i64,
    stable: i64,
    limits: &RunLimits,
) -> (Option<Run>, Option<i64>) {
    let mut members: Vec<Member> = Vec::new();
    let mut settled_until: Option<i64> = None;
    let mut in_prefix = true;
    for entry in log.entries_from(start) {
        // Never into an open transaction: PlanJobs refuses it (Kafka's cleaner stops at the
        // first unstable offset too).
        if entry.last_offset >= stable {
            break;
        }
        // A transaction marker has no object: it joins a run as a fresh entry of its 78
        // bytes, committed at its own time, and the merge writes its control batch.
        let (rewritten, created_ms, object_size) = match entry.as_marker() {
            Some(marker) => (false, marker.timestamp, u64::from(entry.len)),
            None => {
                let Some(object) = state.object(entry.object_id) else {
                    break;
                };
                let rewritten = state.object_has_real_offsets(entry.object_id);
                (rewritten, object.created_ms, object.size)
            }
        };
        // The minimum age keeps merges off the head of the log, which tailing readers have
        // cached; an entry a job already rewrote holds data at least that old, whenever the
        // job committed, so it may join the next run at once.
        if !rewritten && created_ms > limits.young_after_ms {
            break;
        }
        let len = u64::from(entry.len);
        if rewritten && object_size >= limits.settled_len {
            if in_prefix {
                settled_until = Some(entry.last_offset.saturating_add(1));
            }
            if let Some(r) = worth_merging(&members, limits, true) {
                return (Some(r), settled_until);
            }
            members.clear();
            continue;
        }
        in_prefix = false;
        let ends_run = run_of(&members).is_some_and(|r| {
            let spread =
                r.max_timestamp.max(entry.max_timestamp) - r.min_timestamp.min(entry.max_timestamp);
            r.bytes + len > limits.cap || limits.max_spread.is_some_and(|max| spread > max)
        });
        if ends_run {
            if let Some(r) = worth_merging(&members, limits, true) {
                return (Some(r), settled_until);
            }
            // Not worth a job: a new run starts here.
            members.clear();
        }
        members.push(Member {
            base_offset: entry.base_offset,
            last_offset: entry.last_offset,
            len,
            rewritten,
            max_timestamp: entry.max_timestamp,
            committed_ms: created_ms,
        });
    }
    (worth_merging(&members, limits, false), settled_until)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use skiff_meta::*;

    use super::*;
    use crate::leader::jobs::plan_round;

    const T0: i64 = 1_700_000_000_000;
    const MINUTE: i64 = 60_000;
    const HOUR: i64 = 60 * MINUTE;
    const POLICY: MergePolicy = MergePolicy {
        target_bytes: 10_000,
        min_age_ms: 5 * MINUTE,
    };

    fn topic_id() -> TopicId {
        uuid::Uuid::from_u128(7)
    }

    fn at(partition: u32) -> PartitionRef {
        PartitionRef {
            topic_id: topic_id(),
            partition,
        }
    }

    fn apply<P: Proposal>(state: &mut ControllerState, proposal: P) -> P::Answer {
        state.execute(proposal).expect("applies")
    }

    /// A state with topic "t" (`partitions` partitions, the given configs) and live brokers.
    fn state(partitions: u32, configs: &[(&str, &str)], brokers: &[i32]) -> ControllerState {
        let mut state = ControllerState::default();
        let created = apply(
            &mut state,
            CreateTopics(vec![NewTopic {
                name: "t".into(),
                id: topic_id(),
                partitions,
                configs: configs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect::<BTreeMap<_, _>>(),
                created_ms: T0,
            }]),
        );
        assert_eq!(created, vec![Ok(topic_id())]);
        for id in brokers {
            apply(
                &mut state,
                RegisterBroker(BrokerInfo {
                    id: *id,
                    host: "h".into(),
                    port: 9092,
                    rack: None,
                }),
            );
        }
        state
    }

    /// One flush at `time_ms` holding a 10-offset batch of `len` bytes for each partition,
    /// stamped `time_ms`: one index entry per partition in a shared object.
    fn flush(state: &mut ControllerState, time_ms: i64, partitions: &[u32], len: u32) {
        let chunks = partitions
            .iter()
            .enumerate()
            .map(|(i, p)| ChunkCommit {
                topic_id: topic_id(),
                partition: *p,
                position: i as u64 * u64::from(len),
                batches: vec![BatchCommit {
                    len,
                    offset_count: 10,
                    record_count: 10,
                    max_timestamp: time_ms,
                    producer_id: -1,
                    producer_epoch: -1,
                    base_sequence: -1,
                }],
            })
            .collect();
        apply(
            state,
            SegmentCommit {
                object_key: format!("segments/{time_ms}-{}", state.object_count()),
                object_size: 1 << 30,
                broker_id: 1,
                append_time_ms: time_ms,
                chunks,
            },
        );
    }

    fn merge(state: &ControllerState, partition: u32, now_ms: i64) -> Option<JobSpec> {
        let topic = state.topic(&topic_id()).expect("topic");
        merge_for(
            state,
            topic,
            partition,
            now_ms,
            POLICY,
            &mut SettledPrefixes::default(),
        )
    }

    fn entries(state: &ControllerState, partition: u32) -> usize {
        state
            .partition_log(at(partition))
            .expect("partition")
            .entries()
            .len()
    }

    /// Runs a planned merge to its commit as a broker would: one output entry.
    fn commit_merge(state: &mut ControllerState, spec: JobSpec, now_ms: i64) {
        let planned = apply(
            state,
            PlanJobs {
                now_ms,
                lease_ms: 30_000,
                jobs: vec![PlannedJob { spec, broker_id: 1 }],
            },
        );
        let job_id = planned[0].clone().expect("planned");
        let log = state.partition_log(spec.partition).expect("partition");
        let replaced: Vec<EntryRef> = log
            .entries_from(spec.first_offset)
            .take(spec.source_entries as usize)
            .map(|e| EntryRef {
                base_offset: e.base_offset,
                last_offset: e.last_offset,
                object_id: e.object_id,
                position: e.position,
            })
            .collect();
        let max_timestamp = log
            .entries_from(spec.first_offset)
            .take(spec.source_entries as usize)
            .map(|e| e.max_timestamp)
            .max()
            .expect("entries");
        let len = u32::try_from(spec.source_bytes).expect("small");
        let committed = apply(
            state,
            CommitJob {
                job_id,
                broker_id: 1,
                now_ms,
                replaced,
                output: Some(JobOutput {
                    object_key: format!("segments/merged-{job_id}"),
                    object_size: spec.source_bytes + 100,
                    entries: vec![OutputEntry {
                        base_offset: spec.first_offset,
                        last_offset: spec.last_offset,
                        position: 12,
                        len,
                        max_timestamp,
                    }],
                }),
            },
        );
        assert!(committed.is_ok(), "{committed:?}");
    }

    #[test]
    fn a_merged_entry_joins_the_next_run_without_waiting_the_minimum_age_again() {
        let mut state = state(1, &[], &[1]);
        for i in 0..32 {
            flush(&mut state, T0 + i * 100, &[0], 100);
        }
        let now = T0 + 5 * MINUTE + 1500;
        let first = merge(&state, 0, now).expect("the first sixteen are old");
        assert_eq!(first.source_entries, 16);
        commit_merge(&mut state, first, now);
        // The other sixteen age past the minimum a moment later: the entry merged just now
        // holds data as old as theirs, so it joins their run (1,600 fresh bytes against 1,600
        // rewritten).
        let next = merge(&state, 0, now + 1600).expect("merged entry and fresh ones");
        assert_eq!(
            (next.first_offset, next.last_offset, next.source_entries),
            (0, 319, 17)
        );
    }

    /// Ends an (empty) transaction on partition 0 at `now_ms`: one marker entry.
    fn marker(state: &mut ControllerState, now_ms: i64) {
        let pe = apply(
            state,
            InitTxnProducer {
                transactional_id: "app".into(),
                timeout_ms: 60_000,
                current: None,
                now_ms,
            },
        )
        .expect("producer");
        let producer = TxnProducer {
            transactional_id: "app".into(),
            producer_id: pe.id,
            epoch: pe.epoch,
        };
        apply(
            state,
            AddPartitionsToTxn {
                producer: producer.clone(),
                partitions: vec![(topic_id(), 0)],
                now_ms,
            },
        )
        .expect("added");
        let ended = apply(
            state,
            EndTxn {
                producer,
                commit: true,
                now_ms,
            },
        );
        assert_eq!(ended.expect("ended").markers.len(), 1);
    }

    /// Opens a transaction of "open" on partition 0 whose first batch (10 offsets) is
    /// committed at `now_ms`.
    fn open_transaction(state: &mut ControllerState, now_ms: i64) {
        let pe = apply(
            state,
            InitTxnProducer {
                transactional_id: "open".into(),
                timeout_ms: 60_000,
                current: None,
                now_ms,
            },
        )
        .expect("producer");
        let producer = TxnProducer {
            transactional_id: "open".into(),
            producer_id: pe.id,
            epoch: pe.epoch,
        };
        apply(
            state,
            AddPartitionsToTxn {
                producer,
                partitions: vec![(topic_id(), 0)],
                now_ms,
            },
        )
        .expect("added");
        apply(
            state,
            SegmentCommit {
                object_key: format!("segments/txn-{now_ms}"),
                object_size: 1 << 30,
                broker_id: 1,
                append_time_ms: now_ms,
                chunks: vec![ChunkCommit {
                    topic_id: topic_id(),
                    partition: 0,
                    position: 0,
                    batches: vec![BatchCommit {
                        len: 100,
                        offset_count: 10,
                        record_count: 10,
                        max_timestamp: now_ms,
                        producer_id: pe.id,
                        producer_epoch: pe.epoch,
                        base_sequence: 0,
                    }],
                }],
            },
        );
    }

    #[test]
    fn a_transaction_marker_joins_a_run_and_an_open_transaction_ends_it() {
        let mut state = state(1, &[], &[1]);
        for i in 0..3 {
            flush(&mut state, T0 + i * 1000, &[0], 100);
        }
        marker(&mut state, T0 + 3000);
        for i in 4..7 {
            flush(&mut state, T0 + i * 1000, &[0], 100);
        }
        open_transaction(&mut state, T0 + 7000);
        for i in 8..10 {
            flush(&mut state, T0 + i * 1000, &[0], 100);
        }
        // The partition is quiet: one run across the marker (offset 30), up to the open
        // transaction's first offset (61), never past it.
        let now = T0 + HOUR;
        let first = merge(&state, 0, now).expect("the run up to the open transaction");
        assert_eq!(
            (first.first_offset, first.last_offset, first.source_entries),
            (0, 60, 7)
        );
        assert_eq!(first.source_bytes, 6 * 100 + 78);
        commit_merge(&mut state, first, now);
        assert_eq!(merge(&state, 0, now), None, "the rest is behind the LSO");
    }

    #[test]
    fn entries_younger_than_the_minimum_age_are_left_alone() {
        let mut state = state(1, &[], &[1]);
        for i in 0..4 {
            flush(&mut state, T0 + i * 1000, &[0], 100);
        }
        assert_eq!(merge(&state, 0, T0 + MINUTE), None);
        // Five minutes after the first flush nothing is old enough yet (a millisecond short).
        assert_eq!(merge(&state, 0, T0 + 5 * MINUTE - 1), None);
        // The first two are old, but a run of fresh entries waits for more of them...
        assert_eq!(merge(&state, 0, T0 + 5 * MINUTE + 1000), None);
        // ...or for its partition to go quiet: no flush for twice the minimum age.
        assert_eq!(merge(&state, 0, T0 + 10 * MINUTE + 2999), None);
        let all = merge(&state, 0, T0 + 10 * MINUTE + 3000).expect("quiet");
        assert_eq!(
            (all.first_offset, all.last_offset, all.source_entries),
            (0, 39, 4)
        );
        assert_eq!(all.kind, JobKind::Merge);
        assert_eq!(all.max_entry_bytes, 10_000);
    }

    #[test]
    fn a_busy_partition_merges_its_old_entries_sixteen_at_a_time() {
        let mut state = state(1, &[], &[1]);
        for i in 0..20 {
            flush(&mut state, T0 + i * 100, &[0], 100);
        }
        // Fifteen old entries wait; the sixteenth makes a run.
        assert_eq!(merge(&state, 0, T0 + 5 * MINUTE + 1400), None);
        let run = merge(&state, 0, T0 + 5 * MINUTE + 1500).expect("sixteen old entries");
        assert_eq!(
            (run.first_offset, run.source_entries, run.source_bytes),
            (0, 16, 1600)
        );
    }

    #[test]
    fn a_run_stops_at_the_target_size_and_a_lone_entry_is_not_merged() {
        let mut state = state(1, &[], &[1]);
        for i in 0..5 {
            flush(&mut state, T0 + i, &[0], 4_000);
        }
        let spec = merge(&state, 0, T0 + HOUR).expect("a run");
        // 4,000 + 4,000 fit in 10,000; a third would not.
        assert_eq!((spec.source_entries, spec.source_bytes), (2, 8_000));
        let mut big = self::state(1, &[], &[1]);
        flush(&mut big, T0, &[0], 20_000);
        flush(&mut big, T0 + 1, &[0], 20_000);
        assert_eq!(
            merge(&big, 0, T0 + HOUR),
            None,
            "each entry alone is the target"
        );
    }

    #[test]
    fn merges_never_take_what_retention_would_cut_now_or_span_more_than_a_hundredth_of_it() {
        // retention.ms = 100 minutes: spread at most 1 minute per merged entry.
        let mut state = state(1, &[("retention.ms", "6000000")], &[1]);
        for i in 0..3 {
            flush(&mut state, T0 + i * 20_000, &[0], 100);
        }
        for i in 0..3 {
            flush(&mut state, T0 + 10 * MINUTE + i * 20_000, &[0], 100);
        }
        let spec = merge(&state, 0, T0 + 20 * MINUTE).expect("a run");
        assert_eq!((spec.first_offset, spec.source_entries), (0, 3));
        // At T0 + 100 min + 30 s retention would drop the first two entries: they are not
        // merged, and the third alone is not worth a job, so the next window is merged.
        let spec = merge(&state, 0, T0 + 100 * MINUTE + 30_000).expect("a run");
        assert_eq!((spec.first_offset, spec.source_entries), (30, 3));
    }

    #[test]
    fn retention_bytes_caps_a_merged_entry_at_a_tenth() {
        let mut state = state(1, &[("retention.bytes", "3000")], &[1]);
        for i in 0..6 {
            flush(&mut state, T0 + i, &[0], 100);
        }
        let spec = merge(&state, 0, T0 + HOUR).expect("a run");
        assert_eq!((spec.source_entries, spec.max_entry_bytes), (3, 300));
    }

    #[test]
    fn merged_output_is_rewritten_only_when_as_many_fresh_bytes_joined_it() {
        // Steps of twenty minutes: each step's partition is quiet (no flush for twice the
        // minimum age), and one run's timestamps stay within 1% of the 7-day retention.
        const STEP: i64 = 20 * MINUTE;
        let mut state = state(1, &[], &[1]);
        for i in 0..4 {
            flush(&mut state, T0 + i, &[0], 100);
        }
        let spec = merge(&state, 0, T0 + STEP).expect("a run");
        commit_merge(&mut state, spec, T0 + STEP);
        assert_eq!(entries(&state, 0), 1);
        // 400 merged bytes and 300 fresh: the fresh entries are merged on their own.
        for i in 0..3 {
            flush(&mut state, T0 + STEP + i, &[0], 100);
        }
        let spec = merge(&state, 0, T0 + 2 * STEP).expect("the fresh entries");
        assert_eq!((spec.first_offset, spec.source_entries), (40, 3));
        commit_merge(&mut state, spec, T0 + 2 * STEP);
        assert_eq!(entries(&state, 0), 2);
        // One more fresh entry rewrites neither 400 nor 300 merged bytes, and is no run alone.
        flush(&mut state, T0 + 2 * STEP + 1, &[0], 100);
        assert_eq!(merge(&state, 0, T0 + 3 * STEP), None);
        // With 300 fresh bytes the newer merged entry (300) joins them, not the older (400).
        for i in 2..4 {
            flush(&mut state, T0 + 2 * STEP + i, &[0], 100);
        }
        let spec = merge(&state, 0, T0 + 3 * STEP).expect("as many fresh bytes as the newer");
        assert_eq!((spec.first_offset, spec.source_entries), (40, 4));
        commit_merge(&mut state, spec, T0 + 3 * STEP);
        assert_eq!(entries(&state, 0), 2);
        // 400 and 600 merged bytes: 1,000 fresh ones make the whole run pay for itself.
        for i in 0..10 {
            flush(&mut state, T0 + 3 * STEP + i, &[0], 100);
        }
        let spec = merge(&state, 0, T0 + 4 * STEP).expect("everything");
        assert_eq!((spec.first_offset, spec.source_entries), (0, 12));
        commit_merge(&mut state, spec, T0 + 4 * STEP);
        assert_eq!(entries(&state, 0), 1);
        // A merged object of half the target or more is settled: never merged again.
        let mut settled = self::state(1, &[], &[1]);
        for i in 0..50 {
            flush(&mut settled, T0 + i, &[0], 100);
        }
        let spec = merge(&settled, 0, T0 + HOUR).expect("a run");
        commit_merge(&mut settled, spec, T0 + HOUR);
        for i in 0..40 {
            flush(&mut settled, T0 + HOUR + i, &[0], 100);
        }
        let spec = merge(&settled, 0, T0 + 2 * HOUR).expect("the fresh entries");
        assert_eq!((spec.first_offset, spec.source_entries), (500, 40));
    }

    #[test]
    fn rounds_start_after_the_settled_entries_they_have_seen() {
        let mut state = state(1, &[], &[1]);
        // Three settled objects (5,000 bytes each: half the target), then three fresh entries.
        for round in 0..3 {
            let at_ms = T0 + round * HOUR;
            for i in 0..50 {
                flush(&mut state, at_ms + i, &[0], 100);
            }
            let spec = merge(&state, 0, at_ms + 10 * MINUTE).expect("the new entries");
            assert_eq!(spec.first_offset, round * 500);
            commit_merge(&mut state, spec, at_ms + 10 * MINUTE);
        }
        for i in 0..3 {
            flush(&mut state, T0 + 5 * HOUR + i, &[0], 100);
        }
        let topic = state.topic(&topic_id()).expect("topic");
        let now = T0 + 6 * HOUR;
        let mut settled = SettledPrefixes::default();
        let first = merge_for(&state, topic, 0, now, POLICY, &mut settled);
        assert_eq!(settled.until(at(0)), Some(1500));
        // The next round starts at offset 1,500 and plans the same run.
        assert_eq!(settled.scan_from(at(0), i64::MIN, 5_000), (1500, i64::MIN));
        let again = merge_for(&state, topic, 0, now, POLICY, &mut settled);
        assert_eq!(again, first);
        let spec = first.expect("the fresh entries");
        assert_eq!((spec.first_offset, spec.source_entries), (1500, 3));
        // A larger target unsettles the objects: the memory is not used (the scan starts at
        // the log start and finds no settled prefix), and plans what a fresh look would.
        let larger = MergePolicy {
            target_bytes: 20_000,
            ..POLICY
        };
        let planned = merge_for(&state, topic, 0, now, larger, &mut settled);
        assert!(settled.until(at(0)).is_some_and(|u| u < 500), "{settled:?}");
        let fresh = merge_for(
            &state,
            topic,
            0,
            now,
            larger,
            &mut SettledPrefixes::default(),
        );
        assert_eq!(planned, fresh);
        // A deleted topic's partitions are forgotten.
        apply(&mut state, DeleteTopics(vec![topic_id()]));
        settled.forget_gone(&state);
        assert_eq!(settled.until(at(0)), None);
    }

    #[test]
    fn small_fresh_entries_behind_a_merged_one_are_merged_among_themselves() {
        let mut state = state(1, &[], &[1]);
        for i in 0..20 {
            flush(&mut state, T0 + i, &[0], 100);
        }
        let spec = merge(&state, 0, T0 + HOUR).expect("a run");
        commit_merge(&mut state, spec, T0 + HOUR);
        // 2,000 merged bytes and 30 fresh entries of 10 bytes: merging all would rewrite the
        // 2,000 bytes for 300 new ones; the fresh entries are merged on their own instead.
        for i in 0..30 {
            flush(&mut state, T0 + HOUR + i, &[0], 10);
        }
        let spec = merge(&state, 0, T0 + 2 * HOUR).expect("the fresh entries");
        assert_eq!(
            (spec.first_offset, spec.source_entries, spec.source_bytes),
            (200, 30, 300)
        );
    }

    #[test]
    fn many_small_merged_entries_are_merged_whatever_their_bytes() {
        const LIMITS: RunLimits = RunLimits {
            cap: 1 << 20,
            max_spread: None,
            settled_len: 1 << 19,
            young_after_ms: T0,
            quiet_after_ms: T0 - 1,
        };
        let member = |i: i64| Member {
            base_offset: i * 10,
            last_offset: i * 10 + 9,
            len: 10,
            rewritten: true,
            max_timestamp: T0,
            committed_ms: T0,
        };
        let members: Vec<Member> = (0..i64::from(MAX_SMALL_ENTRIES)).map(member).collect();
        // No fresh bytes: never worth it by the geometric rule, but 32 entries are too many.
        let run = worth_merging(&members, &LIMITS, false).expect("32 entries");
        assert_eq!((run.first_offset, run.entries), (0, MAX_SMALL_ENTRIES));
        assert!(
            worth_merging(&members[1..], &LIMITS, false).is_none(),
            "31 wait"
        );
        // A fresh entry behind them is joined by the last merged one, as large as it.
        let mut with_fresh = members[1..].to_vec();
        with_fresh.push(Member {
            rewritten: false,
            ..member(40)
        });
        let run = worth_merging(&with_fresh, &LIMITS, false).expect("the last two");
        assert_eq!((run.first_offset, run.entries), (310, 2));
    }

    #[test]
    fn a_round_bundles_merges_per_broker_until_the_object_would_be_settled() {
        let mut state = state(3, &[], &[1, 2]);
        for i in 0..3 {
            flush(&mut state, T0 + i, &[0, 1, 2], 100);
        }
        let mut cursor = None;
        let mut settled = SettledPrefixes::default();
        // A roomy target: one bundle on the first broker takes every partition's merge.
        let roomy = MergePolicy {
            target_bytes: 1 << 20,
            ..POLICY
        };
        let jobs = plan_round(|| &state, T0 + HOUR, roomy, 1, &mut cursor, &mut settled);
        let placed: Vec<(u32, i32)> = jobs
            .iter()
            .map(|j| (j.spec.partition.partition, j.broker_id))
            .collect();
        assert_eq!(placed, vec![(0, 1), (1, 1), (2, 1)]);
        // At a 10,000-byte target an object of 5,000 bytes is settled: the third merge (and its
        // chunk's framing) would make the bundle that large, so it opens the next broker's.
        let mut cursor = None;
        let jobs = plan_round(|| &state, T0 + HOUR, POLICY, 1, &mut cursor, &mut settled);
        let placed: Vec<(u32, i32)> = jobs
            .iter()
            .map(|j| (j.spec.partition.partition, j.broker_id))
            .collect();
        assert_eq!(placed, vec![(0, 1), (1, 1), (2, 2)]);
        assert_eq!(cursor, Some(at(2)));
        // Busy brokers get nothing more.
        apply(
            &mut state,
            PlanJobs {
                now_ms: T0 + HOUR,
                lease_ms: 30_000,
                jobs: jobs.clone(),
            },
        );
        assert!(plan_round(|| &state, T0 + HOUR, POLICY, 1, &mut cursor, &mut settled).is_empty());
        // A second slot each takes no second bundle: a broker runs one at a time.
        assert!(plan_round(|| &state, T0 + HOUR, POLICY, 2, &mut cursor, &mut settled).is_empty());
        // No live broker, no job.
        let lonely = self::state(1, &[], &[]);
        assert!(plan_round(|| &lonely, T0 + HOUR, POLICY, 1, &mut None, &mut settled).is_empty());
    }
}
