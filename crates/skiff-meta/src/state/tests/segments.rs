use super::*;
use crate::state::MaxTimestamp;

fn with_ts(mut batch: BatchCommit, max_timestamp: i64) -> BatchCommit {
    batch.max_timestamp = max_timestamp;
    batch
}

fn entry(
    base_offset: i64,
    last_offset: i64,
    object_id: u64,
    position: u64,
    len: u32,
    max_timestamp: i64,
) -> IndexEntry {
    IndexEntry {
        base_offset,
        last_offset,
        object_id,
        position,
        len,
        max_timestamp,
    }
}

#[test]
fn offsets_continue_across_chunks_and_commits() {
    let (mut state, t) = state_with_topic(2);
    let first = commit(
        &mut state,
        vec![
            chunk(t, 0, 0, vec![plain(100, 3), plain(50, 2)]),
            chunk(t, 1, 150, vec![plain(70, 10)]),
            chunk(t, 0, 220, vec![plain(30, 1)]),
        ],
    );
    assert_eq!(committed(&first.chunks[0]).0, &[appended(0), appended(3)]);
    assert_eq!(committed(&first.chunks[1]).0, &[appended(0)]);
    assert_eq!(committed(&first.chunks[2]).0, &[appended(5)]);

    let second = commit(
        &mut state,
        vec![
            chunk(t, 0, 0, vec![plain(10, 4)]),
            chunk(t, 1, 10, vec![plain(10, 1)]),
        ],
    );
    assert_eq!(committed(&second.chunks[0]).0, &[appended(6)]);
    assert_eq!(committed(&second.chunks[1]).0, &[appended(10)]);
    assert_eq!(second.object_id, first.object_id + 1);
    assert_eq!(partition(&state, t, 0).high_watermark(), 10);
    assert_eq!(partition(&state, t, 1).high_watermark(), 11);

    let p0: Vec<(i64, i64, u64, u64, u32)> = partition(&state, t, 0)
        .entries()
        .map(|e| (e.base_offset, e.last_offset, e.object_id, e.position, e.len))
        .collect();
    assert_eq!(
        p0,
        vec![
            (0, 4, first.object_id, 0, 150),
            (5, 5, first.object_id, 220, 30),
            (6, 9, second.object_id, 0, 10)
        ]
    );
    assert_eq!(partition(&state, t, 0).size_bytes(), 190);
}

#[test]
fn an_unknown_topic_or_partition_fails_only_its_own_chunk() {
    let (mut state, t) = state_with_topic(1);
    let result = commit(
        &mut state,
        vec![
            chunk(t, 0, 0, vec![plain(10, 1)]),
            chunk(topic_id(404), 0, 10, vec![plain(10, 1)]),
            chunk(t, 1, 20, vec![plain(10, 1)]),
            chunk(t, 0, 30, vec![plain(10, 1)]),
        ],
    );
    assert_eq!(result.chunks[1], ChunkOutcome::UnknownTopicOrPartition);
    assert_eq!(result.chunks[2], ChunkOutcome::UnknownTopicOrPartition);
    assert_eq!(committed(&result.chunks[0]).0, &[appended(0)]);
    assert_eq!(committed(&result.chunks[3]).0, &[appended(1)]);
    let object = state.object(result.object_id).expect("object registered");
    assert_eq!(object.live_entries, 2);
    assert_eq!(partition(&state, t, 0).high_watermark(), 2);
}

