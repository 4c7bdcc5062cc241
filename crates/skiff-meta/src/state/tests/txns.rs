use super::*;
use crate::index_entry::TxnMarker;
use crate::state::{AbortedTxn, ControllerStateV9, FIRST_PRODUCER_ID};

const TIMEOUT: i32 = 60_000;

fn init_txn(
    state: &mut ControllerState,
    id: &str,
    current: Option<(i64, i16)>,
    now_ms: i64,
) -> Result<(i64, i16), TxnError> {
    run(
        state,
        InitTxnProducer {
            transactional_id: id.to_string(),
            timeout_ms: TIMEOUT,
            current,
            now_ms,
        },
    )
    .map(|p| (p.id, p.epoch))
}

fn producer(id: &str, (producer_id, epoch): (i64, i16)) -> TxnProducer {
    TxnProducer {
        transactional_id: id.to_string(),
        producer_id,
        epoch,
    }
}

fn add(
    state: &mut ControllerState,
    id: &str,
    pe: (i64, i16),
    partitions: &[(TopicId, u32)],
) -> Result<(), TxnError> {
    run(
        state,
        AddPartitionsToTxn {
            producer: producer(id, pe),
            partitions: partitions.to_vec(),
            now_ms: T0,
        },
    )
}

fn end(
    state: &mut ControllerState,
    id: &str,
    pe: (i64, i16),
    commit: bool,
) -> Result<Vec<(TopicId, u32, i64)>, TxnError> {
    run(
        state,
        EndTxn {
            producer: producer(id, pe),
            commit,
            now_ms: T0 + 1,
        },
    )
    .map(|e| e.markers)
}

fn marker_at(state: &ControllerState, t: TopicId, p: u32, offset: i64) -> Option<TxnMarker> {
    partition(state, t, p)
        .entries_from(offset)
        .next()
        .filter(|e| e.base_offset == offset)
        .and_then(|e| e.as_marker())
}

fn lso(state: &ControllerState, t: TopicId, p: u32) -> i64 {
    state.last_stable_offset(t, p, partition(state, t, p))
}

fn aborted(state: &ControllerState, t: TopicId, p: u32, from: i64, to: i64) -> Vec<AbortedTxn> {
    state
        .txns()
        .aborted_overlapping(t, p, from, to)
        .copied()
        .collect()
}

#[test]
fn init_allocates_then_bumps_and_fences_the_older_instance() {
    let mut state = ControllerState::default();
    let first = init_txn(&mut state, "app", None, T0).expect("allocated");
    assert_eq!(first, (FIRST_PRODUCER_ID, 0));
    // Idempotent producers share the id counter.
    assert_eq!(
        run(&mut state, InitProducerId { current: None }).map(|p| p.id),
        Ok(FIRST_PRODUCER_ID + 1)
    );
    let second = init_txn(&mut state, "app", None, T0).expect("bumped");
    assert_eq!(second, (FIRST_PRODUCER_ID, 1));
    assert_eq!(
        init_txn(&mut state, "other", None, T0),
        Ok((FIRST_PRODUCER_ID + 2, 0))
    );
    let t = topic_id(1);
    create_topics(&mut state, vec![new_topic("t", t, 1)]);
    assert_eq!(
        add(&mut state, "app", first, &[(t, 0)]),
        Err(TxnError::ProducerFenced { current: 1, got: 0 })
    );
    assert_eq!(
        add(&mut state, "app", (FIRST_PRODUCER_ID + 2, 1), &[(t, 0)]),
        Err(TxnError::InvalidProducerIdMapping {
            current: FIRST_PRODUCER_ID,
            got: FIRST_PRODUCER_ID + 2
        })
    );
    assert_eq!(
        add(&mut state, "nobody", second, &[(t, 0)]),
        Err(TxnError::UnknownTransactionalId)
    );
    // KIP-360: only the current holder may recover with its id and epoch.
    assert_eq!(
        init_txn(&mut state, "app", Some(first), T0),
        Err(TxnError::ProducerFenced { current: 1, got: 0 })
    );
    assert_eq!(
        init_txn(&mut state, "app", Some(second), T0),
        Ok((FIRST_PRODUCER_ID, 2))
    );
    assert_eq!(
        run(
            &mut state,
            InitTxnProducer {
                transactional_id: "app".into(),
                timeout_ms: 0,
                current: None,
                now_ms: T0
            }
        ),
        Err(TxnError::InvalidTransactionTimeout(0))
    );
}

