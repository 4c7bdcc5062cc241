//! Committed offsets and group administration over real sockets: commit checks against the
//! group, standalone commits, metadata limits, unknown partitions, OffsetFetch in both
//! layouts, FindCoordinator, ListGroups, DescribeGroups, DeleteGroups and OffsetDelete.

use crate::group_support;
use crate::support;

use group_support::*;
use kafka_protocol::messages::find_coordinator_request::FindCoordinatorRequest;
use kafka_protocol::messages::offset_delete_request::{
    OffsetDeleteRequestPartition, OffsetDeleteRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopics,
};
use kafka_protocol::messages::{
    DeleteGroupsRequest, DescribeGroupsRequest, JoinGroupRequest, ListGroupsRequest,
    OffsetDeleteRequest, OffsetFetchRequest,
};
use support::*;

async fn broker() -> TestBroker {
    TestBroker::start_with(|c| c.group_initial_rebalance_delay_ms = 0).await
}

/// A group with one member that owns every partition of `topic`: (member id, generation).
async fn one_member_group(client: &mut RawClient, group_id: &str, topic: &str) -> (String, i32) {
    let joined = join_new(client, group_id, 7, &[topic]).await;
    assert_eq!(joined.error_code, NONE);
    let id = joined.member_id.to_string();
    let synced = client
        .call(
            5,
            &sync_request(
                group_id,
                &id,
                joined.generation_id,
                &[(&id, assignment(topic, &[0, 1]))],
            ),
        )
        .await;
    assert_eq!(synced.error_code, NONE);
    (id, joined.generation_id)
}

#[tokio::test]
async fn commits_are_checked_against_the_members_generation() {
    let broker = broker().await;
    let mut client = broker.client().await;
    create_topic(&mut client, "orders", 2, &[]).await;
    let (member, generation) = one_member_group(&mut client, "readers", "orders").await;

    let ok = client
        .call(
            8,
            &commit_request(
                "readers",
                generation,
                &member,
                &[("orders", 0, 42, "checkpoint")],
            ),
        )
        .await;
    assert_eq!(commit_codes(&ok), vec![NONE]);
    let stale = client
        .call(
            8,
            &commit_request("readers", generation - 1, &member, &[("orders", 0, 50, "")]),
        )
        .await;
    assert_eq!(commit_codes(&stale), vec![ILLEGAL_GENERATION]);
    let stranger = client
        .call(
            8,
            &commit_request("readers", generation, "stranger", &[("orders", 0, 50, "")]),
        )
        .await;
    assert_eq!(commit_codes(&stranger), vec![UNKNOWN_MEMBER_ID]);
    // Standalone commits are refused while the group has members.
    let standalone = client
        .call(
            8,
            &commit_request("readers", -1, "", &[("orders", 0, 50, "")]),
        )
        .await;
    assert_eq!(commit_codes(&standalone), vec![UNKNOWN_MEMBER_ID]);
    // A group nobody joined: a generation means a lost group.
    let lost_v8 = client
        .call(8, &commit_request("ghost", 3, "m", &[("orders", 0, 1, "")]))
        .await;
    assert_eq!(commit_codes(&lost_v8), vec![ILLEGAL_GENERATION]);
    let lost_v9 = client
        .call(9, &commit_request("ghost", 3, "m", &[("orders", 0, 1, "")]))
        .await;
    assert_eq!(commit_codes(&lost_v9), vec![GROUP_ID_NOT_FOUND]);

    assert_eq!(
        fetch_offsets(&mut client, "readers", "orders", &[0, 1]).await,
        vec![
            (42, "checkpoint".to_string(), NONE),
            (-1, String::new(), NONE)
        ],
        "only the valid commit was applied; partition 1 has none"
    );

    // During the sync phase the member has a new generation but no assignment yet.
    let rejoin = client
        .send(7, &join_request("readers", &member, 7, &["orders"]))
        .await;
    let rejoined = client.recv::<JoinGroupRequest>(7, rejoin).await;
    assert_eq!(rejoined.generation_id, generation + 1);
    let early = client
        .call(
            8,
            &commit_request("readers", generation + 1, &member, &[("orders", 1, 7, "")]),
        )
        .await;
    assert_eq!(commit_codes(&early), vec![REBALANCE_IN_PROGRESS]);
    broker.stop().await;
}

