use super::*;
use crate::groups::sync::LeavingMember;

#[test]
fn descriptions_show_metadata_and_assignments_only_when_stable() {
    let (mut group, ids) = stable_group(2);
    let stable = group.describe();
    assert_eq!(
        (
            stable.state,
            stable.protocol.as_str(),
            stable.protocol_type.as_str()
        ),
        (GroupState::Stable, "range", "consumer")
    );
    assert_eq!(stable.members.len(), 2);
    let first = stable
        .members
        .iter()
        .find(|m| m.member_id == ids[0])
        .expect("listed");
    assert_eq!(first.assignment, Bytes::from("a-0"));
    assert_eq!(first.metadata, subscription(&["orders"]));
    assert_eq!(
        (first.client_id.as_str(), first.client_host.as_str()),
        ("client", "/127.0.0.1")
    );

    let _rx = parked(group.join(join_request(&ids[0], None), 10));
    let rebalancing = group.describe();
    assert_eq!(rebalancing.state, GroupState::PreparingRebalance);
    assert_eq!(rebalancing.protocol, "");
    assert!(
        rebalancing
            .members
            .iter()
            .all(|m| m.assignment.is_empty() && m.metadata.is_empty())
    );
}

#[test]
fn only_empty_groups_can_be_deleted() {
    let (mut group, ids) = stable_group(1);
    assert_eq!(group.prepare_delete(), Err(CoordinatorError::NonEmptyGroup));
    let leaving = [LeavingMember {
        member_id: ids[0].clone(),
        instance_id: None,
    }];
    group.leave(&leaving, 10).expect("group alive");
    assert_eq!(group.state(), GroupState::Empty);
    assert_eq!(group.prepare_delete(), Ok(()));
    assert_eq!(group.state(), GroupState::Dead);
    assert_eq!(
        group.prepare_delete(),
        Err(CoordinatorError::GroupIdNotFound)
    );
    // A dead group turns joiners away until the coordinator forgets it.
    assert_eq!(
        ready(group.join(join_request("", None), 20)).error,
        Some(CoordinatorError::CoordinatorNotAvailable)
    );
}

#[test]
fn offsets_of_subscribed_topics_are_protected_from_deletion() {
    let (group, _) = stable_group(2);
    assert_eq!(group.validate_offset_delete(), Ok(()));
    assert!(
        group.is_subscribed_to("orders"),
        "the members' metadata subscribes to it"
    );
    assert!(!group.is_subscribed_to("payments"));

    // A group of another protocol type cannot have offsets deleted while active.
    let mut other = ClassicGroup::new("o", config(0));
    let mut request = join_request("", None);
    request.protocol_type = "connect".into();
    request.require_known_member_id = false;
    let _rx = parked(other.join(request, 0));
    assert_eq!(
        other.validate_offset_delete(),
        Err(CoordinatorError::NonEmptyGroup)
    );
    // Empty groups never are subscribed.
    let empty = ClassicGroup::new("e", config(0));
    assert_eq!(empty.validate_offset_delete(), Ok(()));
    assert!(!empty.is_subscribed_to("orders"));
}

#[test]
fn unreadable_subscriptions_count_as_subscribed() {
    let mut group = ClassicGroup::new("g", config(0));
    let mut request = join_request("", None);
    request.require_known_member_id = false;
    request.protocols = vec![("range".into(), Bytes::from_static(b"\x00"))];
    let _rx = parked(group.join(request, 0));
    group.on_timer(0);
    assert!(group.is_subscribed_to("anything"));
}

#[test]
fn a_stored_group_loads_stable_and_accepts_its_members() {
    let (mut group, ids) = stable_group(2);
    // The snapshot the coordinator would store after this generation.
    let leaving_nobody: [LeavingMember; 0] = [];
    group.leave(&leaving_nobody, 0).expect("alive");
    group.request_store(StorePurpose::Empty, None);
    let stored = group.take_stores().remove(0).group;
    assert_eq!(stored.members.len(), 2);

    let loaded_at = 1_000_000;
    let mut loaded = ClassicGroup::from_stored(&stored, config(0), loaded_at, 0);
    assert_eq!(loaded.state(), GroupState::Stable);
    assert_eq!(loaded.generation(), 1);
    assert_eq!(loaded.leader(), Some(ids[0].as_str()));
    assert_eq!(loaded.protocol(), Some("range"));
    assert!(loaded.is_subscribed_to("orders"));
    // Members carry on with the persisted generation and get their old assignments.
    assert_eq!(loaded.heartbeat(&ids[1], None, 1, loaded_at + 1), Ok(()));
    let assignment =
        sync_ready(loaded.sync(sync_request(&ids[1], 1, &[]), loaded_at + 2)).assignment;
    assert_eq!(assignment, Bytes::from("a-1"));
    // Sessions started at load time: the member that stays silent expires a session later.
    loaded.on_timer(loaded_at + SESSION - 1);
    assert!(loaded.has_member(&ids[0]));
    loaded.on_timer(loaded_at + SESSION);
    assert!(!loaded.has_member(&ids[0]));
    assert!(loaded.has_member(&ids[1]), "its sync restarted its session");
}

