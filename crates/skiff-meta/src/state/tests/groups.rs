use super::*;
use crate::state::GroupRecord;

fn offset(topic: TopicId, partition: u32, offset: i64, metadata: &str) -> PartitionOffset {
    PartitionOffset {
        topic_id: topic,
        partition,
        offset,
        leader_epoch: -1,
        metadata: metadata.to_string(),
    }
}

fn commit(
    state: &mut ControllerState,
    group: &str,
    time_ms: i64,
    partitions: Vec<PartitionOffset>,
) -> Vec<Result<(), GroupError>> {
    let proposal = CommitOffsets(vec![GroupOffsets {
        group_id: group.to_string(),
        commit_time_ms: time_ms,
        partitions,
    }]);
    run(state, proposal).remove(0)
}

fn committed(state: &ControllerState, group: &str, topic: TopicId, partition: u32) -> Option<i64> {
    state
        .group(group)
        .and_then(|g| g.offset(topic, partition))
        .map(|o| o.offset)
}

fn stored(group_id: &str, generation: i32, members: &[&str]) -> StoredGroup {
    StoredGroup {
        group_id: group_id.to_string(),
        protocol_type: "consumer".into(),
        generation,
        protocol: Some("range".into()),
        leader: members.first().map(|m| m.to_string()),
        members: members
            .iter()
            .map(|m| StoredMember {
                member_id: m.to_string(),
                group_instance_id: None,
                client_id: "c".into(),
                client_host: "/127.0.0.1".into(),
                session_timeout_ms: 10_000,
                rebalance_timeout_ms: 30_000,
                subscription: vec![0, 1, 2],
                assignment: vec![3, 4],
            })
            .collect(),
        stored_at_ms: T0,
    }
}

#[test]
fn offsets_are_kept_per_group_and_overwritten_by_later_commits() {
    let (mut state, t) = state_with_topic(3);
    assert_eq!(
        commit(
            &mut state,
            "a",
            T0,
            vec![offset(t, 0, 5, "m0"), offset(t, 2, 9, "")]
        ),
        vec![Ok(()), Ok(())]
    );
    assert_eq!(
        commit(&mut state, "b", T0 + 1, vec![offset(t, 0, 1, "")]),
        vec![Ok(())]
    );
    assert_eq!(
        commit(&mut state, "a", T0 + 2, vec![offset(t, 0, 7, "later")]),
        vec![Ok(())]
    );

    let a = state.group("a").expect("group a");
    let p0 = a.offset(t, 0).expect("partition 0 committed");
    assert_eq!(
        (
            p0.offset,
            p0.metadata.as_str(),
            p0.commit_time_ms,
            p0.leader_epoch
        ),
        (7, "later", T0 + 2, -1)
    );
    assert_eq!(committed(&state, "a", t, 2), Some(9));
    assert_eq!(committed(&state, "a", t, 1), None);
    assert_eq!(committed(&state, "b", t, 0), Some(1));
    assert_eq!(state.group_count(), 2);
    let ids: Vec<&str> = state.groups().map(|(id, _)| id).collect();
    assert_eq!(ids, vec!["a", "b"]);
    assert_eq!(state.clock_ms(), T0 + 2, "commit times advance the clock");
}

#[test]
fn commits_for_unknown_topics_or_partitions_fail_alone() {
    let (mut state, t) = state_with_topic(2);
    let results = commit(
        &mut state,
        "g",
        T0,
        vec![
            offset(t, 1, 3, ""),
            offset(t, 2, 3, ""),
            offset(topic_id(99), 0, 3, ""),
        ],
    );
    assert_eq!(
        results,
        vec![
            Ok(()),
            Err(GroupError::UnknownTopicOrPartition),
            Err(GroupError::UnknownTopicOrPartition)
        ]
    );
    assert_eq!(state.group("g").map(GroupRecord::offset_count), Some(1));
    // A commit that only names unknown partitions creates no group.
    commit(
        &mut state,
        "nothing",
        T0,
        vec![offset(topic_id(99), 0, 1, "")],
    );
    assert!(state.group("nothing").is_none());
}

