use super::*;

#[test]
fn a_first_join_gets_a_member_id_then_the_initial_delay_completes_the_round() {
    let mut group = ClassicGroup::new("g", config(DELAY));
    let (id, mut rx) = join_new(&mut group, 0);
    assert_eq!(group.state(), GroupState::PreparingRebalance);
    assert_eq!(group.next_deadline(), Some(DELAY));

    group.on_timer(DELAY - 1);
    assert!(
        answered(&mut rx).is_none(),
        "the initial delay has not passed"
    );
    group.on_timer(DELAY);
    let result = answer(&mut rx);
    assert_eq!(result.error, None);
    assert_eq!(
        (
            result.generation_id,
            result.leader.as_str(),
            result.member_id.as_str()
        ),
        (1, id.as_str(), id.as_str())
    );
    assert_eq!(result.protocol_name.as_deref(), Some("range"));
    assert_eq!(result.protocol_type.as_deref(), Some("consumer"));
    assert_eq!(result.members.len(), 1, "the leader gets the member list");
    assert_eq!(result.members[0].metadata, subscription(&["orders"]));
    assert_eq!(group.state(), GroupState::CompletingRebalance);
}

#[test]
fn the_initial_delay_stretches_while_members_keep_arriving() {
    let mut group = ClassicGroup::new("g", config(DELAY));
    let (a, mut rx_a) = join_new(&mut group, 0);
    let (b, mut rx_b) = join_new(&mut group, 1_000);
    group.on_timer(DELAY);
    assert!(
        answered(&mut rx_a).is_none(),
        "a new member extended the delay"
    );
    assert_eq!(group.next_deadline(), Some(2 * DELAY));
    group.on_timer(2 * DELAY);
    let (ra, rb) = (answer(&mut rx_a), answer(&mut rx_b));
    assert_eq!((ra.generation_id, rb.generation_id), (1, 1));
    assert_eq!(ra.leader, a, "the first joiner leads");
    assert_eq!(rb.leader, a);
    assert_eq!(ra.members.len(), 2);
    assert!(
        rb.members.is_empty(),
        "followers do not get the member list"
    );
    assert_eq!(rb.member_id, b);
}

#[test]
fn old_clients_join_without_the_member_id_round_trip() {
    let mut group = ClassicGroup::new("g", config(0));
    let mut request = join_request("", None);
    request.require_known_member_id = false;
    let mut rx = parked(group.join(request, 0));
    group.on_timer(0);
    let result = answer(&mut rx);
    assert_eq!((result.error, result.generation_id), (None, 1));
    assert!(result.member_id.starts_with("client-"));
}

#[test]
fn leader_and_followers_get_the_leaders_assignment_once_it_is_stored() {
    let mut group = ClassicGroup::new("g", config(0));
    let (a, mut rx_a) = join_new(&mut group, 0);
    let (b, mut rx_b) = join_new(&mut group, 0);
    group.on_timer(0);
    group.on_timer(0);
    let (ra, rb) = (answer(&mut rx_a), answer(&mut rx_b));
    assert_eq!(
        (ra.leader.as_str(), rb.leader.as_str()),
        (a.as_str(), a.as_str())
    );

    // The follower syncs first and waits for the leader.
    let mut sync_b = sync_parked(group.sync(sync_request(&b, 1, &[]), 10));
    assert!(answered(&mut sync_b).is_none());
    let mut sync_a =
        sync_parked(group.sync(sync_request(&a, 1, &[(&a, "for-a"), (&b, "for-b")]), 20));
    assert!(
        answered(&mut sync_a).is_none(),
        "nothing is handed out before it is stored"
    );
    let stores = group.take_stores();
    assert_eq!(
        store_purposes(&stores),
        vec![StorePurpose::Assignment { generation: 1 }]
    );
    let stored = &stores[0].group;
    assert_eq!(
        (stored.generation, stored.leader.as_deref()),
        (1, Some(a.as_str()))
    );
    let stored_assignments: Vec<(&str, &[u8])> = stored
        .members
        .iter()
        .map(|m| (m.member_id.as_str(), m.assignment.as_slice()))
        .collect();
    assert!(stored_assignments.contains(&(b.as_str(), b"for-b".as_slice())));

    group.on_store_done(&stores[0].purpose, Ok(()), 30);
    assert_eq!(group.state(), GroupState::Stable);
    assert_eq!(answer(&mut sync_a).assignment, Bytes::from("for-a"));
    let for_b = answer(&mut sync_b);
    assert_eq!(
        (for_b.error, for_b.assignment),
        (None, Bytes::from("for-b"))
    );
    assert_eq!(for_b.protocol_name.as_deref(), Some("range"));

    // A member that syncs again in Stable gets its assignment at once.
    let again = sync_ready(group.sync(sync_request(&b, 1, &[]), 40));
    assert_eq!(again.assignment, Bytes::from("for-b"));
}

