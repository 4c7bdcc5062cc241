//! Which partitions key compaction should clean, and over which entries: pure functions of the
//! state and the leader's clock, like the merge planning beside it.
//!
//! A compacted partition (`cleanup.policy` with `compact`) is cleaned from its log start: the
//! entries before its cleaner checkpoint (`cleaned_until`) are clean (each key there at most
//! once), the ones after are dirty (never compacted). A job covers the clean entries and the
//! consecutive dirty ones whose newest record is at least `min.compaction.lag.ms` old and that
//! the archive has taken. It is due when those dirty bytes are at least
//! `min.cleanable.dirty.ratio` of the job's bytes, or when its oldest dirty entry's newest
//! record is older than `max.compaction.lag.ms`. Tombstones older than `delete.retention.ms`
//! at planning time go away in the job.
//!
//! The job's size is not capped here: however large the clean part grows, every compaction
//! still reaches the new data (an earlier version capped the run at the merge target from
//! the log start, so a clean part larger than that was never compacted again). The job keeps
//! its memory bounded itself: its key map holds the dirty keys only and stops at its cap, and
//! it rewrites the run window by window into objects of at most the merge target (see
//! `skiff_jobs::compact`, which says why this design and not sliding windows).
//!
//! Between compactions a compacted partition's dirty entries are merged as any partition's
//! are, but never its compacted ones: those have gaps, and a merge keeps every offset.

use skiff_meta::{ControllerState, JobKind, JobSpec, PartitionRef, Topic};

use super::merge_plan::{MERGED_ENTRY_BYTES, MergePolicy, SettledPrefixes, merge_for, merge_from};

/// The job to plan for one partition now, if any: a compaction for compacted topics (or a
/// merge of their dirty entries when no compaction is due), a merge for the others.
pub(crate) fn job_for(
    state: &ControllerState,
    topic: &Topic,
    partition: u32,
    now_ms: i64,
    policy: MergePolicy,
    settled: &mut SettledPrefixes,
) -> Option<JobSpec> {
    // Compaction is planned cluster-wide: the controller's view, no broker's overrides.
    if !topic
        .config
        .effective(state.topic_defaults(None))
        .cleanup_policy()
        .compact
    {
        return merge_for(state, topic, partition, now_ms, policy, settled);
    }
    let at = PartitionRef {
        topic_id: topic.id,
        partition,
    };
    if state.job_for(at).is_some() {
        return None;
    }
    compaction_for(state, topic, partition, now_ms, policy.target_bytes).or_else(|| {
        let dirty_from = state.cleaned_until(at);
        merge_from(state, topic, partition, now_ms, policy, dirty_from, settled)
    })
}

/// The compaction due in one partition now, if any, writing objects of at most
/// `object_bytes`. Costs the partition's dirty entries, not its clean ones.
pub(crate) fn compaction_for(
    state: &ControllerState,
    topic: &Topic,
    partition: u32,
    now_ms: i64,
    object_bytes: u64,
) -> Option<JobSpec> {
    let config = topic.config.effective(state.topic_defaults(None));
    let at = PartitionRef {
        topic_id: topic.id,
        partition,
    };
    let log = topic.partitions.get(usize::try_from(partition).ok()?)?;
    let first = log.entries().next()?;
    let dirty_from = state.cleaned_until(at);
    let settled_before = now_ms.saturating_sub(config.min_compaction_lag_ms().max(0));
    // Records the archive has not taken yet are never compacted away (PlanJobs refuses it).
    let archive_hold = state.archive_hold(at).unwrap_or(i64::MAX);
    // Nor an open transaction's, which may still abort (Kafka stops at the first unstable
    // offset); PlanJobs refuses it too.
    let stable = state.last_stable_offset(topic.id, partition, log);
    // Every entry before the checkpoint is clean: a compaction's output ends before it.
    let dirty = log.entries_from(dirty_from);
    let clean_entries = log.entries().len() - dirty.len();
    let mut clean_bytes = log.size_bytes();
    let mut run = Run::default();
    for entry in dirty {
        let len = u64::from(entry.len);
        clean_bytes = clean_bytes.saturating_sub(len);
        if run.stopped
            || entry.last_offset >= stable
            || entry.max_timestamp > settled_before
            || entry.last_offset >= archive_hold
        {
            run.stopped = true;
            continue;
        }
        run.last_offset = entry.last_offset;
        run.entries += 1;
        run.dirty_bytes += len;
        run.oldest_dirty_ms = Some(
            run.oldest_dirty_ms
                .map_or(entry.max_timestamp, |t| t.min(entry.max_timestamp)),
        );
    }
    let oldest_dirty_ms = run.oldest_dirty_ms?;
    let bytes = clean_bytes + run.dirty_bytes;
    let dirty_ratio = run.dirty_bytes as f64 / bytes.max(1) as f64;
    let overdue = oldest_dirty_ms < now_ms.saturating_sub(config.max_compaction_lag_ms());
    if dirty_ratio < config.min_cleanable_dirty_ratio() && !overdue {
        return None;
    }
    let object_bytes = object_bytes.clamp(1, u64::from(u32::MAX));
    Some(JobSpec {
        kind: JobKind::CompactLog {
            tombstone_cutoff_ms: now_ms.saturating_sub(config.delete_retention_ms()),
            object_bytes,
        },
        partition: at,
        first_offset: first.base_offset,
        last_offset: run.last_offset,
        source_entries: u32::try_from(clean_entries)
            .unwrap_or(u32::MAX)
            .saturating_add(run.entries),
        source_bytes: bytes,
        max_entry_bytes: u32::try_from(object_bytes.min(MERGED_ENTRY_BYTES)).unwrap_or(u32::MAX),
    })
}