#[test]
fn deleting_a_topic_drops_its_offsets_from_every_group() {
    let (mut state, t) = state_with_topic(2);
    let u = topic_id(2);
    create_topics(&mut state, vec![new_topic("u", u, 1)]);
    commit(
        &mut state,
        "both",
        T0,
        vec![
            offset(t, 0, 1, ""),
            offset(t, 1, 2, ""),
            offset(u, 0, 3, ""),
        ],
    );
    commit(&mut state, "only-t", T0, vec![offset(t, 1, 4, "")]);
    commit(&mut state, "only-u", T0, vec![offset(u, 0, 5, "")]);
    run(&mut state, StoreGroups(vec![stored("only-t", 3, &[])]));

    assert_eq!(run(&mut state, DeleteTopics(vec![t])), vec![Ok(())]);

    let both = state.group("both").expect("still has offsets for u");
    assert_eq!(
        both.offsets()
            .map(|(topic, p, o)| (topic, p, o.offset))
            .collect::<Vec<_>>(),
        vec![(u, 0, 3)]
    );
    let only_t = state.group("only-t").expect("metadata keeps the group");
    assert_eq!(only_t.offset_count(), 0);
    assert_eq!(only_t.metadata.as_ref().map(|m| m.generation), Some(3));
    assert_eq!(committed(&state, "only-u", u, 0), Some(5));

    // A group whose only offsets were on the deleted topic disappears with them.
    commit(&mut state, "gone", T0, vec![offset(u, 0, 1, "")]);
    run(&mut state, DeleteTopics(vec![u]));
    assert!(state.group("gone").is_none());
    assert!(state.group("both").is_none());
    assert!(state.group("only-u").is_none());
    assert!(state.group("only-t").is_some());

    // Recreating a topic with the same name does not resurrect old offsets.
    create_topics(&mut state, vec![new_topic("t", topic_id(3), 2)]);
    assert_eq!(committed(&state, "only-t", topic_id(3), 1), None);
}

#[test]
fn stored_metadata_round_trips_and_is_replaced_by_later_generations() {
    let mut state = ControllerState::default();
    let first = stored("g", 1, &["m-1", "m-2"]);
    assert_eq!(run(&mut state, StoreGroups(vec![first.clone()])), ());
    assert_eq!(
        state.group("g").and_then(|g| g.metadata.clone()),
        Some(first)
    );

    let empty = StoredGroup {
        members: vec![],
        leader: None,
        protocol: None,
        ..stored("g", 2, &[])
    };
    run(
        &mut state,
        StoreGroups(vec![stored("other", 5, &["x"]), empty.clone()]),
    );
    assert_eq!(
        state.group("g").and_then(|g| g.metadata.clone()),
        Some(empty)
    );
    assert_eq!(
        state
            .group("other")
            .and_then(|g| g.metadata.as_ref().map(|m| m.members.len())),
        Some(1)
    );
}

#[test]
fn deleting_groups_removes_metadata_and_offsets() {
    let (mut state, t) = state_with_topic(1);
    commit(&mut state, "g", T0, vec![offset(t, 0, 8, "")]);
    run(
        &mut state,
        StoreGroups(vec![stored("g", 4, &[]), stored("h", 1, &[])]),
    );
    let response = run(
        &mut state,
        DeleteGroups(vec!["g".into(), "missing".into(), "h".into()]),
    );
    assert_eq!(
        response,
        vec![Ok(()), Err(GroupError::UnknownGroup), Ok(())]
    );
    assert!(state.group("g").is_none());
    assert_eq!(state.group_count(), 0);
    // The topic index forgot the group too: deleting the topic later finds nothing to do, and a
    // new commit starts from scratch.
    commit(&mut state, "g", T0, vec![offset(t, 0, 1, "")]);
    assert_eq!(committed(&state, "g", t, 0), Some(1));
    run(&mut state, DeleteTopics(vec![t]));
    assert!(state.group("g").is_none());
}

