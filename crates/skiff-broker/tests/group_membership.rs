//! Consumer group membership over real sockets, as a consumer drives it: join (with the
//! member-id round trip), leader assignment through SyncGroup, heartbeats across a
//! rebalance, leaving, static members, and the errors clients get for bad requests.

use crate::group_support;
use crate::support;

use group_support::*;
use kafka_protocol::messages::leave_group_request::MemberIdentity;
use kafka_protocol::messages::{DescribeGroupsRequest, JoinGroupRequest, LeaveGroupRequest};
use support::*;

async fn broker() -> TestBroker {
    TestBroker::start_with(|c| c.group_initial_rebalance_delay_ms = 0).await
}

#[tokio::test]
async fn two_members_share_the_partitions_the_leader_assigns() {
    let broker = broker().await;
    let mut admin = broker.client().await;
    create_topic(&mut admin, "orders", 6, &[]).await;
    let (mut a, mut b) = (broker.client().await, broker.client().await);

    // A alone: generation 1, leading itself.
    let ja = join_new(&mut a, "readers", 7, &["orders"]).await;
    assert_eq!((ja.error_code, ja.generation_id), (NONE, 1));
    let a_id = ja.member_id.to_string();
    assert_eq!(ja.leader.as_str(), a_id);
    assert_eq!(ja.members.len(), 1);
    assert_eq!(ja.protocol_name.as_deref(), Some("range"));
    let sa = a
        .call(
            5,
            &sync_request(
                "readers",
                &a_id,
                1,
                &[(&a_id, assignment("orders", &[0, 1, 2, 3, 4, 5]))],
            ),
        )
        .await;
    assert_eq!(sa.error_code, NONE);
    assert_eq!(assigned_partitions(sa.assignment), vec![0, 1, 2, 3, 4, 5]);
    assert_eq!(heartbeat(&mut a, "readers", &a_id, 1).await, NONE);

    // B joins: its join waits while A learns of the rebalance through its heartbeat.
    let first = b
        .call(7, &join_request("readers", "", 7, &["orders"]))
        .await;
    assert_eq!(first.error_code, MEMBER_ID_REQUIRED);
    let b_id = first.member_id.to_string();
    assert!(
        b_id.starts_with("skiff-test-"),
        "member ids start with the client id: {b_id}"
    );
    let b_join = b
        .send(7, &join_request("readers", &b_id, 7, &["orders"]))
        .await;
    assert_eq!(
        heartbeat(&mut a, "readers", &a_id, 1).await,
        REBALANCE_IN_PROGRESS
    );
    let ja = a
        .call(7, &join_request("readers", &a_id, 7, &["orders"]))
        .await;
    let jb = b.recv::<JoinGroupRequest>(7, b_join).await;
    assert_eq!((ja.error_code, jb.error_code), (NONE, NONE));
    assert_eq!((ja.generation_id, jb.generation_id), (2, 2));
    assert_eq!(
        (ja.leader.as_str(), jb.leader.as_str()),
        (a_id.as_str(), a_id.as_str())
    );
    let mut members: Vec<String> = ja.members.iter().map(|m| m.member_id.to_string()).collect();
    members.sort();
    let mut expected = vec![a_id.clone(), b_id.clone()];
    expected.sort();
    assert_eq!(members, expected, "the leader sees every member");
    assert!(
        ja.members
            .iter()
            .all(|m| m.metadata == subscription(&["orders"]))
    );
    assert!(jb.members.is_empty());

    // B syncs first and waits for the leader's assignment.
    let b_sync = b.send(5, &sync_request("readers", &b_id, 2, &[])).await;
    let sa = a
        .call(
            5,
            &sync_request(
                "readers",
                &a_id,
                2,
                &[
                    (&a_id, assignment("orders", &[0, 1, 2])),
                    (&b_id, assignment("orders", &[3, 4, 5])),
                ],
            ),
        )
        .await;
    let sb = b
        .recv::<kafka_protocol::messages::SyncGroupRequest>(5, b_sync)
        .await;
    assert_eq!((sa.error_code, sb.error_code), (NONE, NONE));
    assert_eq!(assigned_partitions(sa.assignment), vec![0, 1, 2]);
    assert_eq!(assigned_partitions(sb.assignment), vec![3, 4, 5]);
    assert_eq!(sb.protocol_name.as_deref(), Some("range"));

    assert_eq!(heartbeat(&mut a, "readers", &a_id, 2).await, NONE);
    assert_eq!(heartbeat(&mut b, "readers", &b_id, 2).await, NONE);
    assert_eq!(
        heartbeat(&mut b, "readers", &b_id, 1).await,
        ILLEGAL_GENERATION
    );
    assert_eq!(
        heartbeat(&mut b, "readers", "nobody", 2).await,
        UNKNOWN_MEMBER_ID
    );
    assert_eq!(
        heartbeat(&mut b, "nobody-here", &b_id, 2).await,
        UNKNOWN_MEMBER_ID
    );

    let mut describe = DescribeGroupsRequest::default();
    describe.groups = vec![group("readers")];
    let described = admin.call(5, &describe).await;
    let g = &described.groups[0];
    assert_eq!(
        (
            g.error_code,
            g.group_state.as_str(),
            g.protocol_data.as_str()
        ),
        (NONE, "Stable", "range")
    );
    assert_eq!(g.protocol_type.as_str(), "consumer");
    let b_desc = g
        .members
        .iter()
        .find(|m| m.member_id.as_str() == b_id)
        .expect("b described");
    assert_eq!(
        assigned_partitions(b_desc.member_assignment.clone()),
        vec![3, 4, 5]
    );
    assert_eq!(b_desc.client_host.as_str(), "/127.0.0.1");
    assert_eq!(b_desc.client_id.as_str(), "skiff-test");

    // B leaves (batched LeaveGroup); A rebalances alone into generation 3.
    let mut leave = LeaveGroupRequest::default();
    leave.group_id = group("readers");
    let mut who = MemberIdentity::default();
    who.member_id = s(&b_id);
    let mut stranger = MemberIdentity::default();
    stranger.member_id = s("stranger");
    leave.members = vec![who, stranger];
    let left = b.call(5, &leave).await;
    assert_eq!(left.error_code, NONE);
    let codes: Vec<i16> = left.members.iter().map(|m| m.error_code).collect();
    assert_eq!(codes, vec![NONE, UNKNOWN_MEMBER_ID]);
    assert_eq!(
        heartbeat(&mut a, "readers", &a_id, 2).await,
        REBALANCE_IN_PROGRESS
    );
    let ja = a
        .call(7, &join_request("readers", &a_id, 7, &["orders"]))
        .await;
    assert_eq!(
        (ja.error_code, ja.generation_id, ja.members.len()),
        (NONE, 3, 1)
    );
    broker.stop().await;
}

