//! The coordinator's bounds, and that one group's trouble never holds up another: groups in
//! memory (idle empty groups make room), parked JoinGroup/SyncGroup requests, and a group
//! stuck in a long rebalance while its neighbour completes a whole round.

use crate::group_support;
use crate::support;

use group_support::*;
use kafka_protocol::messages::{DescribeGroupsRequest, JoinGroupRequest};
use support::*;

#[tokio::test]
async fn idle_empty_groups_make_room_and_busy_ones_do_not() {
    let broker = TestBroker::start_with(|c| {
        c.group_initial_rebalance_delay_ms = 0;
        c.max_groups = 2;
    })
    .await;
    let mut client = broker.client().await;
    create_topic(&mut client, "t", 1, &[]).await;
    let busy = join_new(&mut client, "busy", 7, &["t"]).await;
    assert_eq!(busy.error_code, NONE);

    // Standalone groups come and go from memory; their offsets stay with the controller.
    for (i, group_id) in ["solo-1", "solo-2", "solo-3"].into_iter().enumerate() {
        let committed = client
            .call(
                8,
                &commit_request(group_id, -1, "", &[("t", 0, i as i64, "")]),
            )
            .await;
        assert_eq!(commit_codes(&committed), vec![NONE], "{group_id}");
    }
    for (i, group_id) in ["solo-1", "solo-2", "solo-3"].into_iter().enumerate() {
        assert_eq!(
            fetch_offsets(&mut client, group_id, "t", &[0]).await[0].0,
            i as i64
        );
    }
    // A second group with members fills memory; a third cannot get in.
    let other = join_new(&mut client, "busy-2", 7, &["t"]).await;
    assert_eq!(other.error_code, NONE);
    let refused = client.call(7, &join_request("busy-3", "", 7, &["t"])).await;
    assert_eq!(refused.error_code, COORDINATOR_NOT_AVAILABLE);
    // Groups only the controller holds are still described (without loading them).
    let mut describe = DescribeGroupsRequest::default();
    describe.groups = vec![group("busy"), group("solo-1"), group("never")];
    let described = client.call(5, &describe).await;
    let states: Vec<&str> = described
        .groups
        .iter()
        .map(|g| g.group_state.as_str())
        .collect();
    assert_eq!(states, vec!["CompletingRebalance", "Empty", "Dead"]);
    assert!(described.groups.iter().all(|g| g.error_code == NONE));
    broker.stop().await;
}

#[tokio::test]
async fn parked_requests_are_bounded() {
    let broker = TestBroker::start_with(|c| {
        // The first rebalance of a group waits this long for more members.
        c.group_initial_rebalance_delay_ms = 1_000;
        c.max_group_waiters = 1;
    })
    .await;
    let mut first = broker.client().await;
    let mut second = broker.client().await;
    // JoinGroup v3: no member id round trip, so the join parks at once.
    let parked = first.send(3, &join_request("slow", "", 3, &["t"])).await;
    let refused = second.call(3, &join_request("other", "", 3, &["t"])).await;
    assert_eq!(refused.error_code, COORDINATOR_NOT_AVAILABLE);
    let answered = first.recv::<JoinGroupRequest>(3, parked).await;
    assert_eq!((answered.error_code, answered.generation_id), (NONE, 1));
    // The slot is free again.
    let now_fine = second.call(3, &join_request("other", "", 3, &["t"])).await;
    assert_eq!(now_fine.error_code, NONE);
    broker.stop().await;
}

#[tokio::test]
async fn a_group_stuck_in_a_rebalance_does_not_hold_up_another() {
    let broker = TestBroker::start_with(|c| c.group_initial_rebalance_delay_ms = 0).await;
    let mut admin = broker.client().await;
    create_topic(&mut admin, "t", 2, &[]).await;
    let (mut a, mut b, mut c) = (
        broker.client().await,
        broker.client().await,
        broker.client().await,
    );

    // Group "stuck": A and B stable; A rejoins and waits (up to the 20 s rebalance timeout)
    // for B, which never rejoins.
    let ja = join_new(&mut a, "stuck", 7, &["t"]).await;
    let a_id = ja.member_id.to_string();
    a.call(
        5,
        &sync_request("stuck", &a_id, 1, &[(&a_id, assignment("t", &[0, 1]))]),
    )
    .await;
    let first = b.call(7, &join_request("stuck", "", 7, &["t"])).await;
    let b_id = first.member_id.to_string();
    let b_join = b.send(7, &join_request("stuck", &b_id, 7, &["t"])).await;
    let ja = a.call(7, &join_request("stuck", &a_id, 7, &["t"])).await;
    b.recv::<JoinGroupRequest>(7, b_join).await;
    let b_sync = b
        .send(5, &sync_request("stuck", &b_id, ja.generation_id, &[]))
        .await;
    a.call(5, &sync_request("stuck", &a_id, ja.generation_id, &[]))
        .await;
    b.recv::<kafka_protocol::messages::SyncGroupRequest>(5, b_sync)
        .await;
    let a_rejoin = a.send(7, &join_request("stuck", &a_id, 7, &["t"])).await;

    // Meanwhile group "fine" does a whole round and commits.
    let joined = join_new(&mut c, "fine", 7, &["t"]).await;
    assert_eq!(joined.error_code, NONE);
    let c_id = joined.member_id.to_string();
    let synced = c
        .call(
            5,
            &sync_request(
                "fine",
                &c_id,
                joined.generation_id,
                &[(&c_id, assignment("t", &[0]))],
            ),
        )
        .await;
    assert_eq!(synced.error_code, NONE);
    let committed = c
        .call(
            8,
            &commit_request("fine", joined.generation_id, &c_id, &[("t", 0, 1, "")]),
        )
        .await;
    assert_eq!(commit_codes(&committed), vec![NONE]);

    // "stuck" is still rebalancing: B is told so, and only then does it rejoin, releasing A.
    assert_eq!(
        heartbeat(&mut b, "stuck", &b_id, ja.generation_id).await,
        REBALANCE_IN_PROGRESS
    );
    let b_join = b.send(7, &join_request("stuck", &b_id, 7, &["t"])).await;
    let ra = a.recv::<JoinGroupRequest>(7, a_rejoin).await;
    let rb = b.recv::<JoinGroupRequest>(7, b_join).await;
    assert_eq!(
        (ra.generation_id, rb.generation_id),
        (ja.generation_id + 1, ja.generation_id + 1)
    );
    broker.stop().await;
}