#[test]
fn deleting_single_offsets_keeps_the_rest() {
    let (mut state, t) = state_with_topic(3);
    commit(
        &mut state,
        "g",
        T0,
        vec![offset(t, 0, 1, ""), offset(t, 1, 2, "")],
    );
    let response = run(
        &mut state,
        DeleteOffsets(vec![
            GroupOffsetDeletion {
                group_id: "g".into(),
                partitions: vec![(t, 0), (t, 2)],
            },
            GroupOffsetDeletion {
                group_id: "missing".into(),
                partitions: vec![(t, 0)],
            },
        ]),
    );
    assert_eq!(
        response,
        vec![vec![Ok(()), Ok(())], vec![Err(GroupError::UnknownGroup)]]
    );
    assert_eq!(committed(&state, "g", t, 0), None);
    assert_eq!(committed(&state, "g", t, 1), Some(2));
    // Deleting the last offset of a group without metadata removes the group.
    run(
        &mut state,
        DeleteOffsets(vec![GroupOffsetDeletion {
            group_id: "g".into(),
            partitions: vec![(t, 1)],
        }]),
    );
    assert!(state.group("g").is_none());
    // And its topic index entry: deleting the topic must not find a stale group.
    run(&mut state, DeleteTopics(vec![t]));
    assert_eq!(state.group_count(), 0);
}

#[test]
fn group_state_survives_serialisation() {
    let (mut state, t) = state_with_topic(2);
    commit(&mut state, "g", T0, vec![offset(t, 1, 42, "meta")]);
    run(&mut state, StoreGroups(vec![stored("g", 7, &["a", "b"])]));
    let bytes = postcard::to_allocvec(&state).expect("encodes");
    let back: ControllerState = postcard::from_bytes(&bytes).expect("decodes");
    assert_eq!(back, state);
    assert_eq!(committed(&back, "g", t, 1), Some(42));
}

fn broker(id: i32) -> BrokerInfo {
    BrokerInfo {
        id,
        host: format!("b{id}"),
        port: 9092,
        rack: None,
    }
}

fn commit_as(
    state: &mut ControllerState,
    broker_id: i32,
    group: &str,
    partitions: Vec<PartitionOffset>,
) -> Vec<Result<(), GroupError>> {
    let proposal = CommitOffsetsAsCoordinator {
        broker_id,
        commits: vec![GroupOffsets {
            group_id: group.to_string(),
            commit_time_ms: T0,
            partitions,
        }],
    };
    run(state, proposal).remove(0)
}

fn store_as(
    state: &mut ControllerState,
    broker_id: i32,
    group: StoredGroup,
) -> Result<(), GroupError> {
    let proposal = StoreGroupsAsCoordinator {
        broker_id,
        groups: vec![group],
    };
    run(state, proposal).remove(0)
}

/// Two live brokers and a group each of them coordinates, by the brokers' own placement.
fn two_brokers_with_a_group_each(state: &mut ControllerState) -> (String, String) {
    run(state, RegisterBroker(broker(1)));
    run(state, RegisterBroker(broker(2)));
    let brokers = [broker(1), broker(2)];
    let owned_by = |id: i32| {
        (0..)
            .map(|i| format!("group-{i}"))
            .find(|g| crate::placement::group_coordinator(g, &brokers) == Some(id))
            .expect("some group hashes to each broker")
    };
    (owned_by(1), owned_by(2))
}

#[test]
fn only_the_coordinating_broker_may_commit_a_groups_offsets() {
    let (mut state, t) = state_with_topic(1);
    let (of_1, of_2) = two_brokers_with_a_group_each(&mut state);

    assert_eq!(
        commit_as(&mut state, 1, &of_1, vec![offset(t, 0, 5, "")]),
        vec![Ok(())]
    );
    assert_eq!(
        commit_as(&mut state, 1, &of_2, vec![offset(t, 0, 9, "")]),
        vec![Err(GroupError::NotCoordinator)],
        "broker 1 does not coordinate {of_2}"
    );
    assert_eq!(committed(&state, &of_1, t, 0), Some(5));
    assert_eq!(
        committed(&state, &of_2, t, 0),
        None,
        "a fenced commit writes nothing"
    );
}

