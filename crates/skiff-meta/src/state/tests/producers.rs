use super::*;
use crate::state::{FIRST_PRODUCER_ID, PRODUCER_IDLE_EXPIRY_MS};

fn init(
    state: &mut ControllerState,
    current: Option<(i64, i16)>,
) -> Result<(i64, i16), ProducerError> {
    run(state, InitProducerId { current }).map(|p| (p.id, p.epoch))
}

#[test]
fn producer_ids_are_allocated_from_1000_and_epochs_bump() {
    let mut state = ControllerState::default();
    assert_eq!(init(&mut state, None), Ok((FIRST_PRODUCER_ID, 0)));
    assert_eq!(init(&mut state, None), Ok((1001, 0)));
    assert_eq!(
        init(&mut state, Some((-1, -1))),
        Ok((1002, 0)),
        "Kafka's 'no producer id' allocates"
    );
    assert_eq!(init(&mut state, Some((1000, 0))), Ok((1000, 1)));
    assert_eq!(init(&mut state, Some((1000, 1))), Ok((1000, 2)));
    assert_eq!(state.producer_epoch(1000), Some(2));
    assert_eq!(
        init(&mut state, Some((1000, 1))),
        Err(ProducerError::InvalidProducerEpoch)
    );
    assert_eq!(
        init(&mut state, Some((5000, 0))),
        Err(ProducerError::UnknownProducerId)
    );
    assert_eq!(state.registered_producer_count(), 3);
}

#[test]
fn an_exhausted_epoch_gets_a_new_producer_id() {
    let mut state = ControllerState::default();
    let (id, _) = init(&mut state, None).expect("allocated");
    for epoch in 0..i16::MAX {
        assert_eq!(init(&mut state, Some((id, epoch))), Ok((id, epoch + 1)));
    }
    assert_eq!(init(&mut state, Some((id, i16::MAX))), Ok((id + 1, 0)));
    assert_eq!(
        state.producer_epoch(id),
        None,
        "the exhausted id is retired"
    );
    assert_eq!(
        init(&mut state, Some((id, i16::MAX))),
        Err(ProducerError::UnknownProducerId)
    );
}

#[test]
fn producer_state_idle_for_over_seven_days_is_dropped() {
    let (mut state, t) = state_with_topic(2);
    commit_batches_at(&mut state, T0, t, 0, vec![idem(7, 0, 0, 1)]);
    // Six days later the state is still enforced.
    let outcomes = commit_batches_at(&mut state, T0 + 6 * DAY, t, 0, vec![idem(7, 0, 50, 1)]);
    assert_eq!(outcomes, vec![out_of_order(1, 50)]);
    // Past seven days idle (sweeps run at most hourly) the producer starts afresh.
    let later = T0 + PRODUCER_IDLE_EXPIRY_MS + 2 * HOUR;
    commit_batches_at(&mut state, later, t, 1, vec![plain(10, 1)]);
    assert!(partition(&state, t, 0).producer_state(7).is_none());
    assert_eq!(state.producer_state_count(), 0);
    let outcomes = commit_batches_at(&mut state, later, t, 0, vec![idem(7, 0, 50, 1)]);
    assert_eq!(outcomes, vec![appended(1)]);
}

#[test]
fn appends_keep_producer_state_alive() {
    let (mut state, t) = state_with_topic(1);
    for day in 0..10 {
        let seq = day as i32;
        let outcomes =
            commit_batches_at(&mut state, T0 + day * DAY, t, 0, vec![idem(7, 0, seq, 1)]);
        assert_eq!(outcomes, vec![appended(day)], "day {day}");
    }
    assert_eq!(state.producer_state_count(), 1);
}

#[test]
fn expiry_sweeps_run_at_most_once_per_hour_of_command_time() {
    let (mut state, t) = state_with_topic(2);
    commit_batches_at(&mut state, T0, t, 0, vec![idem(7, 0, 0, 1)]);
    let sweep_time = T0 + PRODUCER_IDLE_EXPIRY_MS - 10 * 60 * 1000;
    // Sweeps here: the state is not yet idle for seven days.
    commit_batches_at(&mut state, sweep_time, t, 1, vec![plain(10, 1)]);
    assert_eq!(state.producer_state_count(), 1);
    // Now idle for longer than seven days, but the last sweep was only 30 minutes ago.
    let outcomes = commit_batches_at(
        &mut state,
        sweep_time + 30 * 60 * 1000,
        t,
        0,
        vec![idem(7, 0, 9, 1)],
    );
    assert_eq!(outcomes, vec![out_of_order(1, 9)]);
    // An hour after the last sweep the next one drops it.
    let outcomes = commit_batches_at(&mut state, sweep_time + HOUR, t, 0, vec![idem(7, 0, 9, 1)]);
    assert_eq!(outcomes, vec![appended(1)]);
}

#[test]
fn command_time_never_runs_backwards() {
    let (mut state, t) = state_with_topic(1);
    commit_batches_at(&mut state, T0 + DAY, t, 0, vec![plain(10, 1)]);
    commit_batches_at(&mut state, T0, t, 0, vec![plain(10, 1)]);
    assert_eq!(state.clock_ms(), T0 + DAY);
}

#[test]
fn idle_registered_producers_expire_but_active_ones_stay() {
    let (mut state, t) = state_with_topic(1);
    commit_batches_at(&mut state, T0, t, 0, vec![plain(10, 1)]);
    let (idle, _) = init(&mut state, None).expect("allocated");
    let (active, _) = init(&mut state, None).expect("allocated");
    commit_batches_at(&mut state, T0 + 5 * DAY, t, 0, vec![idem(active, 0, 0, 1)]);
    commit_batches_at(&mut state, T0 + 8 * DAY, t, 0, vec![plain(10, 1)]);
    assert_eq!(
        init(&mut state, Some((idle, 0))),
        Err(ProducerError::UnknownProducerId)
    );
    assert_eq!(init(&mut state, Some((active, 0))), Ok((active, 1)));
}

#[test]
fn expiry_handles_ten_thousand_partitions() {
    let (mut state, t) = state_with_topic(10_000);
    let chunks = (0..10_000u32)
        .map(|p| {
            chunk(
                t,
                p,
                u64::from(p) * 100,
                vec![idem(i64::from(p) + 1, 0, 0, 1)],
            )
        })
        .collect();
    let result = commit_at(&mut state, T0, chunks);
    assert_eq!(result.chunks.len(), 10_000);
    assert_eq!(state.producer_state_count(), 10_000);
    // Many small commits touching one partition keep only that producer alive.
    for hour in 1..=200 {
        let seq = hour as i32;
        let outcomes =
            commit_batches_at(&mut state, T0 + hour * HOUR, t, 0, vec![idem(1, 0, seq, 1)]);
        assert_eq!(outcomes, vec![appended(hour)]);
    }
    assert_eq!(state.producer_state_count(), 1);
    assert!(partition(&state, t, 0).producer_state(1).is_some());
    assert!(partition(&state, t, 9_999).producer_state(10_000).is_none());
}