/// The dirty entries a compaction would take.
#[derive(Debug, Default)]
struct Run {
    last_offset: i64,
    entries: u32,
    dirty_bytes: u64,
    oldest_dirty_ms: Option<i64>,
    /// An entry too young or not archived yet ended the run.
    stopped: bool,
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use skiff_meta::*;

    use super::*;

    const T0: i64 = 1_700_000_000_000;
    const MINUTE: i64 = 60_000;
    const POLICY: MergePolicy = MergePolicy {
        target_bytes: 10_000,
        min_age_ms: MINUTE,
    };

    fn topic_id() -> TopicId {
        uuid::Uuid::from_u128(13)
    }

    fn at() -> PartitionRef {
        PartitionRef {
            topic_id: topic_id(),
            partition: 0,
        }
    }

    fn apply<P: Proposal>(state: &mut ControllerState, proposal: P) -> P::Answer {
        state.execute(proposal).expect("applies")
    }

    fn state(configs: &[(&str, &str)]) -> ControllerState {
        let mut state = ControllerState::default();
        let created = apply(
            &mut state,
            CreateTopics(vec![NewTopic {
                name: "t".into(),
                id: topic_id(),
                partitions: 1,
                configs: configs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect::<BTreeMap<_, _>>(),
                created_ms: T0,
            }]),
        );
        assert_eq!(created, vec![Ok(topic_id())]);
        apply(
            &mut state,
            RegisterBroker(BrokerInfo {
                id: 1,
                host: "h".into(),
                port: 9092,
                rack: None,
            }),
        );
        state
    }

    /// One flushed entry of 10 offsets and `len` bytes whose records are stamped `time_ms`.
    fn flush(state: &mut ControllerState, time_ms: i64, len: u32) {
        let key = format!("segments/{time_ms}-{}", state.object_count());
        apply(
            state,
            SegmentCommit {
                object_key: key,
                object_size: 1 << 20,
                broker_id: 1,
                append_time_ms: time_ms,
                chunks: vec![ChunkCommit {
                    topic_id: topic_id(),
                    partition: 0,
                    position: 0,
                    batches: vec![BatchCommit {
                        len,
                        offset_count: 10,
                        record_count: 10,
                        max_timestamp: time_ms,
                        producer_id: -1,
                        producer_epoch: -1,
                        base_sequence: -1,
                    }],
                }],
            },
        );
    }

    fn plan(state: &ControllerState, now_ms: i64) -> Option<JobSpec> {
        let topic = state.topic(&topic_id()).expect("topic");
        job_for(
            state,
            topic,
            0,
            now_ms,
            POLICY,
            &mut SettledPrefixes::default(),
        )
    }