#[test]
fn runs_of_appended_batches_become_one_entry_and_others_split_them() {
    let (mut state, t) = state_with_topic(1);
    commit_batches(&mut state, t, 0, vec![idem(7, 0, 0, 2)]);
    let object_id = state.next_object_id;
    let result = commit(
        &mut state,
        vec![chunk(
            t,
            0,
            1000,
            vec![
                with_ts(plain(100, 3), T0 + 5),    // 1000..1100 appended
                with_ts(idem(7, 0, 2, 1), T0 + 9), // 1100..1200 appended
                idem(7, 0, 2, 1),                  // 1200..1300 duplicate
                with_ts(plain(70, 2), T0 + 1),     // 1300..1370 appended
                idem(7, 0, 9, 1),                  // 1370..1470 out of order
                plain(30, 1),                      // 1470..1500 appended
            ],
        )],
    );
    let (outcomes, entries) = committed(&result.chunks[0]);
    assert_eq!(
        outcomes,
        &[
            appended(2),
            appended(5),
            BatchOutcome::Duplicate { base_offset: 5 },
            appended(6),
            out_of_order(3, 9),
            appended(8)
        ]
    );
    let expected = vec![
        entry(2, 5, object_id, 1000, 200, T0 + 9),
        entry(6, 7, object_id, 1300, 70, T0 + 1),
        entry(8, 8, object_id, 1470, 30, T0),
    ];
    assert_eq!(entries, expected.as_slice());
    let all: Vec<IndexEntry> = partition(&state, t, 0).entries().copied().collect();
    assert_eq!(&all[1..], expected.as_slice());
    assert_eq!(state.object(object_id).map(|o| o.live_entries), Some(3));
}

#[test]
fn invalid_batches_are_rejected_without_taking_offsets() {
    let (mut state, t) = state_with_topic(1);
    let commit = SegmentCommit {
        object_key: "k".into(),
        object_size: 300,
        broker_id: 1,
        append_time_ms: T0,
        chunks: vec![chunk(
            t,
            0,
            0,
            vec![
                plain(100, 1),
                plain(0, 1),
                plain(100, 0),
                plain(100, 1),
                plain(200, 1),
                idem(5, 0, -3, 1),
            ],
        )],
    };
    let result = run(&mut state, commit);
    let (outcomes, entries) = committed(&result.chunks[0]);
    let reason = |o: &BatchOutcome| match o {
        BatchOutcome::Rejected(ProduceError::InvalidBatch(r)) => r.to_string(),
        other => panic!("expected InvalidBatch, got {other:?}"),
    };
    assert_eq!(outcomes[0], appended(0));
    assert_eq!(
        outcomes[1],
        BatchOutcome::Rejected(ProduceError::InvalidBatch(BatchProblem::ZeroLength))
    );
    assert_eq!(reason(&outcomes[1]), "batch has zero length");
    assert_eq!(reason(&outcomes[2]), "batch covers no offsets");
    assert_eq!(outcomes[3], appended(1));
    assert_eq!(
        reason(&outcomes[4]),
        "batch bytes 300..500 lie beyond the object's 300 bytes"
    );
    assert_eq!(
        reason(&outcomes[5]),
        "batch bytes 500..600 lie beyond the object's 300 bytes"
    );
    assert_eq!(
        entries.len(),
        2,
        "the rejected batch between them splits the run"
    );
    assert_eq!((entries[1].position, entries[1].len), (200, 100));
    assert_eq!(partition(&state, t, 0).high_watermark(), 2);
}

#[test]
fn byte_position_overflow_is_rejected_not_panicked() {
    let (mut state, t) = state_with_topic(1);
    let result = commit(
        &mut state,
        vec![chunk(t, 0, u64::MAX - 10, vec![plain(100, 1), plain(1, 1)])],
    );
    let (outcomes, entries) = committed(&result.chunks[0]);
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o, BatchOutcome::Rejected(ProduceError::InvalidBatch(_))))
    );
    assert!(entries.is_empty());
}

#[test]
fn non_idempotent_batches_skip_sequence_checks() {
    let (mut state, t) = state_with_topic(1);
    let mut odd = plain(10, 1);
    odd.base_sequence = 5;
    let outcomes = commit_batches(&mut state, t, 0, vec![odd, odd, plain(10, 1)]);
    assert_eq!(outcomes, vec![appended(0), appended(1), appended(2)]);
    assert_eq!(state.producer_state_count(), 0);
}