#[test]
fn an_exhausted_epoch_moves_to_a_new_producer_id() {
    let mut state = ControllerState::default();
    let mut pe = init_txn(&mut state, "app", None, T0).expect("allocated");
    while pe.1 < i16::MAX - 1 {
        pe = init_txn(&mut state, "app", None, T0).expect("bumped");
    }
    let next = init_txn(&mut state, "app", None, T0).expect("new id");
    assert_eq!(next, (FIRST_PRODUCER_ID + 1, 0));
    assert_eq!(
        state.txns().transactional_id_of(FIRST_PRODUCER_ID + 1),
        Some("app")
    );
    assert_eq!(state.txns().transactional_id_of(FIRST_PRODUCER_ID), None);
}

#[test]
fn commit_writes_a_marker_after_the_data_on_every_partition_and_moves_the_lso() {
    let (mut state, t) = state_with_topic(3);
    let pe = init_txn(&mut state, "app", None, T0).expect("allocated");
    let (pid, epoch) = pe;
    // Plain data first, so the transaction starts mid-log.
    commit_batches(&mut state, t, 0, vec![plain(100, 5)]);
    add(&mut state, "app", pe, &[(t, 0), (t, 1), (t, 2)]).expect("added");
    assert_eq!(
        state.txns().get("app").map(|x| x.status()),
        Some(TxnStatus::Ongoing)
    );
    assert_eq!(
        commit_batches(&mut state, t, 0, vec![idem(pid, epoch, 0, 3)]),
        vec![appended(5)]
    );
    commit_batches(&mut state, t, 0, vec![plain(100, 2)]);
    assert_eq!(
        commit_batches(&mut state, t, 1, vec![idem(pid, epoch, 0, 4)]),
        vec![appended(0)]
    );
    assert_eq!(lso(&state, t, 0), 5, "the open transaction holds the LSO");
    assert_eq!(lso(&state, t, 1), 0);
    assert_eq!(lso(&state, t, 2), 0, "nothing written there yet: HW");
    assert_eq!(partition(&state, t, 0).high_watermark(), 10);

    let markers = end(&mut state, "app", pe, true).expect("committed");
    assert_eq!(markers, vec![(t, 0, 10), (t, 1, 4), (t, 2, 0)]);
    for (p, offset) in [(0, 10), (1, 4), (2, 0)] {
        assert_eq!(
            marker_at(&state, t, p, offset),
            Some(TxnMarker {
                offset,
                producer_id: pid,
                producer_epoch: epoch,
                commit: true,
                timestamp: T0 + 1,
            })
        );
        let log = partition(&state, t, p);
        assert_eq!(log.high_watermark(), offset + 1);
        assert_eq!(lso(&state, t, p), offset + 1);
        assert!(aborted(&state, t, p, 0, i64::MAX).is_empty());
    }
    assert_eq!(
        state.txns().get("app").map(|x| x.status()),
        Some(TxnStatus::CompleteCommit)
    );
    // A retried EndTxn succeeds; the other outcome is refused.
    assert_eq!(end(&mut state, "app", pe, true), Ok(vec![]));
    assert_eq!(
        end(&mut state, "app", pe, false),
        Err(TxnError::InvalidTxnState(TxnStatus::CompleteCommit))
    );
    // The next batch lands after the marker.
    add(&mut state, "app", pe, &[(t, 0)]).expect("added again");
    assert_eq!(
        commit_batches(&mut state, t, 0, vec![idem(pid, epoch, 3, 1)]),
        vec![appended(11)]
    );
}

