use super::*;
use crate::state::producer::sequence_after;

fn dup(base_offset: i64) -> BatchOutcome {
    BatchOutcome::Duplicate { base_offset }
}

fn stale_epoch(current: i16, got: i16) -> BatchOutcome {
    BatchOutcome::Rejected(ProduceError::InvalidProducerEpoch { current, got })
}

#[test]
fn sequence_arithmetic_wraps_at_i32_max() {
    assert_eq!(sequence_after(0, 1), 1);
    assert_eq!(sequence_after(i32::MAX, 1), 0);
    assert_eq!(sequence_after(i32::MAX - 1, 3), 1);
    assert_eq!(sequence_after(5, 0), 5);
}

#[test]
fn a_new_producer_may_start_at_any_sequence_then_must_continue() {
    let (mut state, t) = state_with_topic(1);
    let outcomes = commit_batches(
        &mut state,
        t,
        0,
        vec![idem(7, 0, 42, 3), idem(7, 0, 45, 2), idem(7, 0, 48, 1)],
    );
    assert_eq!(
        outcomes,
        vec![appended(0), appended(3), out_of_order(47, 48)]
    );
    let producer = partition(&state, t, 0)
        .producer_state(7)
        .expect("state kept");
    assert_eq!(
        (
            producer.epoch(),
            producer.last_sequence(),
            producer.last_batch_base_offset()
        ),
        (0, 46, 3)
    );
    assert_eq!(partition(&state, t, 0).high_watermark(), 5);
}

#[test]
fn a_retried_batch_is_a_duplicate_with_its_original_offset() {
    let (mut state, t) = state_with_topic(1);
    commit_batches(
        &mut state,
        t,
        0,
        vec![plain(10, 4), idem(7, 0, 0, 2), idem(7, 0, 2, 2)],
    );
    let outcomes = commit_batches(
        &mut state,
        t,
        0,
        vec![idem(7, 0, 2, 2), idem(7, 0, 0, 2), idem(7, 0, 4, 1)],
    );
    assert_eq!(outcomes, vec![dup(6), dup(4), appended(8)]);
    assert_eq!(
        partition(&state, t, 0).high_watermark(),
        9,
        "duplicates take no offsets"
    );
}

#[test]
fn duplicates_must_match_first_and_last_sequence() {
    let (mut state, t) = state_with_topic(1);
    commit_batches(&mut state, t, 0, vec![idem(7, 0, 0, 3)]);
    let outcomes = commit_batches(&mut state, t, 0, vec![idem(7, 0, 0, 2), idem(7, 0, 1, 2)]);
    assert_eq!(outcomes, vec![out_of_order(3, 0), out_of_order(3, 1)]);
}

#[test]
fn only_the_last_five_batches_are_remembered() {
    let (mut state, t) = state_with_topic(1);
    let batches = (0..6).map(|seq| idem(7, 0, seq, 1)).collect();
    assert_eq!(
        commit_batches(&mut state, t, 0, batches),
        (0..6).map(appended).collect::<Vec<_>>()
    );
    // Batches 1..=5 are the five newest; batch 0 is the sixth-oldest and forgotten.
    let outcomes = commit_batches(
        &mut state,
        t,
        0,
        vec![idem(7, 0, 1, 1), idem(7, 0, 5, 1), idem(7, 0, 0, 1)],
    );
    assert_eq!(outcomes, vec![dup(1), dup(5), out_of_order(6, 0)]);
}

#[test]
fn an_older_epoch_is_fenced() {
    let (mut state, t) = state_with_topic(1);
    commit_batches(&mut state, t, 0, vec![idem(7, 3, 0, 1)]);
    let outcomes = commit_batches(&mut state, t, 0, vec![idem(7, 2, 1, 1), idem(7, 2, 0, 1)]);
    assert_eq!(outcomes, vec![stale_epoch(3, 2), stale_epoch(3, 2)]);
}