#[test]
fn a_write_queued_before_the_coordinator_lost_its_lease_cannot_land_after() {
    let (mut state, t) = state_with_topic(1);
    let (of_1, _) = two_brokers_with_a_group_each(&mut state);
    assert_eq!(
        commit_as(&mut state, 1, &of_1, vec![offset(t, 0, 10, "")]),
        vec![Ok(())]
    );

    // Broker 1's lease lapses: broker 2 takes the group over and commits further.
    let heartbeats = state.broker_lease(1).expect("lease").heartbeats;
    run(
        &mut state,
        ExpireBroker {
            broker_id: 1,
            heartbeats_seen: heartbeats,
        },
    );
    assert_eq!(
        commit_as(&mut state, 2, &of_1, vec![offset(t, 0, 20, "")]),
        vec![Ok(())]
    );
    assert_eq!(store_as(&mut state, 2, stored(&of_1, 4, &["m2"])), Ok(()));

    // A commit and a snapshot broker 1 proposed before it knew arrive now: both refused, so
    // the offset does not move backwards and the new coordinator's generation stays.
    assert_eq!(
        commit_as(&mut state, 1, &of_1, vec![offset(t, 0, 11, "")]),
        vec![Err(GroupError::NotCoordinator)]
    );
    assert_eq!(
        store_as(&mut state, 1, stored(&of_1, 3, &["m1"])),
        Err(GroupError::NotCoordinator)
    );
    assert_eq!(committed(&state, &of_1, t, 0), Some(20));
    let group = state.group(&of_1).expect("group");
    assert_eq!(group.metadata.as_ref().map(|s| s.generation), Some(4));
}

fn commit_fenced(
    state: &mut ControllerState,
    broker_id: i32,
    loaded_at: u64,
    group: &str,
    partitions: Vec<PartitionOffset>,
) -> Vec<Result<(), GroupError>> {
    let proposal = CommitOffsetsFenced {
        broker_id,
        commits: vec![FencedOffsets {
            loaded_at,
            offsets: GroupOffsets {
                group_id: group.to_string(),
                commit_time_ms: T0,
                partitions,
            },
        }],
    };
    run(state, proposal).remove(0)
}

fn store_fenced(
    state: &mut ControllerState,
    broker_id: i32,
    loaded_at: u64,
    group: StoredGroup,
) -> Result<(), GroupError> {
    let proposal = StoreGroupsFenced {
        broker_id,
        groups: vec![FencedGroup { loaded_at, group }],
    };
    run(state, proposal).remove(0)
}

fn expire(state: &mut ControllerState, broker_id: i32) {
    let heartbeats_seen = state.broker_lease(broker_id).expect("lease").heartbeats;
    run(
        state,
        ExpireBroker {
            broker_id,
            heartbeats_seen,
        },
    );
}

fn heartbeat(state: &mut ControllerState, broker_id: i32) {
    assert_eq!(
        run(
            state,
            BrokerHeartbeat {
                broker_id,
                now_ms: T0,
            }
        ),
        HeartbeatAnswer::Accepted
    );
}

#[test]
fn a_coordinator_that_lost_and_regained_its_lease_cannot_write_what_it_held_before() {
    let (mut state, t) = state_with_topic(1);
    let (of_1, _) = two_brokers_with_a_group_each(&mut state);
    let loaded_by_1 = state.placement_epoch();
    assert_eq!(
        store_fenced(&mut state, 1, loaded_by_1, stored(&of_1, 3, &["a", "b"])),
        Ok(())
    );

    // Broker 1 pauses: its lease lapses, broker 2 loads the group and carries it on.
    expire(&mut state, 1);
    let loaded_by_2 = state.placement_epoch();
    assert!(loaded_by_2 > loaded_by_1, "the live set changed");
    assert_eq!(
        commit_fenced(
            &mut state,
            2,
            loaded_by_2,
            &of_1,
            vec![offset(t, 0, 20, "")]
        ),
        vec![Ok(())]
    );
    // Broker 1 wakes and heartbeats first: it is live and the group's coordinator again by
    // placement, and only then writes what it decided on its stale clock.
    heartbeat(&mut state, 1);
    assert_eq!(
        crate::placement::group_coordinator(&of_1, state.live_brokers()),
        Some(1)
    );
    let emptied = StoredGroup {
        members: vec![],
        leader: None,
        ..stored(&of_1, 4, &[])
    };
    assert_eq!(
        store_fenced(&mut state, 1, loaded_by_1, emptied),
        Err(GroupError::NotCoordinator),
        "the group it loaded before the lapse is not the group any more"
    );
    assert_eq!(
        commit_fenced(
            &mut state,
            1,
            loaded_by_1,
            &of_1,
            vec![offset(t, 0, 11, "")]
        ),
        vec![Err(GroupError::NotCoordinator)]
    );
    let group = state.group(&of_1).expect("group");
    assert_eq!(
        group.metadata.as_ref().map(|g| g.members.len()),
        Some(2),
        "the members survive"
    );
    assert_eq!(committed(&state, &of_1, t, 0), Some(20));

    // Once it reloads the group (at the current epoch), its writes apply again.
    let reloaded = state.placement_epoch();
    assert_eq!(
        commit_fenced(&mut state, 1, reloaded, &of_1, vec![offset(t, 0, 21, "")]),
        vec![Ok(())]
    );
    assert_eq!(committed(&state, &of_1, t, 0), Some(21));
}