#[test]
fn abort_lists_the_aborted_data_until_the_log_start_passes_its_marker() {
    let (mut state, t) = state_with_topic(1);
    let pe = init_txn(&mut state, "app", None, T0).expect("allocated");
    add(&mut state, "app", pe, &[(t, 0)]).expect("added");
    commit_batches(&mut state, t, 0, vec![plain(100, 2)]);
    commit_batches(&mut state, t, 0, vec![idem(pe.0, pe.1, 0, 3)]);
    assert_eq!(lso(&state, t, 0), 2);
    assert_eq!(end(&mut state, "app", pe, false), Ok(vec![(t, 0, 5)]));
    let expected = AbortedTxn {
        producer_id: pe.0,
        first_offset: 2,
        last_offset: 5,
    };
    assert_eq!(aborted(&state, t, 0, 0, 6), vec![expected]);
    assert_eq!(aborted(&state, t, 0, 5, 6), vec![expected]);
    assert!(aborted(&state, t, 0, 6, 10).is_empty(), "before the read");
    assert!(aborted(&state, t, 0, 0, 2).is_empty(), "after the read");
    assert_eq!(lso(&state, t, 0), 6);
    assert!(!marker_at(&state, t, 0, 5).expect("marker").commit);

    let truncate = |state: &mut ControllerState, offset| {
        run(
            state,
            DeleteRecords {
                now_ms: T0,
                partitions: vec![RecordDeletion {
                    topic_id: t,
                    partition: 0,
                    offset,
                }],
            },
        )
    };
    truncate(&mut state, 5);
    assert_eq!(
        aborted(&state, t, 0, 0, 6),
        vec![expected],
        "marker still in"
    );
    truncate(&mut state, 6);
    assert!(aborted(&state, t, 0, 0, 6).is_empty());
}

#[test]
fn transactional_batches_need_their_partition_in_an_open_transaction() {
    let (mut state, t) = state_with_topic(2);
    let pe = init_txn(&mut state, "app", None, T0).expect("allocated");
    let refused = BatchOutcome::Rejected(ProduceError::InvalidTxnState);
    assert_eq!(
        commit_batches(&mut state, t, 0, vec![idem(pe.0, pe.1, 0, 1)]),
        vec![refused.clone()],
        "no transaction open"
    );
    add(&mut state, "app", pe, &[(t, 0)]).expect("added");
    assert_eq!(
        commit_batches(&mut state, t, 1, vec![idem(pe.0, pe.1, 0, 1)]),
        vec![refused.clone()],
        "partition not added"
    );
    assert_eq!(
        commit_batches(&mut state, t, 0, vec![idem(pe.0, pe.1, 0, 1)]),
        vec![appended(0)]
    );
    // A retry of an appended batch stays a duplicate after the transaction ends.
    end(&mut state, "app", pe, true).expect("committed");
    assert_eq!(
        commit_batches(&mut state, t, 0, vec![idem(pe.0, pe.1, 0, 1)]),
        vec![BatchOutcome::Duplicate { base_offset: 0 }]
    );
    assert_eq!(
        commit_batches(&mut state, t, 0, vec![idem(pe.0, pe.1, 1, 1)]),
        vec![refused]
    );
    // A fenced instance's batches are refused by epoch.
    let bumped = init_txn(&mut state, "app", None, T0).expect("bumped");
    add(&mut state, "app", bumped, &[(t, 0)]).expect("added");
    assert_eq!(
        commit_batches(&mut state, t, 0, vec![idem(pe.0, pe.1, 1, 1)]),
        vec![BatchOutcome::Rejected(ProduceError::InvalidProducerEpoch {
            current: bumped.1,
            got: pe.1
        })]
    );
    assert_eq!(
        add(&mut state, "app", bumped, &[(t, 0), (t, 9)]),
        Err(TxnError::UnknownTopicOrPartition(vec![(t, 9)]))
    );
    // Plain and idempotent producers are untouched.
    assert_eq!(
        commit_batches(&mut state, t, 1, vec![plain(100, 1), idem(5, 0, 0, 1)]),
        vec![appended(0), appended(1)]
    );
}