#[test]
fn members_whose_previous_coordinator_went_silent_count_that_silence_in_their_sessions() {
    let (mut group, ids) = stable_group(2);
    group.request_store(StorePurpose::Empty, None);
    let stored = group.take_stores().remove(0).group;
    let loaded_at = 1_000_000;
    // The previous coordinator stopped serving 3 s before the load.
    let mut loaded = ClassicGroup::from_stored(&stored, config(0), loaded_at, 3_000);
    assert_eq!(loaded.heartbeat(&ids[1], None, 1, loaded_at + 1), Ok(()));
    loaded.on_timer(loaded_at + SESSION - 3_000 - 1);
    assert!(loaded.has_member(&ids[0]));
    loaded.on_timer(loaded_at + SESSION - 3_000);
    assert!(
        !loaded.has_member(&ids[0]),
        "expired a session after it was last heard"
    );
    assert!(
        loaded.has_member(&ids[1]),
        "it heartbeated the new coordinator"
    );

    // Silence longer than a session still leaves half a session to find the new coordinator.
    let mut late = ClassicGroup::from_stored(&stored, config(0), loaded_at, 10 * SESSION);
    late.on_timer(loaded_at + SESSION / 2 - 1);
    assert!(late.has_member(&ids[0]) && late.has_member(&ids[1]));
    late.on_timer(loaded_at + SESSION / 2);
    assert!(!late.has_member(&ids[0]) && !late.has_member(&ids[1]));
}

#[test]
fn a_commit_from_a_taken_over_member_keeps_its_session_only_once_it_was_heard_here() {
    let (mut group, ids) = stable_group(2);
    group.request_store(StorePurpose::Empty, None);
    let stored = group.take_stores().remove(0).group;
    let loaded_at = 1_000_000;
    let mut loaded = ClassicGroup::from_stored(&stored, config(0), loaded_at, 0);
    // A commit queued at the previous coordinator arrives from a client that may have given
    // the id up: it is stored (valid generation) but does not extend the session.
    assert_eq!(
        loaded.validate_offset_commit(&ids[0], None, 1, loaded_at + 5_000),
        Ok(())
    );
    // Member 1 heartbeats here first; from then on its commits keep it alive too.
    assert_eq!(
        loaded.heartbeat(&ids[1], None, 1, loaded_at + 1_000),
        Ok(())
    );
    assert_eq!(
        loaded.validate_offset_commit(&ids[1], None, 1, loaded_at + 5_000),
        Ok(())
    );
    loaded.on_timer(loaded_at + SESSION);
    assert!(
        !loaded.has_member(&ids[0]),
        "a session after the load, not after its commit"
    );
    loaded.on_timer(loaded_at + 5_000 + SESSION - 1);
    assert!(
        loaded.has_member(&ids[1]),
        "its commit counted once it was heard here"
    );
}

/// What a coordinator that just took a group over holds: the group stored by the previous
/// one, loaded at `loaded_at`, with members `ids` (the first is the leader).
fn taken_over(loaded_at: u64) -> (ClassicGroup, Vec<String>) {
    let (mut group, ids) = stable_group(2);
    group.request_store(StorePurpose::Empty, None);
    let stored = group.take_stores().remove(0).group;
    (
        ClassicGroup::from_stored(&stored, config(0), loaded_at, 0),
        ids,
    )
}

#[test]
fn members_that_rejoin_a_taken_over_group_with_their_ids_keep_them_without_a_wait() {
    let loaded_at = 1_000_000;
    let (mut group, ids) = taken_over(loaded_at);
    // A follower with unchanged metadata is told the current generation at once.
    let follower = ready(group.join(join_request(&ids[1], None), loaded_at + 1));
    assert_eq!(follower.error, None);
    assert_eq!(follower.generation_id, 1);
    assert_eq!(follower.member_id, ids[1]);
    assert_eq!(group.state(), GroupState::Stable);

    // The leader rejoining starts a rebalance that ends as soon as the follower is back too:
    // both keep their ids, and nobody waits out a session.
    let mut leader_rx = parked(group.join(join_request(&ids[0], None), loaded_at + 2));
    assert_eq!(group.state(), GroupState::PreparingRebalance);
    assert_eq!(
        group.heartbeat(&ids[1], None, 1, loaded_at + 3),
        Err(CoordinatorError::RebalanceInProgress)
    );
    let mut follower_rx = parked(group.join(join_request(&ids[1], None), loaded_at + 4));
    let leader = answer(&mut leader_rx);
    assert_eq!((leader.error, leader.generation_id), (None, 2));
    assert_eq!(leader.member_id, ids[0]);
    assert_eq!(leader.members.len(), 2, "the leader assigns to both");
    let follower = answer(&mut follower_rx);
    assert_eq!(
        (follower.generation_id, follower.member_id.as_str()),
        (2, ids[1].as_str())
    );
    assert_eq!(group.state(), GroupState::CompletingRebalance);
}

#[test]
fn ids_a_taken_over_group_never_hears_from_expire_a_session_after_the_load() {
    // A client whose own session timed out while the coordinator moved rejoins under a new id;
    // its old id is gone only when its session, started at the load, runs out.
    let loaded_at = 1_000_000;
    let (mut group, ids) = taken_over(loaded_at);
    let (new_id, mut rx) = join_new(&mut group, loaded_at + 10);
    assert_eq!(group.state(), GroupState::PreparingRebalance);
    group.on_timer(loaded_at + SESSION - 1);
    assert!(
        answered(&mut rx).is_none(),
        "the old ids still have their sessions"
    );
    assert!(group.has_member(&ids[0]) && group.has_member(&ids[1]));
    group.on_timer(loaded_at + SESSION);
    let joined = answer(&mut rx);
    assert_eq!((joined.error, joined.generation_id), (None, 2));
    assert_eq!(joined.member_id, new_id);
    assert_eq!(group.member_count(), 1, "only the new id is left");
}

#[test]
fn an_empty_stored_group_loads_empty() {
    let mut group = ClassicGroup::new("g", config(0));
    group.request_store(StorePurpose::Empty, None);
    let stored = group.take_stores().remove(0).group;
    let loaded = ClassicGroup::from_stored(&stored, config(0), 0, 0);
    assert_eq!(loaded.state(), GroupState::Empty);
    assert_eq!(loaded.protocol_type(), None);
    assert!(loaded.is_evictable());
}