#[tokio::test]
async fn standalone_commits_metadata_limits_and_unknown_partitions() {
    let broker = broker().await;
    let mut client = broker.client().await;
    create_topic(&mut client, "orders", 3, &[]).await;
    let at_limit = "m".repeat(4096);
    let over_limit = "m".repeat(4097);
    let response = client
        .call(
            9,
            &commit_request(
                "solo",
                -1,
                "",
                &[
                    ("orders", 0, 10, at_limit.as_str()),
                    ("orders", 1, 11, over_limit.as_str()),
                    ("orders", 2, 12, ""),
                    ("orders", 3, 13, ""),
                    ("missing", 0, 14, ""),
                ],
            ),
        )
        .await;
    assert_eq!(
        commit_codes(&response),
        vec![
            NONE,
            OFFSET_METADATA_TOO_LARGE,
            NONE,
            UNKNOWN_TOPIC_OR_PARTITION,
            UNKNOWN_TOPIC_OR_PARTITION
        ]
    );
    assert_eq!(
        fetch_offsets(&mut client, "solo", "orders", &[0, 1, 2]).await,
        vec![
            (10, at_limit.clone(), NONE),
            (-1, String::new(), NONE),
            (12, String::new(), NONE)
        ]
    );
    // Offsets of a group nobody ever committed for are -1, not an error.
    assert_eq!(
        fetch_offsets(&mut client, "never", "orders", &[0]).await,
        vec![(-1, String::new(), NONE)]
    );

    // All topics at once (null topic list), and several groups at once (v8+).
    let mut all = OffsetFetchRequest::default();
    all.group_id = group("solo");
    all.topics = None;
    let everything = client.call(7, &all).await;
    assert_eq!(everything.topics.len(), 1);
    let committed: Vec<(i32, i64)> = everything.topics[0]
        .partitions
        .iter()
        .map(|p| (p.partition_index, p.committed_offset))
        .collect();
    assert_eq!(committed, vec![(0, 10), (2, 12)]);

    let mut batched = OffsetFetchRequest::default();
    let mut solo = OffsetFetchRequestGroup::default();
    solo.group_id = group("solo");
    let mut t = OffsetFetchRequestTopics::default();
    t.name = topic_name("orders");
    t.partition_indexes = vec![2];
    solo.topics = Some(vec![t]);
    let mut never = OffsetFetchRequestGroup::default();
    never.group_id = group("never");
    never.topics = None;
    batched.groups = vec![solo, never];
    let response = client.call(9, &batched).await;
    assert_eq!(response.groups.len(), 2);
    assert_eq!(
        response.groups[0].topics[0].partitions[0].committed_offset,
        12
    );
    assert_eq!(response.groups[1].error_code, NONE);
    assert!(response.groups[1].topics.is_empty());
    broker.stop().await;
}