#[test]
fn a_new_instance_aborts_the_open_transaction_of_the_old_one() {
    let (mut state, t) = state_with_topic(1);
    let old = init_txn(&mut state, "app", None, T0).expect("allocated");
    add(&mut state, "app", old, &[(t, 0)]).expect("added");
    commit_batches(&mut state, t, 0, vec![idem(old.0, old.1, 0, 2)]);
    let new = init_txn(&mut state, "app", None, T0 + 5).expect("bumped");
    assert_eq!(new, (old.0, 1));
    let marker = marker_at(&state, t, 0, 2).expect("abort marker");
    assert!(!marker.commit);
    assert_eq!(
        marker.producer_epoch, 1,
        "the marker carries the fencing epoch"
    );
    assert_eq!(lso(&state, t, 0), 3);
    assert_eq!(aborted(&state, t, 0, 0, 3).len(), 1);
    assert_eq!(
        state.txns().get("app").map(|x| x.status()),
        Some(TxnStatus::Empty)
    );
    assert_eq!(
        end(&mut state, "app", old, true),
        Err(TxnError::ProducerFenced { current: 1, got: 0 })
    );
    assert_eq!(
        end(&mut state, "app", new, true),
        Err(TxnError::InvalidTxnState(TxnStatus::Empty))
    );
    // The new instance starts its sequences again at its new epoch.
    add(&mut state, "app", new, &[(t, 0)]).expect("added");
    assert_eq!(
        commit_batches(&mut state, t, 0, vec![idem(new.0, new.1, 0, 1)]),
        vec![appended(3)]
    );
}

#[test]
fn group_offsets_apply_on_commit_only() {
    let (mut state, t) = state_with_topic(1);
    let pe = init_txn(&mut state, "app", None, T0).expect("allocated");
    let offsets = |offset| GroupOffsets {
        group_id: "g".into(),
        commit_time_ms: T0,
        partitions: vec![PartitionOffset {
            topic_id: t,
            partition: 0,
            offset,
            leader_epoch: -1,
            metadata: String::new(),
        }],
    };
    let commit_offsets = |state: &mut ControllerState, offset| {
        run(
            state,
            TxnOffsetCommit {
                producer: producer("app", pe),
                offsets: offsets(offset),
            },
        )
    };
    assert_eq!(
        commit_offsets(&mut state, 1),
        Err(TxnError::InvalidTxnState(TxnStatus::Empty))
    );
    add(&mut state, "app", pe, &[(t, 0)]).expect("added");
    assert_eq!(
        commit_offsets(&mut state, 1),
        Err(TxnError::GroupNotInTransaction("g".into()))
    );
    let add_group = AddOffsetsToTxn {
        producer: producer("app", pe),
        group_id: "g".into(),
        now_ms: T0,
    };
    run(&mut state, add_group.clone()).expect("group added");
    commit_offsets(&mut state, 7).expect("pending");
    commit_offsets(&mut state, 9).expect("pending, replacing");
    assert!(state.group("g").is_none(), "not visible before commit");
    end(&mut state, "app", pe, false).expect("aborted");
    assert!(state.group("g").is_none(), "dropped by the abort");

    run(&mut state, add_group).expect("group added");
    commit_offsets(&mut state, 11).expect("pending");
    end(&mut state, "app", pe, true).expect("committed");
    let committed = state
        .group("g")
        .and_then(|g| g.offset(t, 0))
        .map(|o| o.offset);
    assert_eq!(committed, Some(11));
}