#[test]
fn an_interim_coordinators_generation_is_never_rolled_back() {
    let (mut state, _) = state_with_topic(1);
    let (of_1, _) = two_brokers_with_a_group_each(&mut state);
    let loaded_by_1 = state.placement_epoch();
    assert_eq!(
        store_fenced(&mut state, 1, loaded_by_1, stored(&of_1, 3, &["a"])),
        Ok(())
    );
    // A third broker joins and takes the group, writes generation 4, then leaves again: the
    // group is broker 1's by placement once more, without broker 1's lease ever lapsing.
    let third = (3..)
        .find(|id| crate::placement::group_coordinator_among(&of_1, [1, 2, *id]) == Some(*id))
        .expect("some id takes the group");
    run(&mut state, RegisterBroker(broker(third)));
    let loaded_by_third = state.placement_epoch();
    assert_eq!(
        store_fenced(
            &mut state,
            third,
            loaded_by_third,
            stored(&of_1, 4, &["a", "c"])
        ),
        Ok(())
    );
    run(&mut state, UnregisterBroker { broker_id: third });
    assert_eq!(
        crate::placement::group_coordinator(&of_1, state.live_brokers()),
        Some(1)
    );
    assert_eq!(
        store_fenced(&mut state, 1, loaded_by_1, stored(&of_1, 3, &["a"])),
        Err(GroupError::NotCoordinator),
        "generation 3 from before the interim coordinator must not replace its generation 4"
    );
    assert_eq!(
        state
            .group(&of_1)
            .and_then(|g| g.metadata.as_ref())
            .map(|g| g.generation),
        Some(4)
    );
}

#[test]
fn a_write_from_an_epoch_the_history_no_longer_holds_is_refused() {
    let (mut state, _) = state_with_topic(1);
    let (of_1, _) = two_brokers_with_a_group_each(&mut state);
    let loaded = state.placement_epoch();
    // Broker 2 flaps until the history has forgotten the epoch broker 1 loaded the group at,
    // even though broker 1 kept the group throughout.
    for _ in 0..=crate::state::LIVE_SETS_KEPT {
        expire(&mut state, 2);
        heartbeat(&mut state, 2);
    }
    assert!(
        state
            .live_history()
            .coordinated_throughout(&of_1, 1, state.placement_epoch())
    );
    assert_eq!(
        store_fenced(&mut state, 1, loaded, stored(&of_1, 3, &["a"])),
        Err(GroupError::NotCoordinator),
        "too old to check: the broker reloads the group and tries again"
    );
    assert_eq!(
        store_fenced(&mut state, 1, loaded + 1_000_000, stored(&of_1, 3, &["a"])),
        Err(GroupError::NotCoordinator),
        "an epoch from the future is never trusted"
    );
    let now = state.placement_epoch();
    assert_eq!(
        store_fenced(&mut state, 1, now, stored(&of_1, 3, &["a"])),
        Ok(())
    );
}

#[test]
fn the_placement_epoch_moves_only_when_the_live_set_does() {
    let mut state = ControllerState::default();
    assert_eq!(state.placement_epoch(), 0);
    run(&mut state, RegisterBroker(broker(1)));
    assert_eq!(state.placement_epoch(), 1);
    heartbeat(&mut state, 1);
    run(&mut state, RegisterBroker(broker(1)));
    assert_eq!(
        state.placement_epoch(),
        1,
        "heartbeats and re-registrations of a live broker"
    );
    expire(&mut state, 1);
    assert_eq!(state.placement_epoch(), 2);
    heartbeat(&mut state, 1);
    assert_eq!(state.placement_epoch(), 3);
}