#[test]
fn protocols_are_chosen_by_vote_among_those_everyone_supports() {
    let mut group = ClassicGroup::new("g", config(0));
    let with = |names: &[&str]| JoinRequest {
        protocols: protocols(names),
        require_known_member_id: false,
        ..join_request("", None)
    };
    let mut rx1 = parked(group.join(with(&["range", "roundrobin"]), 0));
    let _rx2 = parked(group.join(with(&["roundrobin", "range"]), 0));
    let _rx3 = parked(group.join(with(&["roundrobin", "range", "sticky"]), 0));
    for _ in 0..3 {
        group.on_timer(0);
    }
    assert_eq!(
        answer(&mut rx1).protocol_name.as_deref(),
        Some("roundrobin")
    );

    // A member sharing no protocol, or of another type, cannot join.
    let refused = ready(group.join(with(&["sticky"]), 0));
    assert_eq!(
        refused.error,
        Some(CoordinatorError::InconsistentGroupProtocol)
    );
    let other_type = JoinRequest {
        protocol_type: "connect".into(),
        ..with(&["range"])
    };
    assert_eq!(
        ready(group.join(other_type, 0)).error,
        Some(CoordinatorError::InconsistentGroupProtocol)
    );
    // An empty protocol list cannot even start a group.
    let mut empty = ClassicGroup::new("e", config(0));
    assert_eq!(
        ready(empty.join(with(&[]), 0)).error,
        Some(CoordinatorError::InconsistentGroupProtocol)
    );
}

#[test]
fn the_rebalance_timeout_removes_members_that_do_not_rejoin() {
    let (mut group, ids) = stable_group(2);
    let (a, b) = (&ids[0], &ids[1]);
    // A third member arrives: a rebalance starts and waits for everyone.
    let (c, mut rx_c) = join_new(&mut group, 100);
    assert_eq!(group.state(), GroupState::PreparingRebalance);
    assert_eq!(
        group.heartbeat(a, None, 1, 200),
        Err(CoordinatorError::RebalanceInProgress)
    );
    let mut rx_a = parked(group.join(join_request(a, None), 300));
    // b stays alive (its heartbeats say a rebalance is on) but never rejoins.
    for t in [9_000, 18_000, 27_000] {
        assert_eq!(
            group.heartbeat(b, None, 1, t),
            Err(CoordinatorError::RebalanceInProgress)
        );
        group.on_timer(t);
    }
    group.on_timer(100 + REBALANCE - 1);
    assert!(answered(&mut rx_a).is_none());
    group.on_timer(100 + REBALANCE);
    let (ra, rc) = (answer(&mut rx_a), answer(&mut rx_c));
    assert_eq!((ra.generation_id, rc.generation_id), (2, 2));
    assert!(!group.has_member(b), "b never rejoined and was removed");
    assert_eq!(group.member_count(), 2);
    assert_eq!(ra.leader, *a);
    assert_eq!(rc.member_id, c);
    assert_eq!(
        group.heartbeat(b, None, 1, 100 + REBALANCE),
        Err(CoordinatorError::UnknownMemberId)
    );
}

#[test]
fn a_joined_member_leads_when_the_old_leader_does_not_rejoin() {
    let (mut group, ids) = stable_group(3);
    let leader = ids[0].clone();
    assert_eq!(group.leader(), Some(leader.as_str()));
    // A follower with new metadata starts the rebalance; the leader stays silent.
    let mut changed = join_request(&ids[1], None);
    changed.protocols = protocols(&["range", "roundrobin"]);
    let mut rx_b = parked(group.join(changed, 10));
    assert_eq!(group.state(), GroupState::PreparingRebalance);
    let mut rx_c = parked(group.join(join_request(&ids[2], None), 10));
    group.on_timer(10 + REBALANCE);
    let (rb, rc) = (answer(&mut rx_b), answer(&mut rx_c));
    assert_ne!(rb.leader, leader);
    assert_eq!(rb.leader, rc.leader);
    assert!(ids[1..].contains(&rb.leader));
    assert_eq!(group.member_count(), 2);
}

#[test]
fn everyone_rejoining_completes_the_round_without_waiting() {
    let (mut group, ids) = stable_group(2);
    let mut rx_a = parked(group.join(join_request(&ids[0], None), 50));
    assert!(answered(&mut rx_a).is_none());
    let mut rx_b = parked(group.join(join_request(&ids[1], None), 60));
    assert_eq!(answer(&mut rx_a).generation_id, 2);
    assert_eq!(answer(&mut rx_b).generation_id, 2);
    assert_eq!(group.state(), GroupState::CompletingRebalance);
}