#[test]
fn the_leader_aborts_timed_out_transactions_and_fences_their_producer() {
    let (mut state, t) = state_with_topic(1);
    let pe = init_txn(&mut state, "app", None, T0).expect("allocated");
    let idle = init_txn(&mut state, "idle", None, T0).expect("allocated");
    add(&mut state, "app", pe, &[(t, 0)]).expect("added");
    commit_batches(&mut state, t, 0, vec![idem(pe.0, pe.1, 0, 2)]);
    let expire = |now_ms| ExpireTxns {
        now_ms,
        id_expiration_ms: 7 * DAY,
        max_aborts: 10,
    };
    let early = run(&mut state, expire(T0 + i64::from(TIMEOUT) - 1));
    assert_eq!(early, TxnsExpired::default());
    assert_eq!(lso(&state, t, 0), 0);
    let due = run(&mut state, expire(T0 + i64::from(TIMEOUT)));
    assert_eq!(due.aborted, vec!["app".to_string()]);
    assert_eq!(lso(&state, t, 0), 3, "past the abort marker");
    assert_eq!(
        marker_at(&state, t, 0, 2).map(|m| (m.commit, m.producer_epoch)),
        Some((false, 1))
    );
    assert_eq!(
        end(&mut state, "app", pe, true),
        Err(TxnError::ProducerFenced { current: 1, got: 0 })
    );
    // Ids with nothing open for the expiration time are forgotten; others stay.
    let later = run(&mut state, expire(T0 + 7 * DAY + 1));
    assert_eq!(later.forgotten, vec!["idle".to_string()], "app ended later");
    let latest = run(&mut state, expire(T0 + i64::from(TIMEOUT) + 7 * DAY + 1));
    assert_eq!(latest.forgotten, vec!["app".to_string()]);
    assert!(state.txns().is_empty());
    assert_eq!(state.txns().transactional_id_of(idle.0), None);
}

#[test]
fn deleting_a_topic_ends_its_part_of_open_transactions() {
    let (mut state, t) = state_with_topic(1);
    let u = topic_id(2);
    create_topics(&mut state, vec![new_topic("u", u, 1)]);
    let pe = init_txn(&mut state, "app", None, T0).expect("allocated");
    add(&mut state, "app", pe, &[(t, 0), (u, 0)]).expect("added");
    commit_batches(&mut state, t, 0, vec![idem(pe.0, pe.1, 0, 1)]);
    assert_eq!(run(&mut state, DeleteTopics(vec![t])), vec![Ok(())]);
    assert_eq!(end(&mut state, "app", pe, true), Ok(vec![(u, 0, 0)]));
}

#[test]
fn snapshot_round_trips_and_format_9_loads_without_transactions() {
    let (mut state, t) = state_with_topic(1);
    let pe = init_txn(&mut state, "app", None, T0).expect("allocated");
    add(&mut state, "app", pe, &[(t, 0)]).expect("added");
    commit_batches(&mut state, t, 0, vec![idem(pe.0, pe.1, 0, 2)]);
    end(&mut state, "app", pe, false).expect("aborted");
    add(&mut state, "app", pe, &[(t, 0)]).expect("added");
    commit_batches(&mut state, t, 0, vec![idem(pe.0, pe.1, 2, 1)]);
    let bytes = postcard::to_allocvec(&state).expect("encodes");
    let back: ControllerState = postcard::from_bytes(&bytes).expect("decodes");
    assert_eq!(back, state);
    assert_eq!(lso(&back, t, 0), 3);
    assert_eq!(aborted(&back, t, 0, 0, 4).len(), 1);

    let (plain_state, _) = state_with_topic(2);
    // Format 10 appended the transactions (five empty maps, one byte each) to format 9.
    let bytes = postcard::to_allocvec(&plain_state).expect("encodes");
    let (v9_bytes, tail) = bytes.split_at(bytes.len() - 5);
    assert_eq!(tail, [0; 5]);
    let v9: ControllerStateV9 = postcard::from_bytes(v9_bytes).expect("decodes as format 9");
    assert_eq!(ControllerState::from(v9), plain_state);
}

