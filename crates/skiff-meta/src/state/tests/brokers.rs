//! Broker leases and object forgetting.

use super::*;

fn broker(id: i32) -> BrokerInfo {
    BrokerInfo {
        id,
        host: format!("b{id}"),
        port: 9092,
        rack: None,
    }
}

fn live_ids(state: &ControllerState) -> Vec<i32> {
    state.live_brokers().map(|b| b.id).collect()
}

#[test]
fn registered_brokers_are_live_until_expired_and_heartbeats_revive_them() {
    let mut state = ControllerState::default();
    run(&mut state, RegisterBroker(broker(1)));
    run(&mut state, RegisterBroker(broker(2)));
    assert_eq!(live_ids(&state), vec![1, 2]);

    let seen = state.broker_lease(2).expect("lease").heartbeats;
    run(
        &mut state,
        ExpireBroker {
            broker_id: 2,
            heartbeats_seen: seen,
        },
    );
    assert_eq!(live_ids(&state), vec![1]);
    assert_eq!(
        state.brokers().count(),
        2,
        "expired brokers stay registered"
    );

    let response = run(
        &mut state,
        BrokerHeartbeat {
            broker_id: 2,
            now_ms: T0,
        },
    );
    assert_eq!(response, HeartbeatAnswer::Accepted);
    assert_eq!(live_ids(&state), vec![1, 2]);
    assert_eq!(state.broker_lease(2).expect("lease").last_heartbeat_ms, T0);
    assert_eq!(state.clock_ms(), T0, "heartbeats carry the command clock");
}

#[test]
fn a_lease_renewal_keeps_a_live_lease_but_never_revives_a_lapsed_one() {
    let mut state = ControllerState::default();
    run(&mut state, RegisterBroker(broker(1)));
    run(&mut state, RegisterBroker(broker(2)));
    let renew = |broker_id| RenewBrokerLease {
        broker_id,
        now_ms: T0,
    };
    let before = state.broker_lease(2).expect("lease").heartbeats;
    assert_eq!(run(&mut state, renew(2)), HeartbeatAnswer::Accepted);
    let lease = state.broker_lease(2).expect("lease");
    assert_eq!(
        (lease.heartbeats, lease.last_heartbeat_ms),
        (before + 1, T0)
    );

    run(
        &mut state,
        ExpireBroker {
            broker_id: 2,
            heartbeats_seen: before + 1,
        },
    );
    let epoch = state.placement_epoch();
    assert_eq!(run(&mut state, renew(2)), HeartbeatAnswer::Lapsed);
    assert_eq!(live_ids(&state), vec![1], "still lapsed");
    assert_eq!(state.placement_epoch(), epoch, "placement did not move");
    assert_eq!(run(&mut state, renew(3)), HeartbeatAnswer::UnknownBroker);

    run(&mut state, RegisterBroker(broker(2)));
    assert_eq!(
        live_ids(&state),
        vec![1, 2],
        "registering makes it live again"
    );
}

#[test]
fn an_expiry_decided_before_a_newer_heartbeat_is_ignored() {
    let mut state = ControllerState::default();
    run(&mut state, RegisterBroker(broker(1)));
    let seen = state.broker_lease(1).expect("lease").heartbeats;
    run(
        &mut state,
        BrokerHeartbeat {
            broker_id: 1,
            now_ms: T0,
        },
    );
    run(
        &mut state,
        ExpireBroker {
            broker_id: 1,
            heartbeats_seen: seen,
        },
    );
    assert_eq!(live_ids(&state), vec![1], "the heartbeat won");
}

#[test]
fn unknown_brokers_are_told_to_register_and_unregistered_ones_vanish() {
    let mut state = ControllerState::default();
    assert_eq!(
        run(
            &mut state,
            BrokerHeartbeat {
                broker_id: 5,
                now_ms: T0
            }
        ),
        HeartbeatAnswer::UnknownBroker
    );
    run(&mut state, RegisterBroker(broker(5)));
    run(&mut state, UnregisterBroker { broker_id: 5 });
    assert_eq!(state.brokers().count(), 0);
    assert!(state.broker_lease(5).is_none());
    assert_eq!(live_ids(&state), Vec::<i32>::new());
}

#[test]
fn only_unreferenced_objects_are_forgotten() {
    let (mut state, topic) = state_with_topic(1);
    let result = commit(&mut state, vec![chunk(topic, 0, 0, vec![plain(100, 1)])]);
    let referenced = result.object_id;
    // An object whose every chunk was refused holds no entries.
    let refused = commit(
        &mut state,
        vec![chunk(topic_id(99), 0, 0, vec![plain(100, 1)])],
    );
    let unreferenced = refused.object_id;
    assert_eq!(
        state
            .unreferenced_objects()
            .map(|(id, _, _)| id)
            .collect::<Vec<_>>(),
        vec![unreferenced]
    );
    run(&mut state, ForgetObjects(vec![referenced, unreferenced]));
    assert!(state.object(referenced).is_some(), "still referenced: kept");
    assert!(state.object(unreferenced).is_none());
}
