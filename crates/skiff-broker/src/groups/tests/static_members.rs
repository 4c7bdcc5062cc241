use super::*;
use crate::groups::sync::LeavingMember;

/// A Stable generation-1 group of static members "i0", "i1", … (i0 leads), each assigned
/// "a-<index>".
fn static_group(count: usize) -> (ClassicGroup, Vec<String>) {
    let mut group = ClassicGroup::new("g", config(0));
    let mut joins = Vec::new();
    for i in 0..count {
        let instance = format!("i{i}");
        // Static members skip the member-id round trip.
        let rx = parked(group.join(join_request("", Some(&instance)), 0));
        joins.push(rx);
    }
    for _ in 0..count {
        group.on_timer(0);
    }
    let ids: Vec<String> = joins.iter_mut().map(|rx| answer(rx).member_id).collect();
    assert!(
        ids[0].starts_with("i0-"),
        "static member ids start with the instance id: {}",
        ids[0]
    );
    let assignments: Vec<(String, String)> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.clone(), format!("a-{i}")))
        .collect();
    let pairs: Vec<(&str, &str)> = assignments
        .iter()
        .map(|(m, a)| (m.as_str(), a.as_str()))
        .collect();
    let mut syncs: Vec<_> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let sent = if i == 0 { pairs.as_slice() } else { &[] };
            let mut request = sync_request(id, 1, sent);
            request.instance_id = Some(format!("i{i}"));
            sync_parked(group.sync(request, 0))
        })
        .collect();
    complete_stores(&mut group, 0);
    for rx in &mut syncs {
        assert_eq!(answer(rx).error, None);
    }
    (group, ids)
}

#[test]
fn a_restarted_static_member_takes_its_place_back_without_a_rebalance() {
    let (mut group, ids) = static_group(2);
    let old = ids[1].clone();
    let mut rx = parked(group.join(join_request("", Some("i1")), 100));
    assert_eq!(group.state(), GroupState::Stable, "no rebalance");
    assert_eq!(group.generation(), 1);
    let stores = group.take_stores();
    let new_id = match &stores[..] {
        [
            StoreRequest {
                purpose: StorePurpose::StaticRejoin { member_id, .. },
                group: stored,
                ..
            },
        ] => {
            assert!(stored.members.iter().any(|m| &m.member_id == member_id));
            assert!(!stored.members.iter().any(|m| m.member_id == old));
            member_id.clone()
        }
        other => panic!("expected one static rejoin store, got {other:?}"),
    };
    assert!(
        answered(&mut rx).is_none(),
        "answered only once the new id is stored"
    );
    group.on_store_done(&stores[0].purpose, Ok(()), 110);
    let result = answer(&mut rx);
    assert_eq!(
        (
            result.error,
            result.generation_id,
            result.member_id.as_str()
        ),
        (None, 1, new_id.as_str())
    );
    assert_eq!(result.leader, ids[0], "the leader is unchanged");
    assert!(result.members.is_empty());

    // Its SyncGroup returns the assignment it had before the restart.
    let mut sync = sync_request(&new_id, 1, &[]);
    sync.instance_id = Some("i1".into());
    assert_eq!(
        sync_ready(group.sync(sync, 120)).assignment,
        Bytes::from("a-1")
    );

    // The old incarnation is fenced.
    assert_eq!(
        group.heartbeat(&old, Some("i1"), 1, 130),
        Err(CoordinatorError::FencedInstanceId)
    );
    let mut stale_sync = sync_request(&old, 1, &[]);
    stale_sync.instance_id = Some("i1".into());
    assert_eq!(
        sync_ready(group.sync(stale_sync, 130)).error,
        Some(CoordinatorError::FencedInstanceId)
    );
    assert_eq!(group.heartbeat(&new_id, Some("i1"), 1, 130), Ok(()));
}