fn expire_offsets(state: &mut ControllerState, now: i64, groups: &[&str]) -> Vec<u32> {
    run(
        state,
        ExpireGroupOffsets {
            now_ms: now,
            retention_ms: DAY,
            groups: groups.iter().map(|g| g.to_string()).collect(),
        },
    )
}

#[test]
fn offsets_of_a_group_with_members_never_expire() {
    let (mut state, t) = state_with_topic(1);
    commit(&mut state, "g", T0, vec![offset(t, 0, 5, "")]);
    run(&mut state, StoreGroups(vec![stored("g", 1, &["m"])]));
    assert_eq!(expire_offsets(&mut state, T0 + 30 * DAY, &["g"]), vec![0]);
    assert_eq!(committed(&state, "g", t, 0), Some(5));
}

#[test]
fn an_empty_groups_offsets_expire_together_from_when_it_became_empty() {
    let (mut state, t) = state_with_topic(2);
    commit(&mut state, "g", T0, vec![offset(t, 0, 5, "")]);
    commit(&mut state, "g", T0 + 2 * DAY, vec![offset(t, 1, 7, "")]);
    let mut empty = stored("g", 2, &[]);
    empty.stored_at_ms = T0 + 3 * DAY;
    run(&mut state, StoreGroups(vec![empty]));
    // One day after the group emptied, not yet (the first offset's age does not matter).
    assert_eq!(
        expire_offsets(&mut state, T0 + 4 * DAY - 1, &["g"]),
        vec![0]
    );
    assert_eq!(expire_offsets(&mut state, T0 + 4 * DAY, &["g"]), vec![2]);
    assert!(
        state.group("g").is_none(),
        "an empty group without offsets is gone"
    );
}

#[test]
fn standalone_offsets_expire_one_by_one_from_their_commit() {
    let (mut state, t) = state_with_topic(2);
    commit(&mut state, "s", T0, vec![offset(t, 0, 5, "")]);
    commit(&mut state, "s", T0 + DAY / 2, vec![offset(t, 1, 7, "")]);
    assert_eq!(
        expire_offsets(&mut state, T0 + DAY, &["s", "unknown"]),
        vec![1, 0]
    );
    assert_eq!(committed(&state, "s", t, 0), None);
    assert_eq!(committed(&state, "s", t, 1), Some(7));
    assert_eq!(expire_offsets(&mut state, T0 + 2 * DAY, &["s"]), vec![1]);
    assert!(state.group("s").is_none());
    // The topic index forgot the group too: deleting the topic touches nothing.
    run(&mut state, DeleteTopics(vec![t]));
    assert_eq!(state.group_count(), 0);
}

#[test]
fn the_previous_coordinator_is_the_last_other_broker_that_held_the_group() {
    let (mut state, _) = state_with_topic(1);
    let (of_1, of_2) = two_brokers_with_a_group_each(&mut state);
    let history = |state: &ControllerState| state.live_history().clone();
    // Each broker has held its group since the start: nobody held it before.
    assert_eq!(history(&state).previous_coordinator(&of_1, 1), None);
    // Broker 1 lapses: broker 2 takes its group over from broker 1.
    expire(&mut state, 1);
    assert_eq!(history(&state).previous_coordinator(&of_1, 2), Some(1));
    // Broker 2's own group was broker 1's while broker 1 was the only live broker.
    assert_eq!(history(&state).previous_coordinator(&of_2, 2), Some(1));
    // Still broker 1 after broker 3 joins and leaves again while broker 2 keeps the group.
    run(&mut state, RegisterBroker(broker(3)));
    let stays_on_2 = crate::placement::group_coordinator(&of_1, &[broker(2), broker(3)]) == Some(2);
    run(&mut state, UnregisterBroker { broker_id: 3 });
    if stays_on_2 {
        assert_eq!(history(&state).previous_coordinator(&of_1, 2), Some(1));
    } else {
        assert_eq!(history(&state).previous_coordinator(&of_1, 2), Some(3));
    }
}