    /// Commits a compaction of the planned entries whose output keeps one entry of `len`
    /// bytes at the run's last offset.
    fn commit_compaction(state: &mut ControllerState, spec: JobSpec, now_ms: i64, len: u32) {
        let planned = apply(
            state,
            PlanJobs {
                now_ms,
                lease_ms: 30_000,
                jobs: vec![PlannedJob { spec, broker_id: 1 }],
            },
        );
        let job_id = planned[0].clone().expect("planned");
        let log = state.partition_log(at()).expect("partition");
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
        let committed = apply(
            state,
            CommitJob {
                job_id,
                broker_id: 1,
                now_ms,
                replaced,
                output: Some(JobOutput {
                    object_key: format!("segments/compacted-{job_id}"),
                    object_size: 1 << 20,
                    entries: vec![OutputEntry {
                        base_offset: spec.last_offset,
                        last_offset: spec.last_offset,
                        position: 12,
                        len,
                        max_timestamp: now_ms,
                    }],
                }),
            },
        );
        assert!(committed.is_ok(), "{committed:?}");
    }

    #[test]
    fn topics_without_compact_get_merges_only() {
        let mut state = state(&[]);
        for i in 0..3 {
            flush(&mut state, T0 + i, 100);
        }
        let spec = plan(&state, T0 + 10 * MINUTE).expect("a merge");
        assert_eq!(spec.kind, JobKind::Merge);
    }

    #[test]
    fn the_cluster_default_broker_configs_make_a_topic_compacted() {
        let mut state = state(&[]);
        for i in 0..3 {
            flush(&mut state, T0 + i * MINUTE, 100);
        }
        let defaults = [
            ("log.cleanup.policy", "compact"),
            ("log.cleaner.min.compaction.lag.ms", "60000"),
            ("log.cleaner.delete.retention.ms", "1000"),
        ];
        apply(
            &mut state,
            AlterBrokerConfigs {
                broker: None,
                set: defaults
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                delete: vec![],
            },
        )
        .expect("valid broker configs");
        // As if the topic itself said so: the first two entries are a minute old.
        let spec = plan(&state, T0 + 150_000).expect("a compaction");
        assert_eq!(
            spec.kind,
            JobKind::CompactLog {
                tombstone_cutoff_ms: T0 + 149_000,
                object_bytes: 10_000,
            }
        );
        assert_eq!((spec.first_offset, spec.last_offset), (0, 19));
    }

    #[test]
    fn a_dirty_partition_is_compacted_from_its_log_start_past_the_minimum_lag() {
        let mut state = state(&[
            ("cleanup.policy", "compact"),
            ("min.compaction.lag.ms", "60000"),
            ("delete.retention.ms", "1000"),
        ]);
        for i in 0..3 {
            flush(&mut state, T0 + i * MINUTE, 100);
        }
        // At T0 + 2.5 min only the first two entries are a minute old.
        let spec = plan(&state, T0 + 150_000).expect("a compaction");
        assert_eq!(
            spec.kind,
            JobKind::CompactLog {
                tombstone_cutoff_ms: T0 + 149_000,
                object_bytes: 10_000,
            }
        );
        assert_eq!(
            (spec.first_offset, spec.last_offset, spec.source_entries),
            (0, 19, 2)
        );
        assert_eq!(spec.max_entry_bytes, 10_000);
    }

    #[test]
    fn records_the_archive_has_not_taken_are_never_compacted() {
        let mut state = state(&[
            ("cleanup.policy", "compact"),
            ("min.compaction.lag.ms", "0"),
            ("skiff.archive.enable", "true"),
        ]);
        for i in 0..3 {
            flush(&mut state, T0 + i * MINUTE, 100);
        }
        // Nothing is archived yet: no compaction (the dirty entries may still be merged).
        let spec = plan(&state, T0 + 10 * MINUTE);
        assert!(
            spec.as_ref().is_none_or(|s| s.kind == JobKind::Merge),
            "{spec:?}"
        );
    }

    #[test]
    fn the_dirty_ratio_decides_and_the_maximum_lag_overrides_it() {
        let mut state = state(&[
            ("cleanup.policy", "compact"),
            ("max.compaction.lag.ms", "3600000"),
        ]);
        for i in 0..4 {
            flush(&mut state, T0 + i, 100);
        }
        let spec = plan(&state, T0 + MINUTE).expect("all dirty");
        // The four entries compact to one of 300 bytes: the partition is clean.
        commit_compaction(&mut state, spec, T0 + MINUTE, 300);
        assert_eq!(state.cleaned_until(at()), 40);
        // 100 dirty bytes of 400: under the default ratio of 0.5. A merge has nothing to do
        // either: one dirty entry.
        flush(&mut state, T0 + MINUTE, 100);
        assert_eq!(plan(&state, T0 + 2 * MINUTE), None);
        // 300 of 600: due.
        flush(&mut state, T0 + MINUTE, 100);
        flush(&mut state, T0 + MINUTE, 100);
        let spec = plan(&state, T0 + 2 * MINUTE).expect("half dirty");
        assert!(spec.kind.compacts());
        assert_eq!((spec.first_offset, spec.source_entries), (39, 4));

        // After another compaction, a little dirty data waits until it is an hour old.
        commit_compaction(&mut state, spec, T0 + 2 * MINUTE, 300);
        flush(&mut state, T0 + 3 * MINUTE, 10);
        assert_eq!(plan(&state, T0 + 60 * MINUTE), None);
        let spec = plan(&state, T0 + 64 * MINUTE).expect("overdue");
        assert!(spec.kind.compacts());
    }

