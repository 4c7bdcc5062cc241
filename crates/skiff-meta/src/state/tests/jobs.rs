use super::*;

fn at(topic: TopicId, partition: u32) -> PartitionRef {
    PartitionRef {
        topic_id: topic,
        partition,
    }
}

fn register(state: &mut ControllerState, id: i32) {
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

/// A topic with one partition holding `n` entries of 3 offsets and 100 bytes each, every one
/// in its own object, and a live broker 1.
fn partition_with_entries(n: usize) -> (ControllerState, TopicId) {
    let (mut state, t) = state_with_topic(1);
    register(&mut state, 1);
    for _ in 0..n {
        commit_batches(&mut state, t, 0, vec![plain(100, 3)]);
    }
    (state, t)
}

fn spec(t: TopicId, kind: JobKind, first: i64, last: i64, entries: u32) -> JobSpec {
    JobSpec {
        kind,
        partition: at(t, 0),
        first_offset: first,
        last_offset: last,
        source_entries: entries,
        source_bytes: u64::from(entries) * 100,
        max_entry_bytes: 1 << 20,
    }
}

fn plan(state: &mut ControllerState, spec: JobSpec) -> Result<u64, JobError> {
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

fn refs(state: &ControllerState, t: TopicId) -> Vec<EntryRef> {
    partition(state, t, 0)
        .entries()
        .map(|e| EntryRef {
            base_offset: e.base_offset,
            last_offset: e.last_offset,
            object_id: e.object_id,
            position: e.position,
        })
        .collect()
}

fn output(entries: Vec<OutputEntry>) -> JobOutput {
    JobOutput {
        object_key: "segments/merged-1.seg".into(),
        object_size: 10_000,
        entries,
    }
}

fn out(base: i64, last: i64, position: u64, len: u32) -> OutputEntry {
    OutputEntry {
        base_offset: base,
        last_offset: last,
        position,
        len,
        max_timestamp: T0,
    }
}

fn commit_job(
    state: &mut ControllerState,
    job_id: u64,
    replaced: Vec<EntryRef>,
    output: Option<JobOutput>,
) -> Result<JobCommitted, JobError> {
    run(
        state,
        CommitJob {
            job_id,
            broker_id: 1,
            now_ms: T0 + 1000,
            replaced,
            output,
        },
    )
}

#[test]
fn a_merge_swaps_many_entries_for_one_and_releases_their_objects() {
    let (mut state, t) = partition_with_entries(4);
    let job = plan(&mut state, spec(t, JobKind::Merge, 0, 11, 4)).expect("planned");
    assert_eq!(state.job_for(at(t, 0)).map(|j| j.id), Some(job));
    let replaced = refs(&state, t);
    let committed = commit_job(
        &mut state,
        job,
        replaced,
        Some(output(vec![out(0, 5, 12, 200), out(6, 11, 212, 200)])),
    )
    .expect("committed");
    assert_eq!(committed.released_objects, 4);
    let object = committed.object_id.expect("an output object");
    assert!(state.object_has_real_offsets(object));
    let log = partition(&state, t, 0);
    let entries: Vec<(i64, i64, u64)> = log
        .entries()
        .map(|e| (e.base_offset, e.last_offset, e.object_id))
        .collect();
    assert_eq!(entries, vec![(0, 5, object), (6, 11, object)]);
    assert_eq!(log.size_bytes(), 400);
    assert_eq!(log.high_watermark(), 12);
    assert_eq!(state.object(object).map(|o| o.live_entries), Some(2));
    assert_eq!(state.unreferenced_object_count(), 4);
    assert_eq!(state.job_count(), 0, "a commit ends the job");
}

#[test]
fn a_job_that_raced_retention_loses_and_changes_nothing() {
    let (mut state, t) = partition_with_entries(3);
    let job = plan(&mut state, spec(t, JobKind::Merge, 0, 8, 3)).expect("planned");
    let replaced = refs(&state, t);
    run(
        &mut state,
        DeleteRecords {
            now_ms: T0,
            partitions: vec![RecordDeletion {
                topic_id: t,
                partition: 0,
                offset: 3,
            }],
        },
    );
    let before = state.clone();
    let outcome = commit_job(
        &mut state,
        job,
        replaced,
        Some(output(vec![out(0, 8, 12, 300)])),
    );
    assert_eq!(outcome, Err(JobError::EntriesChanged));
    assert_eq!(partition(&state, t, 0), partition(&before, t, 0));
    assert_eq!(
        state.object_count(),
        before.object_count(),
        "no output registered"
    );
    assert_eq!(state.job_count(), 0);
}

#[test]
fn only_the_leased_broker_commits_and_only_once() {
    let (mut state, t) = partition_with_entries(2);
    register(&mut state, 2);
    let job = plan(&mut state, spec(t, JobKind::Merge, 0, 5, 2)).expect("planned");
    let replaced = refs(&state, t);
    let as_other = run(
        &mut state,
        CommitJob {
            job_id: job,
            broker_id: 2,
            now_ms: T0,
            replaced: replaced.clone(),
            output: Some(output(vec![out(0, 5, 12, 200)])),
        },
    );
    assert_eq!(as_other, Err(JobError::NotLeased));
    let good = Some(output(vec![out(0, 5, 12, 200)]));
    assert!(commit_job(&mut state, job, replaced.clone(), good.clone()).is_ok());
    assert_eq!(
        commit_job(&mut state, job, replaced, good),
        Err(JobError::NotLeased)
    );
}

#[test]
fn one_job_per_partition_on_live_brokers_over_entries_that_exist() {
    let (mut state, t) = partition_with_entries(3);
    assert_eq!(
        plan(&mut state, spec(t, JobKind::Merge, 0, 7, 3)),
        Err(JobError::NoSuchEntries)
    );
    assert_eq!(
        plan(&mut state, spec(t, JobKind::Merge, 1, 8, 3)),
        Err(JobError::NoSuchEntries)
    );
    let mut not_live = spec(t, JobKind::Merge, 0, 8, 3);
    not_live.partition = at(t, 0);
    let answers = run(
        &mut state,
        PlanJobs {
            now_ms: T0,
            lease_ms: 1,
            jobs: vec![PlannedJob {
                spec: not_live,
                broker_id: 9,
            }],
        },
    );
    assert_eq!(answers, vec![Err(JobError::BrokerNotLive(9))]);
    assert!(plan(&mut state, spec(t, JobKind::Merge, 0, 8, 3)).is_ok());
    assert_eq!(
        plan(&mut state, spec(t, JobKind::Merge, 3, 8, 2)),
        Err(JobError::PartitionBusy)
    );
}

#[test]
fn a_lapsed_lease_frees_the_partition_and_a_renewed_one_does_not_lapse() {
    let (mut state, t) = partition_with_entries(2);
    let job = plan(&mut state, spec(t, JobKind::Merge, 0, 5, 2)).expect("planned");
    let renewed = run(
        &mut state,
        RenewJobLeases {
            broker_id: 1,
            now_ms: T0 + 50_000,
            lease_ms: 60_000,
            job_ids: vec![job, 999],
        },
    );
    assert_eq!(renewed, vec![true, false]);
    run(
        &mut state,
        ExpireJobs {
            now_ms: T0 + 60_000,
            job_ids: vec![job],
        },
    );
    assert!(state.job(job).is_some(), "renewed until T0 + 110 s");
    run(
        &mut state,
        ExpireJobs {
            now_ms: T0 + 110_000,
            job_ids: vec![job],
        },
    );
    assert!(state.job(job).is_none());
    assert!(plan(&mut state, spec(t, JobKind::Merge, 0, 5, 2)).is_ok());
}

#[test]
fn malformed_outputs_are_refused() {
    let cases: Vec<(Vec<OutputEntry>, OutputProblem)> = vec![
        (
            vec![out(0, 2, 12, 100), out(4, 5, 112, 100)],
            OutputProblem::MergeLostOffsets,
        ),
        (vec![out(0, 4, 12, 100)], OutputProblem::MergeLostOffsets),
        (
            vec![out(0, 3, 12, 100), out(3, 5, 112, 100)],
            OutputProblem::OutOfOrder,
        ),
        (vec![out(0, 6, 12, 100)], OutputProblem::OutsideReplaced),
        (vec![out(0, 5, 9_990, 100)], OutputProblem::BeyondObject),
        (vec![out(0, 5, 12, 0)], OutputProblem::EmptyEntry),
    ];
    for (entries, problem) in cases {
        let (mut state, t) = partition_with_entries(2);
        let job = plan(&mut state, spec(t, JobKind::Merge, 0, 5, 2)).expect("planned");
        let replaced = refs(&state, t);
        assert_eq!(
            commit_job(&mut state, job, replaced, Some(output(entries))),
            Err(JobError::InvalidOutput(problem))
        );
    }
}

#[test]
fn compaction_may_leave_gaps_and_moves_the_cleaner_checkpoint() {
    let (mut state, t) = partition_with_entries(4);
    let kind = JobKind::Compact {
        tombstone_cutoff_ms: T0,
    };
    // The broker compacted only the first three entries (its key map filled up).
    let job = plan(&mut state, spec(t, kind, 0, 11, 4)).expect("planned");
    let replaced: Vec<EntryRef> = refs(&state, t).into_iter().take(3).collect();
    let committed = commit_job(
        &mut state,
        job,
        replaced,
        Some(output(vec![out(1, 2, 12, 40), out(6, 8, 52, 40)])),
    )
    .expect("committed");
    let log = partition(&state, t, 0);
    let offsets: Vec<(i64, i64)> = log
        .entries()
        .map(|e| (e.base_offset, e.last_offset))
        .collect();
    assert_eq!(offsets, vec![(1, 2), (6, 8), (9, 11)]);
    assert_eq!(log.high_watermark(), 12, "offsets never change");
    assert_eq!(log.size_bytes(), 180);
    assert_eq!(state.cleaned_until(at(t, 0)), 9);
    assert_eq!(committed.released_objects, 3);

    // A compaction that removed everything replaces entries by nothing.
    let job = plan(&mut state, spec(t, kind, 1, 8, 2)).expect("planned");
    let replaced: Vec<EntryRef> = refs(&state, t).into_iter().take(2).collect();
    let committed = commit_job(&mut state, job, replaced, None).expect("committed");
    assert_eq!(committed.object_id, None);
    let log = partition(&state, t, 0);
    assert_eq!(
        log.entries().map(|e| e.base_offset).collect::<Vec<_>>(),
        vec![9]
    );
}

#[test]
fn deleting_a_topic_ends_its_jobs() {
    let (mut state, t) = partition_with_entries(2);
    let job = plan(&mut state, spec(t, JobKind::Merge, 0, 5, 2)).expect("planned");
    let replaced = refs(&state, t);
    run(&mut state, DeleteTopics(vec![t]));
    assert_eq!(state.job_count(), 0);
    assert_eq!(
        commit_job(
            &mut state,
            job,
            replaced,
            Some(output(vec![out(0, 5, 12, 200)]))
        ),
        Err(JobError::NotLeased)
    );
}

fn object_out(key: &str, entries: Vec<OutputEntry>) -> JobOutput {
    JobOutput {
        object_key: key.into(),
        object_size: 10_000,
        entries,
    }
}

fn commit_outputs(
    state: &mut ControllerState,
    job_id: u64,
    replaced: Vec<EntryRef>,
    outputs: Vec<JobOutput>,
) -> Result<JobCommitted, JobError> {
    run(
        state,
        CommitJobOutputs {
            job_id,
            broker_id: 1,
            now_ms: T0 + 1000,
            replaced,
            outputs,
        },
    )
}

const LOG_COMPACTION: JobKind = JobKind::CompactLog {
    tombstone_cutoff_ms: T0,
    object_bytes: 100,
};

#[test]
fn a_compaction_swaps_its_entries_for_several_objects_at_once() {
    let (mut state, t) = partition_with_entries(4);
    let job = plan(&mut state, spec(t, LOG_COMPACTION, 0, 11, 4)).expect("planned");
    let replaced: Vec<EntryRef> = refs(&state, t).into_iter().take(3).collect();
    let committed = commit_outputs(
        &mut state,
        job,
        replaced,
        vec![
            object_out("segments/c-1.seg", vec![out(1, 2, 12, 40)]),
            object_out(
                "segments/c-2.seg",
                vec![out(4, 4, 12, 30), out(6, 8, 42, 40)],
            ),
        ],
    )
    .expect("committed");
    let log = partition(&state, t, 0);
    let entries: Vec<(i64, i64, u64)> = log
        .entries()
        .map(|e| (e.base_offset, e.last_offset, e.object_id))
        .collect();
    let first = committed.object_id.expect("objects registered");
    let second = entries[1].2;
    assert_ne!(first, second, "two objects");
    assert_eq!(
        entries,
        vec![
            (1, 2, first),
            (4, 4, second),
            (6, 8, second),
            (9, 11, entries[3].2)
        ]
    );
    assert_eq!(state.object(second).map(|o| o.live_entries), Some(2));
    assert!(state.object_has_real_offsets(first) && state.object_has_real_offsets(second));
    assert_eq!(log.high_watermark(), 12, "offsets never change");
    assert_eq!(state.cleaned_until(at(t, 0)), 9);
    assert_eq!(committed.released_objects, 3);
}

#[test]
fn a_multi_object_commit_is_all_or_nothing() {
    // Out of order across the objects: refused, nothing registered.
    let (mut state, t) = partition_with_entries(3);
    let job = plan(&mut state, spec(t, LOG_COMPACTION, 0, 8, 3)).expect("planned");
    let before = state.clone();
    let replaced = refs(&state, t);
    let outcome = commit_outputs(
        &mut state,
        job,
        replaced,
        vec![
            object_out("segments/c-1.seg", vec![out(3, 5, 12, 40)]),
            object_out("segments/c-2.seg", vec![out(1, 2, 12, 40)]),
        ],
    );
    assert_eq!(
        outcome,
        Err(JobError::InvalidOutput(OutputProblem::OutOfOrder))
    );
    assert_eq!(partition(&state, t, 0), partition(&before, t, 0));
    assert_eq!(state.object_count(), before.object_count());

    // Raced by DeleteRecords: loses, nothing changes.
    let job = plan(&mut state, spec(t, LOG_COMPACTION, 0, 8, 3)).expect("planned");
    let replaced = refs(&state, t);
    run(
        &mut state,
        DeleteRecords {
            now_ms: T0,
            partitions: vec![RecordDeletion {
                topic_id: t,
                partition: 0,
                offset: 3,
            }],
        },
    );
    let before = state.clone();
    let outcome = commit_outputs(
        &mut state,
        job,
        replaced,
        vec![
            object_out("segments/c-1.seg", vec![out(1, 2, 12, 40)]),
            object_out("segments/c-2.seg", vec![out(5, 8, 12, 40)]),
        ],
    );
    assert_eq!(outcome, Err(JobError::EntriesChanged));
    assert_eq!(partition(&state, t, 0), partition(&before, t, 0));
    assert_eq!(state.object_count(), before.object_count());
    assert_eq!(state.cleaned_until(at(t, 0)), 0);

    // A merge must write something.
    let job = plan(&mut state, spec(t, JobKind::Merge, 3, 8, 2)).expect("planned");
    let replaced = refs(&state, t);
    assert_eq!(
        commit_outputs(&mut state, job, replaced, vec![]),
        Err(JobError::InvalidOutput(OutputProblem::MergeLostOffsets))
    );
}

/// A topic with two partitions, each holding `n` entries of 3 offsets and 100 bytes in objects
/// shared by both (one flush per entry), and a live broker 1.
fn two_partitions_with_entries(n: usize) -> (ControllerState, TopicId) {
    let (mut state, t) = state_with_topic(2);
    register(&mut state, 1);
    for _ in 0..n {
        commit_at(
            &mut state,
            T0,
            vec![
                chunk(t, 0, 0, vec![plain(100, 3)]),
                chunk(t, 1, 100, vec![plain(100, 3)]),
            ],
        );
    }
    (state, t)
}

fn refs_of(state: &ControllerState, t: TopicId, p: u32) -> Vec<EntryRef> {
    partition(state, t, p)
        .entries()
        .map(|e| EntryRef {
            base_offset: e.base_offset,
            last_offset: e.last_offset,
            object_id: e.object_id,
            position: e.position,
        })
        .collect()
}

fn plan_merge_of(state: &mut ControllerState, t: TopicId, p: u32, entries: u32) -> u64 {
    let spec = JobSpec {
        partition: at(t, p),
        ..spec(t, JobKind::Merge, 0, i64::from(entries) * 3 - 1, entries)
    };
    plan(state, spec).expect("planned")
}

#[test]
fn merges_of_a_bundle_share_one_object_and_apply_each_on_its_own() {
    let (mut state, t) = two_partitions_with_entries(3);
    let first = plan_merge_of(&mut state, t, 0, 3);
    let second = plan_merge_of(&mut state, t, 1, 3);
    let (refs0, refs1) = (refs_of(&state, t, 0), refs_of(&state, t, 1));
    let committed = run(
        &mut state,
        CommitMerges {
            broker_id: 1,
            now_ms: T0 + 1000,
            object_key: "segments/bundle-1.seg".into(),
            object_size: 10_000,
            merges: vec![
                MergeSwap {
                    job_id: first,
                    replaced: refs0,
                    entries: vec![out(0, 8, 0, 300)],
                },
                MergeSwap {
                    job_id: second,
                    replaced: refs1,
                    entries: vec![out(0, 8, 300, 300)],
                },
            ],
        },
    );
    assert_eq!(committed.merges, vec![Ok(()), Ok(())]);
    let object = committed.object_id.expect("registered");
    assert_eq!(state.object(object).map(|o| o.live_entries), Some(2));
    assert!(state.object_has_real_offsets(object));
    assert_eq!(committed.released_objects, 3, "the three flushes");
    for p in 0..2 {
        let entries: Vec<(i64, i64, u64)> = partition(&state, t, p)
            .entries()
            .map(|e| (e.base_offset, e.last_offset, e.object_id))
            .collect();
        assert_eq!(entries, vec![(0, 8, object)]);
    }
    assert_eq!(state.job_count(), 0);
}

#[test]
fn a_bundled_merge_that_lost_its_race_leaves_its_partition_and_the_others_apply() {
    let (mut state, t) = two_partitions_with_entries(3);
    let first = plan_merge_of(&mut state, t, 0, 3);
    let second = plan_merge_of(&mut state, t, 1, 3);
    let (refs0, refs1) = (refs_of(&state, t, 0), refs_of(&state, t, 1));
    run(
        &mut state,
        DeleteRecords {
            now_ms: T0,
            partitions: vec![RecordDeletion {
                topic_id: t,
                partition: 1,
                offset: 3,
            }],
        },
    );
    let before = state.clone();
    let committed = run(
        &mut state,
        CommitMerges {
            broker_id: 1,
            now_ms: T0 + 1000,
            object_key: "segments/bundle-2.seg".into(),
            object_size: 10_000,
            merges: vec![
                MergeSwap {
                    job_id: first,
                    replaced: refs0,
                    entries: vec![out(0, 8, 0, 300)],
                },
                MergeSwap {
                    job_id: second,
                    replaced: refs1,
                    entries: vec![out(0, 8, 300, 300)],
                },
            ],
        },
    );
    assert_eq!(
        committed.merges,
        vec![Ok(()), Err(JobError::EntriesChanged)]
    );
    let object = committed
        .object_id
        .expect("registered for the merge that applied");
    assert_eq!(
        state.object(object).map(|o| o.live_entries),
        Some(1),
        "only the applied merge's entry counts"
    );
    assert_eq!(partition(&state, t, 1), partition(&before, t, 1));
    assert_eq!(state.job_count(), 0, "both jobs end");

    // A bundle none of whose merges applies registers nothing.
    let third = plan(
        &mut state,
        JobSpec {
            partition: at(t, 1),
            ..spec(t, JobKind::Merge, 3, 8, 2)
        },
    )
    .expect("planned");
    let objects = state.object_count();
    let none = run(
        &mut state,
        CommitMerges {
            broker_id: 2,
            now_ms: T0 + 2000,
            object_key: "segments/bundle-3.seg".into(),
            object_size: 10_000,
            merges: vec![MergeSwap {
                job_id: third,
                replaced: Vec::new(),
                entries: vec![out(3, 8, 0, 200)],
            }],
        },
    );
    assert_eq!(none.merges, vec![Err(JobError::NotLeased)]);
    assert_eq!(none.object_id, None);
    assert_eq!(state.object_count(), objects);
}

#[test]
fn jobs_may_span_a_marker_but_never_reach_an_open_transaction() {
    let (mut state, t) = partition_with_entries(2);
    let pe = run(
        &mut state,
        InitTxnProducer {
            transactional_id: "app".into(),
            timeout_ms: 60_000,
            current: None,
            now_ms: T0,
        },
    )
    .expect("allocated");
    let producer = TxnProducer {
        transactional_id: "app".into(),
        producer_id: pe.id,
        epoch: pe.epoch,
    };
    run(
        &mut state,
        AddPartitionsToTxn {
            producer: producer.clone(),
            partitions: vec![(t, 0)],
            now_ms: T0,
        },
    )
    .expect("added");
    let ended = run(
        &mut state,
        EndTxn {
            producer: producer.clone(),
            commit: true,
            now_ms: T0,
        },
    );
    assert_eq!(ended.map(|e| e.markers), Ok(vec![(t, 0, 6)]));
    commit_batches(&mut state, t, 0, vec![plain(100, 3)]);
    // The next transaction stays open from offset 10 on.
    run(
        &mut state,
        AddPartitionsToTxn {
            producer,
            partitions: vec![(t, 0)],
            now_ms: T0,
        },
    )
    .expect("added");
    commit_batches(&mut state, t, 0, vec![idem(pe.id, pe.epoch, 0, 2)]);
    commit_batches(&mut state, t, 0, vec![plain(100, 3)]);
    for (first, last, entries) in [(0, 14, 6), (7, 11, 2), (10, 11, 1)] {
        assert_eq!(
            plan(&mut state, spec(t, JobKind::Merge, first, last, entries)),
            Err(JobError::ReachesOpenTransaction)
        );
    }
    // Across the marker (jobs write its control batch), up to the open transaction.
    assert!(plan(&mut state, spec(t, JobKind::Merge, 0, 9, 4)).is_ok());
}
