//! Groups survive a restart of broker and controller: committed offsets and metadata strings
//! are back, the last stored generation is loaded, and its members carry on with it
//! (heartbeats accepted, SyncGroup returns their assignments) without a rebalance.

use crate::group_support;
use crate::support;

use group_support::*;
use kafka_protocol::messages::{DescribeGroupsRequest, JoinGroupRequest, ListGroupsRequest};
use skiff_storage::StoreConfig;
use support::*;

#[tokio::test]
async fn offsets_and_group_metadata_survive_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = StoreConfig::for_url(format!("file://{}", dir.path().join("objects").display()));
    let tune = |c: &mut skiff_broker::BrokerConfig| c.group_initial_rebalance_delay_ms = 0;
    let broker = TestBroker::start_in(dir.path(), store.clone(), tune).await;
    let (mut a, mut b) = (broker.client().await, broker.client().await);
    create_topic(&mut a, "orders", 4, &[]).await;

    // Two members, generation 2 after B's join, each with two partitions.
    let ja = join_new(&mut a, "readers", 7, &["orders"]).await;
    let a_id = ja.member_id.to_string();
    a.call(
        5,
        &sync_request(
            "readers",
            &a_id,
            1,
            &[(&a_id, assignment("orders", &[0, 1, 2, 3]))],
        ),
    )
    .await;
    let first = b
        .call(7, &join_request("readers", "", 7, &["orders"]))
        .await;
    let b_id = first.member_id.to_string();
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
    let generation = ja.generation_id;
    assert_eq!((generation, jb.generation_id), (2, 2));
    let b_sync = b
        .send(5, &sync_request("readers", &b_id, generation, &[]))
        .await;
    let sa = a
        .call(
            5,
            &sync_request(
                "readers",
                &a_id,
                generation,
                &[
                    (&a_id, assignment("orders", &[0, 1])),
                    (&b_id, assignment("orders", &[2, 3])),
                ],
            ),
        )
        .await;
    assert_eq!(sa.error_code, NONE);
    assert_eq!(
        b.recv::<kafka_protocol::messages::SyncGroupRequest>(5, b_sync)
            .await
            .error_code,
        NONE
    );
    let committed = a
        .call(
            8,
            &commit_request(
                "readers",
                generation,
                &a_id,
                &[("orders", 0, 100, "a0"), ("orders", 1, 101, "a1")],
            ),
        )
        .await;
    assert_eq!(commit_codes(&committed), vec![NONE, NONE]);
    let solo = a
        .call(
            8,
            &commit_request("solo", -1, "", &[("orders", 3, 7, "standalone")]),
        )
        .await;
    assert_eq!(commit_codes(&solo), vec![NONE]);

    broker.stop().await;
    let broker = TestBroker::start_in(dir.path(), store, tune).await;
    let (mut a, mut b) = (broker.client().await, broker.client().await);

    assert_eq!(
        fetch_offsets(&mut a, "readers", "orders", &[0, 1, 2]).await,
        vec![
            (100, "a0".into(), NONE),
            (101, "a1".into(), NONE),
            (-1, String::new(), NONE)
        ]
    );
    assert_eq!(
        fetch_offsets(&mut a, "solo", "orders", &[3]).await,
        vec![(7, "standalone".into(), NONE)]
    );

    // Listed before anything touched the group (read from what the controller persisted).
    let listed = a.call(4, &ListGroupsRequest::default()).await;
    let mut groups: Vec<(String, String)> = listed
        .groups
        .iter()
        .map(|g| (g.group_id.0.to_string(), g.group_state.to_string()))
        .collect();
    groups.sort();
    assert_eq!(
        groups,
        vec![
            ("readers".into(), "Stable".into()),
            ("solo".into(), "Empty".into())
        ]
    );

    // The members keep going with the stored generation.
    assert_eq!(heartbeat(&mut a, "readers", &a_id, generation).await, NONE);
    assert_eq!(heartbeat(&mut b, "readers", &b_id, generation).await, NONE);
    let sb = b
        .call(5, &sync_request("readers", &b_id, generation, &[]))
        .await;
    assert_eq!(sb.error_code, NONE);
    assert_eq!(assigned_partitions(sb.assignment), vec![2, 3]);
    let mut describe = DescribeGroupsRequest::default();
    describe.groups = vec![group("readers")];
    let described = a.call(5, &describe).await;
    assert_eq!(described.groups[0].group_state.as_str(), "Stable");
    assert_eq!(described.groups[0].members.len(), 2);
    let committed = a
        .call(
            8,
            &commit_request("readers", generation, &a_id, &[("orders", 0, 150, "later")]),
        )
        .await;
    assert_eq!(
        commit_codes(&committed),
        vec![NONE],
        "commits with the stored generation are accepted"
    );
    assert_eq!(
        heartbeat(&mut a, "readers", &a_id, generation - 1).await,
        ILLEGAL_GENERATION
    );
    broker.stop().await;
}

#[tokio::test]
async fn members_that_do_not_come_back_after_a_restart_expire() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = StoreConfig::for_url("memory://");
    let tune = |c: &mut skiff_broker::BrokerConfig| {
        c.group_initial_rebalance_delay_ms = 0;
        c.group_min_session_timeout_ms = 100;
    };
    let broker = TestBroker::start_in(dir.path(), store.clone(), tune).await;
    let mut client = broker.client().await;
    let mut join = join_request("abandoned", "", 3, &["t"]);
    join.session_timeout_ms = 300;
    let joined = client.call(3, &join).await;
    let id = joined.member_id.to_string();
    let synced = client
        .call(
            3,
            &sync_request("abandoned", &id, 1, &[(&id, assignment("t", &[0]))]),
        )
        .await;
    assert_eq!(synced.error_code, NONE);
    broker.stop().await;

    // Nobody comes back: the group is loaded at start, its member's session runs out and
    // the group empties (and stays empty across the next restart).
    let broker = TestBroker::start_in(dir.path(), store.clone(), tune).await;
    let mut client = broker.client().await;
    let deadline = std::time::Instant::now() + DEADLINE;
    loop {
        let listed = client.call(4, &ListGroupsRequest::default()).await;
        let state = listed.groups[0].group_state.to_string();
        if state == "Empty" {
            break;
        }
        assert_eq!(state, "Stable");
        assert!(
            std::time::Instant::now() < deadline,
            "the member never expired"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    broker.stop().await;
    let broker = TestBroker::start_in(dir.path(), store, tune).await;
    let mut client = broker.client().await;
    let listed = client.call(4, &ListGroupsRequest::default()).await;
    assert_eq!(
        listed.groups[0].group_state.as_str(),
        "Empty",
        "the empty generation was stored"
    );
    assert_eq!(
        heartbeat(&mut client, "abandoned", &id, 1).await,
        UNKNOWN_MEMBER_ID
    );
    broker.stop().await;
}
