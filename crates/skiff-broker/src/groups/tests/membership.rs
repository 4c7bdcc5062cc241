use super::*;
use crate::groups::sync::LeavingMember;

#[test]
fn heartbeats_answer_as_kafka_does_in_every_state() {
    let (mut group, ids) = stable_group(2);
    let (a, b) = (&ids[0], &ids[1]);
    assert_eq!(group.heartbeat(a, None, 1, 10), Ok(()));
    assert_eq!(
        group.heartbeat("stranger", None, 1, 10),
        Err(CoordinatorError::UnknownMemberId)
    );
    assert_eq!(
        group.heartbeat(a, None, 0, 10),
        Err(CoordinatorError::IllegalGeneration)
    );
    assert_eq!(
        group.heartbeat(a, None, 2, 10),
        Err(CoordinatorError::IllegalGeneration)
    );

    // A rejoin starts a rebalance: heartbeats with the current generation say so.
    let _rx = parked(group.join(join_request(a, None), 20));
    assert_eq!(
        group.heartbeat(b, None, 1, 30),
        Err(CoordinatorError::RebalanceInProgress)
    );
    let _rx_b = parked(group.join(join_request(b, None), 40));
    // New generation, sync phase: the new generation is fine, the old one is stale.
    assert_eq!(group.state(), GroupState::CompletingRebalance);
    assert_eq!(group.heartbeat(b, None, 2, 50), Ok(()));
    assert_eq!(
        group.heartbeat(b, None, 1, 50),
        Err(CoordinatorError::IllegalGeneration)
    );
}

#[test]
fn a_silent_member_expires_and_the_rest_rebalance_without_it() {
    let (mut group, ids) = stable_group(2);
    let (a, b) = (&ids[0], &ids[1]);
    // a heartbeats every 4 s; b is silent after its sync at time 0.
    for t in [4_000, 8_000] {
        assert_eq!(group.heartbeat(a, None, 1, t), Ok(()));
        group.on_timer(t);
    }
    assert!(
        group.has_member(b),
        "b's session ({SESSION} ms) has not expired yet"
    );
    assert!(group.next_deadline().is_some_and(|d| d <= SESSION));
    group.on_timer(SESSION);
    assert!(!group.has_member(b));
    assert_eq!(group.state(), GroupState::PreparingRebalance);
    assert_eq!(
        group.heartbeat(a, None, 1, SESSION + 1),
        Err(CoordinatorError::RebalanceInProgress)
    );
    // a rejoins; as the only member left it completes the round at once.
    let mut rx = parked(group.join(join_request(a, None), SESSION + 2));
    let result = answer(&mut rx);
    assert_eq!((result.generation_id, result.members.len()), (2, 1));
}

#[test]
fn members_parked_in_join_or_sync_do_not_expire() {
    let (mut group, ids) = stable_group(2);
    let (a, b) = (&ids[0], &ids[1]);
    let mut rx_a = parked(group.join(join_request(a, None), 5_000));
    group.on_timer(SESSION + 5_000);
    // b was silent and is gone; a waited in JoinGroup and was not expired.
    assert!(group.has_member(a));
    assert!(!group.has_member(b));
    assert_eq!(answer(&mut rx_a).generation_id, 2);
}

#[test]
fn member_ids_handed_out_expire_if_unused_and_hold_up_the_round_meanwhile() {
    let (mut group, ids) = stable_group(1);
    // A newcomer gets an id but does not come back with it yet.
    let first = ready(group.join(join_request("", None), 100));
    assert_eq!(first.error, Some(CoordinatorError::MemberIdRequired));
    assert!(group.is_pending_member(&first.member_id));
    // The existing member rejoins; the round waits for the pending id.
    let mut rx = parked(group.join(join_request(&ids[0], None), 200));
    assert!(answered(&mut rx).is_none());
    group.on_timer(100 + SESSION);
    assert!(!group.is_pending_member(&first.member_id));
    assert_eq!(
        answer(&mut rx).generation_id,
        2,
        "the round completes once the id expired"
    );
}