#[test]
fn partition_max_timestamp_keeps_the_first_batch_reaching_it() {
    let (mut state, t) = state_with_topic(1);
    assert_eq!(partition(&state, t, 0).max_timestamp(), None);
    commit_batches(
        &mut state,
        t,
        0,
        vec![
            with_ts(plain(10, 2), T0 + 50),
            with_ts(plain(10, 3), T0 + 80),
        ],
    );
    commit_batches(
        &mut state,
        t,
        0,
        vec![
            with_ts(plain(10, 1), T0 + 80),
            with_ts(plain(10, 1), T0 + 10),
        ],
    );
    assert_eq!(
        partition(&state, t, 0).max_timestamp(),
        Some(MaxTimestamp {
            timestamp: T0 + 80,
            batch_base_offset: 2
        })
    );
    commit_batches(&mut state, t, 0, vec![with_ts(plain(10, 1), T0 + 81)]);
    assert_eq!(
        partition(&state, t, 0).max_timestamp(),
        Some(MaxTimestamp {
            timestamp: T0 + 81,
            batch_base_offset: 7
        })
    );
}

#[test]
fn index_lookups_by_offset_and_timestamp() {
    let (mut state, t) = state_with_topic(1);
    // Three entries: offsets 0..=4 (ts +30), 5..=5 (ts +10), 6..=9 (ts +20).
    commit_batches(&mut state, t, 0, vec![with_ts(plain(10, 5), T0 + 30)]);
    commit_batches(&mut state, t, 0, vec![with_ts(plain(10, 1), T0 + 10)]);
    commit_batches(&mut state, t, 0, vec![with_ts(plain(10, 4), T0 + 20)]);
    let log = partition(&state, t, 0);
    let bases = |offset| {
        log.entries_from(offset)
            .map(|e| e.base_offset)
            .collect::<Vec<_>>()
    };
    assert_eq!(bases(-5), vec![0, 5, 6]);
    assert_eq!(bases(0), vec![0, 5, 6]);
    assert_eq!(bases(4), vec![0, 5, 6]);
    assert_eq!(bases(5), vec![5, 6]);
    assert_eq!(bases(7), vec![6]);
    assert_eq!(bases(9), vec![6]);
    assert_eq!(bases(10), Vec::<i64>::new());

    let by_ts = |ts| {
        log.first_entry_with_max_timestamp_at_or_after(ts)
            .map(|e| e.base_offset)
    };
    assert_eq!(by_ts(T0), Some(0));
    assert_eq!(by_ts(T0 + 30), Some(0));
    assert_eq!(by_ts(T0 + 31), None);
    assert_eq!(log.size_bytes(), 30);
}

#[test]
fn objects_get_increasing_ids_and_unreferenced_ones_are_listed() {
    let (mut state, t) = state_with_topic(1);
    let a = commit(&mut state, vec![chunk(t, 0, 0, vec![plain(10, 1)])]);
    let empty = commit(
        &mut state,
        vec![chunk(topic_id(404), 0, 0, vec![plain(10, 1)])],
    );
    let b = commit(&mut state, vec![]);
    assert_eq!(
        (empty.object_id, b.object_id),
        (a.object_id + 1, a.object_id + 2)
    );
    assert_eq!(
        state.object_key(a.object_id),
        Some(format!("segments/obj-{}", a.object_id).as_str())
    );
    let meta = state.object(a.object_id).expect("registered");
    assert_eq!(
        (
            meta.size,
            meta.broker_id,
            meta.created_ms,
            meta.live_entries
        ),
        (OBJECT_SIZE, 1, T0, 1)
    );
    let unreferenced: Vec<u64> = state.unreferenced_objects().map(|(id, _, _)| id).collect();
    assert_eq!(unreferenced, vec![empty.object_id, b.object_id]);
    assert_eq!(state.object_key(999), None);
}
