use super::*;

const V1: &str = "s3://b/archive/t/metadata/v2.metadata.json";
const V2: &str = "s3://b/archive/t/metadata/v3.metadata.json";

fn commit(
    t: TopicId,
    expected: Option<&str>,
    location: &str,
    offsets: &[(u32, i64)],
) -> CommitArchive {
    CommitArchive {
        topic_id: t,
        expected_metadata: expected.map(str::to_string),
        metadata_location: location.to_string(),
        last_offsets: offsets.to_vec(),
        rows: 10,
        data_bytes: 1000,
        data_files: 2,
    }
}

/// A topic with two partitions of 10 offsets each.
fn topic_with_records() -> (ControllerState, TopicId) {
    let (mut state, t) = state_with_topic(2);
    for partition in [0, 1] {
        commit_batches(&mut state, t, partition, vec![plain(100, 10)]);
    }
    (state, t)
}

#[test]
fn a_commit_from_the_current_progress_applies_once() {
    let (mut state, t) = topic_with_records();
    assert_eq!(state.archive_progress(&t), None);
    let first = commit(t, None, V1, &[(0, 4), (1, 9)]);
    assert_eq!(run(&mut state, first.clone()), Ok(()));
    let progress = state.archive_progress(&t).expect("committed");
    assert_eq!(progress.metadata_location, V1);
    assert_eq!(progress.next_offset(0), 5);
    assert_eq!(progress.next_offset(1), 10);
    assert_eq!(
        (progress.commits, progress.rows, progress.data_files),
        (1, 10, 2)
    );

    // The same commit again (a retried proposal, or a second pass that started from the same
    // progress) is refused and changes nothing.
    assert_eq!(
        run(&mut state, first),
        Err(ArchiveCommitError::Moved {
            expected: None,
            current: Some(V1.to_string()),
        })
    );
    assert_eq!(state.archive_progress(&t).map(|p| p.commits), Some(1));

    // The next pass starts from V1 and moves partition 0 only; partition 1 keeps its offset.
    assert_eq!(run(&mut state, commit(t, Some(V1), V2, &[(0, 9)])), Ok(()));
    let progress = state.archive_progress(&t).expect("committed");
    assert_eq!(progress.metadata_location, V2);
    assert_eq!(progress.last_offsets, BTreeMap::from([(0, 9), (1, 9)]));
    assert_eq!(progress.rows, 20);
}

#[test]
fn offsets_must_move_forward_within_the_log() {
    let (mut state, t) = topic_with_records();
    assert_eq!(run(&mut state, commit(t, None, V1, &[(0, 4)])), Ok(()));
    let refused = |offsets: &[(u32, i64)], state: &mut ControllerState| {
        run(state, commit(t, Some(V1), V2, offsets))
    };
    assert!(matches!(
        refused(&[(0, 4)], &mut state),
        Err(ArchiveCommitError::BadOffset { archived: 4, .. })
    ));
    assert!(matches!(
        refused(&[(0, 10)], &mut state),
        Err(ArchiveCommitError::BadOffset {
            high_watermark: 10,
            ..
        })
    ));
    assert_eq!(
        refused(&[(2, 0)], &mut state),
        Err(ArchiveCommitError::UnknownPartition { partition: 2 })
    );
    assert_eq!(
        refused(&[(1, 0), (1, 1)], &mut state),
        Err(ArchiveCommitError::DuplicatePartition { partition: 1 })
    );
    // None of those moved anything.
    let progress = state.archive_progress(&t).expect("committed");
    assert_eq!(progress.metadata_location, V1);
    assert_eq!(progress.last_offsets, BTreeMap::from([(0, 4)]));
}

#[test]
fn deleting_the_topic_forgets_its_progress() {
    let (mut state, t) = topic_with_records();
    assert_eq!(run(&mut state, commit(t, None, V1, &[(0, 4)])), Ok(()));
    assert_eq!(run(&mut state, DeleteTopics(vec![t])), vec![Ok(())]);
    assert_eq!(state.archive_progress(&t), None);
    assert_eq!(
        run(&mut state, commit(t, Some(V1), V2, &[(0, 9)])),
        Err(ArchiveCommitError::UnknownTopic)
    );
}

fn enable_archive(state: &mut ControllerState, t: TopicId, on: bool) {
    let outcome = run(
        state,
        AlterTopicConfigs(vec![TopicConfigChange {
            topic: t,
            set: vec![("skiff.archive.enable".into(), on.to_string())],
            delete: vec![],
        }]),
    );
    assert_eq!(outcome, vec![Ok(())]);
}

fn at(t: TopicId, partition: u32) -> PartitionRef {
    PartitionRef {
        topic_id: t,
        partition,
    }
}

/// Retention due for everything of partition 0 (entries of 10 offsets stamped `T0`).
fn enforce_all(state: &mut ControllerState, t: TopicId) -> Truncation {
    let mut answers = run(
        state,
        EnforceRetention {
            now_ms: T0 + 365 * 24 * HOUR,
            partitions: vec![at(t, 0)],
        },
    );
    answers.remove(0).expect("partition exists")
}

/// A one-partition topic with `retention.ms` of an hour and three entries of 10 offsets.
fn expiring_topic() -> (ControllerState, TopicId) {
    let (mut state, t) = state_with_topic(1);
    let outcome = run(
        &mut state,
        AlterTopicConfigs(vec![TopicConfigChange {
            topic: t,
            set: vec![("retention.ms".into(), HOUR.to_string())],
            delete: vec![],
        }]),
    );
    assert_eq!(outcome, vec![Ok(())]);
    for _ in 0..3 {
        commit_batches_at(&mut state, T0, t, 0, vec![plain(100, 10)]);
    }
    (state, t)
}