#[test]
fn a_newer_epoch_must_restart_at_sequence_zero_and_forgets_the_old_epoch() {
    let (mut state, t) = state_with_topic(1);
    commit_batches(&mut state, t, 0, vec![idem(7, 0, 0, 1), idem(7, 0, 1, 1)]);
    let outcomes = commit_batches(
        &mut state,
        t,
        0,
        vec![
            idem(7, 1, 2, 1),
            idem(7, 1, 0, 1),
            idem(7, 0, 2, 1),
            idem(7, 1, 1, 1),
        ],
    );
    assert_eq!(
        outcomes,
        vec![
            out_of_order(0, 2),
            appended(2),
            stale_epoch(1, 0),
            appended(3)
        ]
    );
    // A batch of the old epoch with the same sequences as a new one is not a duplicate of it.
    let outcomes = commit_batches(&mut state, t, 0, vec![idem(7, 1, 0, 1), idem(7, 0, 0, 1)]);
    assert_eq!(outcomes, vec![dup(2), stale_epoch(1, 0)]);
}

#[test]
fn a_producer_without_state_on_a_partition_may_use_any_epoch_and_sequence() {
    let (mut state, t) = state_with_topic(2);
    commit_batches(&mut state, t, 0, vec![idem(7, 4, 10, 1)]);
    let outcomes = commit_batches(&mut state, t, 1, vec![idem(7, 9, 77, 1), idem(7, 9, 78, 1)]);
    assert_eq!(outcomes, vec![appended(0), appended(1)]);
    // Each partition keeps its own sequence state.
    let outcomes = commit_batches(&mut state, t, 0, vec![idem(7, 4, 11, 1)]);
    assert_eq!(outcomes, vec![appended(1)]);
}

#[test]
fn sequences_wrap_from_i32_max_to_zero() {
    let (mut state, t) = state_with_topic(1);
    let outcomes = commit_batches(
        &mut state,
        t,
        0,
        vec![
            idem(7, 0, i32::MAX - 1, 3),
            idem(7, 0, 1, 2),
            idem(7, 0, i32::MAX - 1, 3),
        ],
    );
    assert_eq!(outcomes, vec![appended(0), appended(3), dup(0)]);
    assert_eq!(
        partition(&state, t, 0)
            .producer_state(7)
            .map(|p| p.last_sequence()),
        Some(2)
    );

    let (mut state, t) = state_with_topic(1);
    let outcomes = commit_batches(
        &mut state,
        t,
        0,
        vec![idem(7, 0, i32::MAX, 1), idem(7, 0, 0, 1)],
    );
    assert_eq!(outcomes, vec![appended(0), appended(1)]);
    let outcomes = commit_batches(&mut state, t, 0, vec![idem(7, 0, i32::MAX, 1)]);
    assert_eq!(outcomes, vec![dup(0)]);
    let outcomes = commit_batches(&mut state, t, 0, vec![idem(7, 0, 2, 1)]);
    assert_eq!(outcomes, vec![out_of_order(1, 2)]);
}

#[test]
fn producers_are_independent_of_each_other() {
    let (mut state, t) = state_with_topic(1);
    let outcomes = commit_batches(
        &mut state,
        t,
        0,
        vec![
            idem(7, 0, 0, 1),
            idem(8, 0, 100, 1),
            idem(7, 0, 1, 1),
            idem(8, 0, 101, 1),
        ],
    );
    assert_eq!(
        outcomes,
        vec![appended(0), appended(1), appended(2), appended(3)]
    );
    assert_eq!(partition(&state, t, 0).producer_count(), 2);
}

#[test]
fn rejected_batches_do_not_change_producer_state() {
    let (mut state, t) = state_with_topic(1);
    commit_batches(&mut state, t, 0, vec![idem(7, 0, 0, 1)]);
    let outcomes = commit_batches(&mut state, t, 0, vec![idem(7, 0, 5, 1), idem(7, 0, 1, 1)]);
    assert_eq!(outcomes, vec![out_of_order(1, 5), appended(1)]);
}

#[test]
fn idempotent_batches_with_negative_sequence_or_epoch_are_invalid() {
    let (mut state, t) = state_with_topic(1);
    let outcomes = commit_batches(&mut state, t, 0, vec![idem(7, 0, -1, 1), idem(7, -1, 0, 1)]);
    for outcome in outcomes {
        assert_eq!(
            outcome,
            BatchOutcome::Rejected(ProduceError::InvalidBatch(
                BatchProblem::NegativeSequenceOrEpoch
            ))
        );
    }
    assert_eq!(partition(&state, t, 0).high_watermark(), 0);
}