#[test]
fn leaving_rebalances_and_the_last_member_leaving_empties_the_group() {
    let (mut group, ids) = stable_group(2);
    let (a, b) = (&ids[0], &ids[1]);
    let leaving = [LeavingMember {
        member_id: b.clone(),
        instance_id: None,
    }];
    assert_eq!(group.leave(&leaving, 10), Ok(vec![Ok(())]));
    assert_eq!(group.state(), GroupState::PreparingRebalance);
    assert_eq!(
        group.leave(&leaving, 11),
        Ok(vec![Err(CoordinatorError::UnknownMemberId)])
    );
    let mut rx = parked(group.join(join_request(a, None), 20));
    assert_eq!(answer(&mut rx).generation_id, 2);

    group.take_stores();
    let last = [LeavingMember {
        member_id: a.clone(),
        instance_id: None,
    }];
    assert_eq!(group.leave(&last, 30), Ok(vec![Ok(())]));
    assert_eq!(group.state(), GroupState::Empty);
    assert_eq!(
        group.generation(),
        3,
        "emptying the group is a generation too"
    );
    let stores = group.take_stores();
    assert_eq!(store_purposes(&stores), vec![StorePurpose::Empty]);
    assert!(stores[0].group.members.is_empty());
}

#[test]
fn a_member_leaving_while_others_wait_in_join_completes_the_round() {
    let (mut group, ids) = stable_group(2);
    let mut rx_a = parked(group.join(join_request(&ids[0], None), 10));
    let leaving = [LeavingMember {
        member_id: ids[1].clone(),
        instance_id: None,
    }];
    assert_eq!(group.leave(&leaving, 20), Ok(vec![Ok(())]));
    assert_eq!(answer(&mut rx_a).generation_id, 2);
}

#[test]
fn a_member_leaving_while_parked_in_join_is_told_it_is_unknown() {
    let (mut group, ids) = stable_group(2);
    let mut changed = join_request(&ids[1], None);
    changed.protocols = protocols(&["range", "roundrobin"]);
    let mut rx_b = parked(group.join(changed, 10));
    let leaving = [LeavingMember {
        member_id: ids[1].clone(),
        instance_id: None,
    }];
    assert_eq!(group.leave(&leaving, 20), Ok(vec![Ok(())]));
    assert_eq!(
        answer(&mut rx_b).error,
        Some(CoordinatorError::UnknownMemberId)
    );
}

#[test]
fn offset_commits_are_checked_against_the_generation_and_member() {
    let (mut group, ids) = stable_group(2);
    let a = &ids[0];
    assert_eq!(group.validate_offset_commit(a, None, 1, 10), Ok(()));
    assert_eq!(
        group.validate_offset_commit(a, None, 0, 10),
        Err(CoordinatorError::IllegalGeneration)
    );
    assert_eq!(
        group.validate_offset_commit("x", None, 1, 10),
        Err(CoordinatorError::UnknownMemberId)
    );
    // Standalone commits are refused while members own the partitions.
    assert_eq!(
        group.validate_offset_commit("", None, -1, 10),
        Err(CoordinatorError::UnknownMemberId)
    );
    // During the join phase members may still commit what they processed (eager revocation).
    let _rx = parked(group.join(join_request(a, None), 20));
    assert_eq!(group.validate_offset_commit(a, None, 1, 21), Ok(()));
    let _rx_b = parked(group.join(join_request(&ids[1], None), 22));
    // In the sync phase the new generation is known but assignments are not.
    assert_eq!(
        group.validate_offset_commit(a, None, 2, 23),
        Err(CoordinatorError::RebalanceInProgress)
    );

    let mut empty = ClassicGroup::new("standalone", config(0));
    assert_eq!(empty.validate_offset_commit("", None, -1, 0), Ok(()));
    assert_eq!(
        empty.validate_offset_commit("m", None, 1, 0),
        Err(CoordinatorError::UnknownMemberId)
    );
}

#[test]
fn a_commit_counts_as_a_heartbeat() {
    let (mut group, ids) = stable_group(1);
    assert_eq!(
        group.validate_offset_commit(&ids[0], None, 1, SESSION - 1),
        Ok(())
    );
    group.on_timer(SESSION);
    assert!(group.has_member(&ids[0]));
}

#[test]
fn member_ids_handed_out_but_unused_are_bounded() {
    let mut group = ClassicGroup::new("g", config(0));
    for _ in 0..4 {
        let result = ready(group.join(join_request("", None), 0));
        assert_eq!(result.error, Some(CoordinatorError::MemberIdRequired));
    }
    let refused = ready(group.join(join_request("", None), 0));
    assert_eq!(refused.error, Some(CoordinatorError::GroupMaxSizeReached));
    group.on_timer(SESSION);
    assert!(group.pending_members.is_empty(), "unused ids expired");
    assert_eq!(
        ready(group.join(join_request("", None), SESSION)).error,
        Some(CoordinatorError::MemberIdRequired)
    );
}