#[test]
fn retention_never_passes_the_archived_offset_of_an_archiving_topic() {
    let (mut state, t) = expiring_topic();
    enable_archive(&mut state, t, true);
    assert_eq!(state.archive_hold(at(t, 0)), Some(0));
    // Nothing archived: every entry is due, none goes.
    let held = enforce_all(&mut state, t);
    assert_eq!((held.log_start_offset, held.dropped_entries), (0, 0));

    // Archived up to 14 (inside the second entry): retention moves the start to 15 and drops
    // only the first entry; the second straddles the start and stays.
    assert_eq!(run(&mut state, commit(t, None, V1, &[(0, 14)])), Ok(()));
    assert_eq!(state.archive_hold(at(t, 0)), Some(15));
    let cut = enforce_all(&mut state, t);
    assert_eq!((cut.log_start_offset, cut.dropped_entries), (15, 1));
    assert_eq!(partition(&state, t, 0).entries().len(), 2);

    // Everything archived: retention takes the rest.
    assert_eq!(run(&mut state, commit(t, Some(V1), V2, &[(0, 29)])), Ok(()));
    let cut = enforce_all(&mut state, t);
    assert_eq!((cut.log_start_offset, cut.dropped_entries), (30, 2));
}

#[test]
fn a_topic_that_stops_archiving_releases_its_hold() {
    let (mut state, t) = expiring_topic();
    enable_archive(&mut state, t, true);
    assert_eq!(enforce_all(&mut state, t).dropped_entries, 0);
    enable_archive(&mut state, t, false);
    assert_eq!(state.archive_hold(at(t, 0)), None);
    let cut = enforce_all(&mut state, t);
    assert_eq!((cut.log_start_offset, cut.dropped_entries), (30, 3));
}

#[test]
fn delete_records_wins_over_the_archive() {
    let (mut state, t) = expiring_topic();
    enable_archive(&mut state, t, true);
    let answers = run(
        &mut state,
        DeleteRecords {
            now_ms: T0,
            partitions: vec![RecordDeletion {
                topic_id: t,
                partition: 0,
                offset: 20,
            }],
        },
    );
    assert_eq!(answers[0].as_ref().map(|t| t.log_start_offset), Ok(20));
    // The archive's hold does not move: its next pass finds the records from 20 on.
    assert_eq!(state.archive_hold(at(t, 0)), Some(0));
}

fn register_broker(state: &mut ControllerState, id: i32) {
    run(
        state,
        RegisterBroker(BrokerInfo {
            id,
            host: "h".into(),
            port: 9092,
            rack: None,
        }),
    );
}

fn plan_one(state: &mut ControllerState, spec: JobSpec) -> Result<u64, JobError> {
    let mut answers = run(
        state,
        PlanJobs {
            now_ms: T0,
            lease_ms: 60_000,
            jobs: vec![PlannedJob { spec, broker_id: 1 }],
        },
    );
    answers.remove(0)
}

#[test]
fn compaction_is_refused_over_records_not_archived_yet() {
    let (mut state, t) = expiring_topic();
    register_broker(&mut state, 1);
    enable_archive(&mut state, t, true);
    let compact = |last: i64, entries: u32| JobSpec {
        kind: JobKind::Compact {
            tombstone_cutoff_ms: 0,
        },
        partition: at(t, 0),
        first_offset: 0,
        last_offset: last,
        source_entries: entries,
        source_bytes: 100,
        max_entry_bytes: 1 << 20,
    };
    assert_eq!(
        plan_one(&mut state, compact(9, 1)),
        Err(JobError::NotArchivedYet)
    );
    assert_eq!(run(&mut state, commit(t, None, V1, &[(0, 9)])), Ok(()));
    assert!(plan_one(&mut state, compact(9, 1)).is_ok());
}

#[test]
fn one_archive_job_per_topic_beside_the_partitions_jobs() {
    let (mut state, t) = expiring_topic();
    register_broker(&mut state, 1);
    let merge = JobSpec {
        kind: JobKind::Merge,
        partition: at(t, 0),
        first_offset: 0,
        last_offset: 19,
        source_entries: 2,
        source_bytes: 200,
        max_entry_bytes: 1 << 20,
    };
    assert!(plan_one(&mut state, merge).is_ok());
    let id = plan_one(&mut state, JobSpec::archive(t, 300)).expect("an archive job");
    let job = state.job(id).copied().expect("leased");
    assert_eq!(job.spec.partition.partition, ARCHIVE_JOB_PARTITION);
    assert_eq!(
        plan_one(&mut state, JobSpec::archive(t, 300)),
        Err(JobError::PartitionBusy)
    );
    assert_eq!(
        plan_one(&mut state, JobSpec::archive(topic_id(999), 300)),
        Err(JobError::UnknownTopicOrPartition)
    );
    // Released (given back) once its commit is done; deleting the topic drops it too.
    run(
        &mut state,
        AbandonJob {
            job_id: id,
            broker_id: 1,
            now_ms: T0,
        },
    );
    assert!(state.job(id).is_none());
    let id = plan_one(&mut state, JobSpec::archive(t, 300)).expect("planned again");
    assert_eq!(run(&mut state, DeleteTopics(vec![t])), vec![Ok(())]);
    assert!(state.job(id).is_none());
}