fn set_topic_config(state: &mut ControllerState, t: TopicId, key: &str, value: &str) {
    let outcome = run(
        state,
        AlterTopicConfigs(vec![TopicConfigChange {
            topic: t,
            set: vec![(key.into(), value.into())],
            delete: vec![],
        }]),
    );
    assert_eq!(outcome, vec![Ok(())]);
}

fn retention_at(state: &mut ControllerState, t: TopicId, now_ms: i64) -> i64 {
    let at = PartitionRef {
        topic_id: t,
        partition: 0,
    };
    let mut answers = run(
        state,
        EnforceRetention {
            now_ms,
            partitions: vec![at],
        },
    );
    answers
        .remove(0)
        .expect("partition exists")
        .log_start_offset
}

#[test]
fn retention_never_moves_the_log_start_past_an_open_transaction() {
    let (mut state, t) = state_with_topic(1);
    set_topic_config(&mut state, t, "retention.ms", &HOUR.to_string());
    let pe = init_txn(&mut state, "app", None, T0).expect("allocated");
    commit_batches(&mut state, t, 0, vec![plain(100, 5)]);
    add(&mut state, "app", pe, &[(t, 0)]).expect("added");
    // The transaction's first batch shares an entry with committed data before it.
    commit_batches(
        &mut state,
        t,
        0,
        vec![plain(100, 2), idem(pe.0, pe.1, 0, 3)],
    );
    commit_batches(&mut state, t, 0, vec![plain(100, 2)]);
    assert_eq!(lso(&state, t, 0), 7);
    let late = T0 + 10 * HOUR;
    let at = PartitionRef {
        topic_id: t,
        partition: 0,
    };
    // Every entry is past retention.ms; only the one wholly below the LSO goes, and the
    // leader's check agrees with the apply.
    assert_eq!(
        state.retention_cut(at, partition(&state, t, 0), late, HOUR, -1),
        Some(5)
    );
    assert_eq!(retention_at(&mut state, t, late), 5);
    assert_eq!(
        state.retention_cut(at, partition(&state, t, 0), late, HOUR, -1),
        None,
        "nothing more is due while the transaction is open"
    );
    assert_eq!(retention_at(&mut state, t, late), 5);
    assert_eq!(lso(&state, t, 0), 7);
    // retention.bytes is held back the same way.
    set_topic_config(&mut state, t, "retention.bytes", "0");
    assert_eq!(retention_at(&mut state, t, late + HOUR), 5);

    // Once the transaction ends the marker and everything before it may go.
    assert_eq!(end(&mut state, "app", pe, false), Ok(vec![(t, 0, 12)]));
    assert_eq!(lso(&state, t, 0), 13);
    assert_eq!(retention_at(&mut state, t, late + HOUR), 13);
    assert!(aborted(&state, t, 0, 0, i64::MAX).is_empty());
}

#[test]
fn delete_records_may_pass_an_open_transaction_as_in_kafka() {
    // Kafka bounds DeleteRecords by the high watermark only; the LSO then starts at the log
    // start (Kafka's firstUnstableOffset is raised to the log start the same way).
    let (mut state, t) = state_with_topic(1);
    let pe = init_txn(&mut state, "app", None, T0).expect("allocated");
    add(&mut state, "app", pe, &[(t, 0)]).expect("added");
    commit_batches(
        &mut state,
        t,
        0,
        vec![plain(100, 2), idem(pe.0, pe.1, 0, 3)],
    );
    commit_batches(&mut state, t, 0, vec![plain(100, 2)]);
    assert_eq!(lso(&state, t, 0), 2);
    let mut answers = run(
        &mut state,
        DeleteRecords {
            now_ms: T0,
            partitions: vec![RecordDeletion {
                topic_id: t,
                partition: 0,
                offset: 4,
            }],
        },
    );
    let truncation = answers.remove(0).expect("partition exists");
    assert_eq!(truncation.log_start_offset, 4);
    assert_eq!(lso(&state, t, 0), 4);
    assert_eq!(end(&mut state, "app", pe, true), Ok(vec![(t, 0, 7)]));
    assert_eq!(lso(&state, t, 0), 8);
}