#[test]
fn a_follower_rejoining_with_unchanged_metadata_keeps_the_generation() {
    let (mut group, ids) = stable_group(2);
    let follower = &ids[1];
    let result = ready(group.join(join_request(follower, None), 10));
    assert_eq!((result.error, result.generation_id), (None, 1));
    assert!(result.members.is_empty());
    assert_eq!(group.state(), GroupState::Stable, "no rebalance");

    // Changed metadata (e.g. cooperative-sticky after revoking partitions) rebalances.
    let mut changed = join_request(follower, None);
    changed.protocols = vec![("range".into(), subscription(&["orders", "payments"]))];
    let _rx = parked(group.join(changed, 20));
    assert_eq!(group.state(), GroupState::PreparingRebalance);
}

#[test]
fn the_leader_rejoining_a_stable_group_forces_a_rebalance() {
    let (mut group, ids) = stable_group(2);
    let _rx = parked(group.join(join_request(&ids[0], None), 10));
    assert_eq!(group.state(), GroupState::PreparingRebalance);
}

#[test]
fn a_join_during_the_sync_phase_sends_waiting_members_back_to_rejoin() {
    let mut group = ClassicGroup::new("g", config(0));
    let (a, mut rx_a) = join_new(&mut group, 0);
    group.on_timer(0);
    assert_eq!(answer(&mut rx_a).generation_id, 1);
    // a leads; its assignment is still being stored when a new member arrives.
    let mut sync_a = sync_parked(group.sync(sync_request(&a, 1, &[]), 0));
    let (_b, _rx_b) = join_new(&mut group, 5);
    let result = answer(&mut sync_a);
    assert_eq!(result.error, Some(CoordinatorError::RebalanceInProgress));
    assert_eq!(group.state(), GroupState::PreparingRebalance);
    // The assignment store finishing late changes nothing.
    complete_stores(&mut group, 6);
    assert_eq!(group.state(), GroupState::PreparingRebalance);
}

#[test]
fn a_resent_join_in_the_sync_phase_gets_the_same_generation_again() {
    let mut group = ClassicGroup::new("g", config(0));
    let (a, mut rx) = join_new(&mut group, 0);
    group.on_timer(0);
    let first = answer(&mut rx);
    let again = ready(group.join(join_request(&a, None), 1));
    assert_eq!(again.generation_id, first.generation_id);
    assert_eq!(again.members.len(), 1, "the leader gets the members again");
    assert_eq!(group.state(), GroupState::CompletingRebalance);
}

#[test]
fn a_failed_store_fails_the_sync_and_rebalances() {
    let mut group = ClassicGroup::new("g", config(0));
    let (a, mut rx) = join_new(&mut group, 0);
    group.on_timer(0);
    answer(&mut rx);
    let mut sync = sync_parked(group.sync(sync_request(&a, 1, &[(&a, "x")]), 0));
    let stores = group.take_stores();
    group.on_store_done(
        &stores[0].purpose,
        Err(CoordinatorError::CoordinatorNotAvailable),
        1,
    );
    assert_eq!(
        answer(&mut sync).error,
        Some(CoordinatorError::CoordinatorNotAvailable)
    );
    assert_eq!(group.state(), GroupState::PreparingRebalance);
}

#[test]
fn members_that_never_sync_are_removed_after_the_rebalance_timeout() {
    let mut group = ClassicGroup::new("g", config(0));
    let (a, mut rx_a) = join_new(&mut group, 0);
    let (b, mut rx_b) = join_new(&mut group, 0);
    group.on_timer(0);
    group.on_timer(0);
    answer(&mut rx_a);
    answer(&mut rx_b);
    let mut sync_b = sync_parked(group.sync(sync_request(&b, 1, &[]), 10));
    // The leader (a) never syncs.
    group.on_timer(REBALANCE);
    assert!(!group.has_member(&a));
    assert_eq!(group.state(), GroupState::PreparingRebalance);
    assert_eq!(
        answer(&mut sync_b).error,
        Some(CoordinatorError::RebalanceInProgress)
    );
    assert!(
        group.has_member(&b),
        "b's session restarted when its sync was answered"
    );
}

#[test]
fn a_full_group_turns_new_members_away() {
    let (mut group, _) = stable_group(4);
    let result = ready(group.join(join_request("", None), 10));
    assert_eq!(result.error, Some(CoordinatorError::GroupMaxSizeReached));
    assert!(
        group.pending_members.is_empty(),
        "no member id was handed out"
    );
    assert_eq!(group.member_count(), 4);
    assert_eq!(group.state(), GroupState::Stable);
}