#[tokio::test]
async fn find_list_describe_and_delete_groups() {
    let broker = broker().await;
    let mut client = broker.client().await;
    create_topic(&mut client, "orders", 2, &[]).await;
    create_topic(&mut client, "audit", 1, &[]).await;

    for version in 0..=3 {
        let mut find = FindCoordinatorRequest::default();
        find.key = s("readers");
        let found = client.call(version, &find).await;
        assert_eq!(
            (found.error_code, found.node_id.0),
            (NONE, 1),
            "FindCoordinator v{version}"
        );
        assert_eq!(found.port, i32::from(broker.addr.port()));
    }
    let mut batch = FindCoordinatorRequest::default();
    batch.coordinator_keys = vec![s("a"), s("b")];
    let found = client.call(4, &batch).await;
    assert_eq!(found.coordinators.len(), 2);
    assert!(
        found
            .coordinators
            .iter()
            .all(|c| c.error_code == NONE && c.node_id.0 == 1)
    );
    let mut transactional = FindCoordinatorRequest::default();
    transactional.key = s("tx");
    transactional.key_type = 1;
    let found = client.call(3, &transactional).await;
    assert_eq!(
        (found.error_code, found.node_id.0),
        (NONE, 1),
        "any broker may coordinate a transaction"
    );

    let (member, generation) = one_member_group(&mut client, "readers", "orders").await;
    let committed = client
        .call(
            8,
            &commit_request(
                "readers",
                generation,
                &member,
                &[("orders", 0, 5, ""), ("audit", 0, 9, "")],
            ),
        )
        .await;
    assert_eq!(commit_codes(&committed), vec![NONE, NONE]);
    let standalone = client
        .call(8, &commit_request("solo", -1, "", &[("orders", 1, 3, "")]))
        .await;
    assert_eq!(commit_codes(&standalone), vec![NONE]);

    let listed = client.call(5, &ListGroupsRequest::default()).await;
    let mut groups: Vec<(String, String, String, String)> = listed
        .groups
        .iter()
        .map(|g| {
            (
                g.group_id.0.to_string(),
                g.protocol_type.to_string(),
                g.group_state.to_string(),
                g.group_type.to_string(),
            )
        })
        .collect();
    groups.sort();
    assert_eq!(
        groups,
        vec![
            (
                "readers".into(),
                "consumer".into(),
                "Stable".into(),
                "classic".into()
            ),
            (
                "solo".into(),
                String::new(),
                "Empty".into(),
                "classic".into()
            ),
        ]
    );
    let mut stable_only = ListGroupsRequest::default();
    stable_only.states_filter = vec![s("stable")];
    let listed = client.call(4, &stable_only).await;
    assert_eq!(listed.groups.len(), 1);
    assert_eq!(listed.groups[0].group_id.0.as_str(), "readers");
    let mut consumer_type = ListGroupsRequest::default();
    consumer_type.types_filter = vec![s("consumer")];
    assert!(
        client.call(5, &consumer_type).await.groups.is_empty(),
        "no KIP-848 groups"
    );

    let mut describe = DescribeGroupsRequest::default();
    describe.groups = vec![group("readers"), group("solo"), group("missing")];
    describe.include_authorized_operations = true;
    let described = client.call(5, &describe).await;
    let states: Vec<&str> = described
        .groups
        .iter()
        .map(|g| g.group_state.as_str())
        .collect();
    assert_eq!(states, vec!["Stable", "Empty", "Dead"]);
    assert_eq!(described.groups[0].members.len(), 1);
    assert!(described.groups.iter().all(|g| g.error_code == NONE));
    assert_ne!(described.groups[0].authorized_operations, i32::MIN);

    // OffsetDelete: the member subscribes to orders, not audit.
    let mut delete = OffsetDeleteRequest::default();
    delete.group_id = group("readers");
    for topic in ["orders", "audit", "missing"] {
        let mut t = OffsetDeleteRequestTopic::default();
        t.name = topic_name(topic);
        let mut p = OffsetDeleteRequestPartition::default();
        p.partition_index = 0;
        t.partitions = vec![p];
        delete.topics.push(t);
    }
    let deleted = client.call(0, &delete).await;
    assert_eq!(deleted.error_code, NONE);
    let codes: Vec<i16> = deleted
        .topics
        .iter()
        .map(|t| t.partitions[0].error_code)
        .collect();
    assert_eq!(
        codes,
        vec![GROUP_SUBSCRIBED_TO_TOPIC, NONE, UNKNOWN_TOPIC_OR_PARTITION]
    );
    assert_eq!(
        fetch_offsets(&mut client, "readers", "audit", &[0]).await[0].0,
        -1
    );
    assert_eq!(
        fetch_offsets(&mut client, "readers", "orders", &[0]).await[0].0,
        5
    );
    let mut missing_group = OffsetDeleteRequest::default();
    missing_group.group_id = group("missing");
    assert_eq!(
        client.call(0, &missing_group).await.error_code,
        GROUP_ID_NOT_FOUND
    );

    let mut delete_groups = DeleteGroupsRequest::default();
    delete_groups.groups_names = vec![group("readers"), group("solo"), group("missing")];
    let results = client.call(2, &delete_groups).await;
    let codes: Vec<i16> = results.results.iter().map(|r| r.error_code).collect();
    assert_eq!(codes, vec![NON_EMPTY_GROUP, NONE, GROUP_ID_NOT_FOUND]);
    assert_eq!(
        fetch_offsets(&mut client, "solo", "orders", &[1]).await[0].0,
        -1,
        "offsets went with the group"
    );
    let listed = client.call(3, &ListGroupsRequest::default()).await;
    let ids: Vec<&str> = listed
        .groups
        .iter()
        .map(|g| g.group_id.0.as_str())
        .collect();
    assert_eq!(ids, vec!["readers"]);
    // A deleted group can be used again from scratch.
    let again = client
        .call(8, &commit_request("solo", -1, "", &[("orders", 1, 4, "")]))
        .await;
    assert_eq!(commit_codes(&again), vec![NONE]);
    broker.stop().await;
}

#[tokio::test]
async fn deleting_a_topic_drops_its_committed_offsets() {
    let broker = broker().await;
    let mut client = broker.client().await;
    create_topic(&mut client, "short-lived", 1, &[]).await;
    let committed = client
        .call(
            8,
            &commit_request("g", -1, "", &[("short-lived", 0, 99, "")]),
        )
        .await;
    assert_eq!(commit_codes(&committed), vec![NONE]);
    let mut delete = kafka_protocol::messages::DeleteTopicsRequest::default();
    delete.topic_names = vec![topic_name("short-lived")];
    delete.timeout_ms = 5_000;
    assert_eq!(client.call(5, &delete).await.responses[0].error_code, NONE);
    create_topic(&mut client, "short-lived", 1, &[]).await;
    assert_eq!(
        fetch_offsets(&mut client, "g", "short-lived", &[0]).await[0].0,
        -1
    );
    broker.stop().await;
}