#[tokio::test]
async fn bad_joins_get_the_errors_consumers_expect() {
    let broker = broker().await;
    let mut client = broker.client().await;
    let mut short = join_request("g", "", 7, &["t"]);
    short.session_timeout_ms = 10;
    assert_eq!(
        client.call(7, &short).await.error_code,
        INVALID_SESSION_TIMEOUT
    );
    let mut long = join_request("g", "", 7, &["t"]);
    long.session_timeout_ms = 2_000_000;
    assert_eq!(
        client.call(7, &long).await.error_code,
        INVALID_SESSION_TIMEOUT
    );
    assert_eq!(
        client
            .call(7, &join_request("", "", 7, &["t"]))
            .await
            .error_code,
        INVALID_GROUP_ID
    );
    let mut no_protocols = join_request("g", "", 3, &["t"]);
    no_protocols.protocols.clear();
    assert_eq!(
        client.call(3, &no_protocols).await.error_code,
        INCONSISTENT_GROUP_PROTOCOL
    );
    // A member id the group never gave out.
    assert_eq!(
        client
            .call(7, &join_request("g", "made-up", 7, &["t"]))
            .await
            .error_code,
        UNKNOWN_MEMBER_ID
    );

    // A group of another protocol type refuses consumers.
    let joined = join_new(&mut client, "g", 7, &["t"]).await;
    assert_eq!(joined.error_code, NONE);
    let mut other = join_request("g", "", 3, &["t"]);
    other.protocol_type = s("connect");
    assert_eq!(
        client.call(3, &other).await.error_code,
        INCONSISTENT_GROUP_PROTOCOL
    );
    broker.stop().await;
}

#[tokio::test]
async fn a_restarted_static_member_gets_its_assignment_back_without_a_rebalance() {
    let broker = broker().await;
    let mut admin = broker.client().await;
    create_topic(&mut admin, "events", 2, &[]).await;
    let mut first = broker.client().await;
    let mut join = join_request("statics", "", 7, &["events"]);
    join.group_instance_id = Some(s("host-1"));
    let joined = first.call(7, &join).await;
    assert_eq!(
        (joined.error_code, joined.generation_id),
        (NONE, 1),
        "static members skip MEMBER_ID_REQUIRED"
    );
    let old_id = joined.member_id.to_string();
    assert!(old_id.starts_with("host-1-"));
    let mut sync = sync_request(
        "statics",
        &old_id,
        1,
        &[(&old_id, assignment("events", &[0, 1]))],
    );
    sync.group_instance_id = Some(s("host-1"));
    assert_eq!(first.call(5, &sync).await.error_code, NONE);

    // The process restarts: a new connection, no member id, same instance id.
    let mut second = broker.client().await;
    let rejoined = second.call(7, &join).await;
    assert_eq!(rejoined.error_code, NONE);
    assert_eq!(rejoined.generation_id, 1, "no new generation");
    let new_id = rejoined.member_id.to_string();
    assert_ne!(new_id, old_id);
    assert_eq!(
        rejoined.leader.as_str(),
        old_id,
        "not told to lead, so it does not reassign"
    );
    let mut sync = sync_request("statics", &new_id, 1, &[]);
    sync.group_instance_id = Some(s("host-1"));
    let synced = second.call(5, &sync).await;
    assert_eq!(synced.error_code, NONE);
    assert_eq!(assigned_partitions(synced.assignment), vec![0, 1]);

    // The old incarnation is fenced.
    let mut old_beat = kafka_protocol::messages::HeartbeatRequest::default();
    old_beat.group_id = group("statics");
    old_beat.member_id = s(&old_id);
    old_beat.generation_id = 1;
    old_beat.group_instance_id = Some(s("host-1"));
    assert_eq!(
        first.call(4, &old_beat).await.error_code,
        FENCED_INSTANCE_ID
    );
    broker.stop().await;
}