    #[test]
    fn dirty_entries_are_merged_but_compacted_ones_never() {
        let mut state = state(&[
            ("cleanup.policy", "compact"),
            ("min.cleanable.dirty.ratio", "0.9"),
        ]);
        for i in 0..2 {
            flush(&mut state, T0 + i, 1_000);
        }
        let spec = plan(&state, T0 + MINUTE).expect("all dirty");
        commit_compaction(&mut state, spec, T0 + MINUTE, 1_000);
        for i in 0..3 {
            flush(&mut state, T0 + MINUTE + i, 100);
        }
        // 300 of 1,300 bytes dirty: no compaction; the three dirty entries are merged.
        let spec = plan(&state, T0 + 10 * MINUTE).expect("a merge");
        assert_eq!(spec.kind, JobKind::Merge);
        assert_eq!(
            (spec.first_offset, spec.last_offset, spec.source_entries),
            (20, 49, 3)
        );
    }

    #[test]
    fn a_clean_part_larger_than_the_target_is_still_compacted() {
        let mut state = state(&[("cleanup.policy", "compact,delete")]);
        for i in 0..5 {
            flush(&mut state, T0 + i, 4_000);
        }
        // The whole dirty log, though twice the target: the job bounds its own memory.
        let spec = plan(&state, T0 + MINUTE).expect("a compaction");
        assert_eq!(
            (spec.first_offset, spec.last_offset, spec.source_entries),
            (0, 49, 5)
        );
        assert_eq!(spec.source_bytes, 20_000);
        assert_eq!(spec.max_entry_bytes, 10_000);
        // Compacted to 30,000 bytes (three times the target) in one entry...
        commit_compaction(&mut state, spec, T0 + MINUTE, 30_000);
        assert_eq!(state.cleaned_until(at()), 50);
        // ... new updates past the clean part are still reached: the next job spans the
        // clean entry and every settled dirty one, not a target's worth from the log start.
        for i in 0..4 {
            flush(&mut state, T0 + 2 * MINUTE + i, 10_000);
        }
        flush(&mut state, T0 + 5 * MINUTE, 10_000);
        let spec = plan(&state, T0 + 4 * MINUTE).expect("due: 40,000 of 70,000 dirty");
        assert_eq!(
            spec.kind,
            JobKind::CompactLog {
                tombstone_cutoff_ms: T0 + 4 * MINUTE - 86_400_000,
                object_bytes: 10_000,
            }
        );
        assert_eq!(
            (spec.first_offset, spec.last_offset, spec.source_entries),
            (49, 89, 5)
        );
        assert_eq!(spec.source_bytes, 70_000);
    }

    #[test]
    fn the_ratio_counts_the_clean_part_and_the_settled_dirty_entries() {
        let mut state = state(&[("cleanup.policy", "compact")]);
        flush(&mut state, T0, 1_000);
        let spec = plan(&state, T0 + MINUTE).expect("all dirty");
        commit_compaction(&mut state, spec, T0 + MINUTE, 1_000);
        // 900 settled dirty bytes and 10,000 not settled: 900 of 1,900 is under the ratio.
        flush(&mut state, T0 + MINUTE, 900);
        flush(&mut state, T0 + 3 * MINUTE, 10_000);
        let planned = plan(&state, T0 + 2 * MINUTE);
        assert!(
            planned.is_none_or(|s| s.kind == JobKind::Merge),
            "{planned:?}"
        );
        // Once the newest entry settles, 10,900 of 11,900: due, from the log start.
        let spec = plan(&state, T0 + 3 * MINUTE).expect("mostly dirty");
        assert!(spec.kind.compacts());
        assert_eq!(
            (spec.first_offset, spec.last_offset, spec.source_entries),
            (9, 29, 3)
        );
    }
}