#[test]
fn a_restarted_static_leader_is_not_told_to_assign() {
    let (mut group, ids) = static_group(2);
    // Pre-v9 clients are given the old leader id, which is not theirs, so they only sync.
    let mut rx = parked(group.join(join_request("", Some("i0")), 100));
    complete_stores(&mut group, 100);
    let result = answer(&mut rx);
    assert_eq!(result.leader, ids[0]);
    assert_ne!(result.member_id, ids[0]);
    assert_eq!(
        group.leader(),
        Some(result.member_id.as_str()),
        "the group's leader is the new id"
    );

    // v9 clients learn they lead but must skip the assignment.
    let mut v9 = join_request("", Some("i0"));
    v9.supports_skip_assignment = true;
    let mut rx = parked(group.join(v9, 200));
    complete_stores(&mut group, 200);
    let result = answer(&mut rx);
    assert_eq!(result.leader, result.member_id);
    assert!(result.skip_assignment);
    assert_eq!(result.members.len(), 2);
}

#[test]
fn a_parked_request_of_the_replaced_instance_is_fenced() {
    let (mut group, ids) = static_group(2);
    // The old incarnation is parked in a rejoin (which starts a rebalance)...
    let mut old_join = join_request(&ids[1], Some("i1"));
    old_join.protocols = protocols(&["range", "roundrobin"]);
    let mut rx_old = parked(group.join(old_join, 100));
    // ...when the restarted one shows up.
    let _rx_new = parked(group.join(join_request("", Some("i1")), 110));
    assert_eq!(
        answer(&mut rx_old).error,
        Some(CoordinatorError::FencedInstanceId)
    );
}

#[test]
fn static_members_leave_by_instance_id_and_expire_like_others() {
    let (mut group, ids) = static_group(3);
    let by_instance = [LeavingMember {
        member_id: String::new(),
        instance_id: Some("i2".into()),
    }];
    assert_eq!(group.leave(&by_instance, 10), Ok(vec![Ok(())]));
    assert!(!group.has_member(&ids[2]));
    assert_eq!(group.static_member_id("i2"), None);
    let unknown = [LeavingMember {
        member_id: String::new(),
        instance_id: Some("nope".into()),
    }];
    assert_eq!(
        group.leave(&unknown, 10),
        Ok(vec![Err(CoordinatorError::UnknownMemberId)])
    );
    // The wrong member id for an instance is fenced.
    let wrong = [LeavingMember {
        member_id: ids[0].clone(),
        instance_id: Some("i1".into()),
    }];
    assert_eq!(
        group.leave(&wrong, 10),
        Ok(vec![Err(CoordinatorError::FencedInstanceId)])
    );

    // Nobody rejoins but both keep heartbeating: static members are not dropped for
    // missing the join phase...
    for (i, id) in ids[..2].iter().enumerate() {
        let instance = format!("i{i}");
        assert_eq!(
            group.heartbeat(id, Some(&instance), 1, 25_000),
            Err(CoordinatorError::RebalanceInProgress)
        );
    }
    group.on_timer(10 + REBALANCE);
    assert_eq!(group.member_count(), 2);
    assert_eq!(group.state(), GroupState::PreparingRebalance);
    // ...but their sessions expire like anyone's.
    group.on_timer(25_000 + SESSION);
    assert_eq!(group.member_count(), 0);
    assert_eq!(group.state(), GroupState::Empty);
}

#[test]
fn a_static_member_missing_the_join_phase_keeps_its_membership() {
    let (mut group, ids) = static_group(2);
    let mut rx = parked(group.join(join_request(&ids[0], Some("i0")), 10));
    // i1 heartbeats but does not rejoin; the round ends at the rebalance timeout.
    assert_eq!(
        group.heartbeat(&ids[1], Some("i1"), 1, 25_000),
        Err(CoordinatorError::RebalanceInProgress)
    );
    group.on_timer(10 + REBALANCE);
    let result = answer(&mut rx);
    assert_eq!(result.generation_id, 2);
    assert_eq!(
        result.members.len(),
        2,
        "the absent static member is still listed"
    );
    assert!(group.has_member(&ids[1]));
}
