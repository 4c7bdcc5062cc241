//! Live brokers only: when a broker's lease lapses, Metadata stops naming it and its
//! partitions and groups move to the live brokers; when it heartbeats again they move back,
//! and a broker that stops coordinating a group unloads it (parked requests answered with
//! NOT_COORDINATOR). Broker 2 is registered with the embedded controller and never runs;
//! the test drives its lease by proposing its heartbeats and expiry.

use crate::group_support;
use crate::support;

use std::collections::BTreeSet;
use std::time::Instant;

use group_support::*;
use kafka_protocol::messages::find_coordinator_request::FindCoordinatorRequest;
use kafka_protocol::messages::{JoinGroupRequest, ListGroupsRequest, MetadataRequest};
use skiff_meta::{
    BrokerHeartbeat, CommitOffsetsFenced, ExpireBroker, FencedGroup, FencedOffsets, GroupOffsets,
    PartitionOffset, Propose, StoreGroupsFenced, StoredGroup, StoredMember,
};
use support::*;

const NOT_COORDINATOR: i16 = 16;

/// (broker ids listed, distinct partition leaders) from a Metadata response.
async fn metadata_view(client: &mut RawClient) -> (Vec<i32>, BTreeSet<i32>) {
    let mut request = MetadataRequest::default();
    request.topics = None;
    let response = client.call(12, &request).await;
    let brokers = response.brokers.iter().map(|b| b.node_id.0).collect();
    let leaders = response
        .topics
        .iter()
        .flat_map(|t| t.partitions.iter().map(|p| p.leader_id.0))
        .collect();
    (brokers, leaders)
}

async fn coordinator_of(client: &mut RawClient, group_id: &str) -> i32 {
    let mut request = FindCoordinatorRequest::default();
    request.key = s(group_id);
    client.call(3, &request).await.node_id.0
}

async fn listed_groups(client: &mut RawClient) -> Vec<String> {
    let listed = client.call(3, &ListGroupsRequest::default()).await;
    listed
        .groups
        .iter()
        .map(|g| g.group_id.0.to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lapsed_brokers_lose_partitions_and_groups_and_get_them_back() {
    let broker = TestBroker::start_beside_absent_broker(|config| {
        config.group_initial_rebalance_delay_ms = 0;
    })
    .await;
    let mut client = broker.client().await;
    create_topic(&mut client, "t", 32, &[]).await;

    let (brokers, leaders) = metadata_view(&mut client).await;
    assert_eq!(brokers, vec![1, 2]);
    assert_eq!(
        leaders,
        BTreeSet::from([1, 2]),
        "32 partitions spread over both"
    );
    let mut moving_group = None;
    for i in 0..40 {
        let id = format!("group-{i}");
        if coordinator_of(&mut client, &id).await == 2 {
            moving_group = Some(id);
            break;
        }
    }
    let group_id = moving_group.expect("some group lands on broker 2");

    // Broker 2's lease lapses.
    let heartbeats = broker
        .controller()
        .state()
        .read()
        .broker_lease(2)
        .expect("lease")
        .heartbeats;
    broker
        .controller()
        .propose(ExpireBroker {
            broker_id: 2,
            heartbeats_seen: heartbeats,
        })
        .await
        .expect("expire");
    let (brokers, leaders) = metadata_view(&mut client).await;
    assert_eq!(brokers, vec![1], "only live brokers are listed");
    assert_eq!(
        leaders,
        BTreeSet::from([1]),
        "every partition moved to broker 1"
    );
    assert_eq!(coordinator_of(&mut client, &group_id).await, 1);

    // Broker 1 now coordinates the group: one member is in, a second one's join is parked
    // waiting for the first to rejoin.
    let joined = join_new(&mut client, &group_id, 7, &["t"]).await;
    assert_eq!(joined.error_code, NONE);
    let mut second = broker.client().await;
    let mut request: JoinGroupRequest = join_request(&group_id, "", 7, &["t"]);
    let first = second.call(7, &request).await;
    assert_eq!(first.error_code, MEMBER_ID_REQUIRED);
    request.member_id = first.member_id;
    let parked = second.send(7, &request).await;
    assert_eq!(listed_groups(&mut client).await, vec![group_id.clone()]);

    // Broker 2 heartbeats again: it takes its partitions and the group back, and broker 1
    // answers the parked join at once instead of after the rebalance timeout.
    let answered_within = Instant::now();
    broker
        .controller()
        .propose(BrokerHeartbeat {
            broker_id: 2,
            now_ms: 1_700_000_000_000,
        })
        .await
        .expect("heartbeat");
    let answer = second.recv::<JoinGroupRequest>(7, parked).await;
    assert_eq!(answer.error_code, NOT_COORDINATOR);
    assert!(
        answered_within.elapsed() < std::time::Duration::from_secs(10),
        "answered by the hand-over, not the 20 s rebalance timeout"
    );
    assert_eq!(
        listed_groups(&mut client).await,
        Vec::<String>::new(),
        "unloaded"
    );
    assert_eq!(coordinator_of(&mut client, &group_id).await, 2);
    let (brokers, leaders) = metadata_view(&mut client).await;
    assert_eq!(brokers, vec![1, 2]);
    assert_eq!(leaders, BTreeSet::from([1, 2]));

    broker.stop().await;
}

/// Heartbeats (bounded) until the answer is not NONE, and returns it: broker 1 drops a group
/// after it sees the live set change, which it learns asynchronously.
async fn heartbeat_until_refused(
    client: &mut RawClient,
    group_id: &str,
    member: &str,
    generation: i32,
) -> i16 {
    let deadline = Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let code = heartbeat(client, group_id, member, generation).await;
        if code != NONE || Instant::now() > deadline {
            return code;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// The bug a paused coordinator caused: broker 1 holds a group, its lease lapses, an interim
/// coordinator (broker 2, driven through the controller) moves the group on, and broker 1
/// heartbeats again. Broker 1 must drop what it held and carry on from the interim
/// coordinator's generation, and nothing it wrote from the old state may land.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_coordinator_that_lost_its_lease_carries_on_from_the_interim_coordinators_state() {
    let broker = TestBroker::start_beside_absent_broker(|config| {
        config.group_initial_rebalance_delay_ms = 0;
    })
    .await;
    let mut client = broker.client().await;
    create_topic(&mut client, "t", 2, &[]).await;
    let mut group_id = None;
    for i in 0..40 {
        let id = format!("group-{i}");
        if coordinator_of(&mut client, &id).await == 1 {
            group_id = Some(id);
            break;
        }
    }
    let group_id = group_id.expect("some group lands on broker 1");

    // A one-member group on broker 1, generation 1, offset 5 committed.
    let joined = join_new(&mut client, &group_id, 7, &["t"]).await;
    assert_eq!(joined.error_code, NONE);
    let member = joined.member_id.to_string();
    let generation = joined.generation_id;
    let synced = client
        .call(
            5,
            &sync_request(
                &group_id,
                &member,
                generation,
                &[(member.as_str(), assignment("t", &[0, 1]))],
            ),
        )
        .await;
    assert_eq!(synced.error_code, NONE);
    let committed = client
        .call(
            8,
            &commit_request(&group_id, generation, &member, &[("t", 0, 5, "")]),
        )
        .await;
    assert_eq!(commit_codes(&committed), vec![NONE]);

    // Broker 1's lease lapses; broker 2 coordinates the group meanwhile: generation 2 with a
    // second member, and offset 9.
    let controller = broker.controller();
    let heartbeats = controller
        .state()
        .read()
        .broker_lease(1)
        .expect("lease")
        .heartbeats;
    controller
        .propose(ExpireBroker {
            broker_id: 1,
            heartbeats_seen: heartbeats,
        })
        .await
        .expect("expire");
    let interim_epoch = controller.state().read().placement_epoch();
    let mut interim = controller
        .state()
        .read()
        .group(&group_id)
        .and_then(|g| g.metadata.clone())
        .expect("stored generation");
    let mut second = interim.members[0].clone();
    second.member_id = "interim-member".into();
    interim.members.push(second);
    interim.generation = generation + 1;
    let stored = controller
        .propose(StoreGroupsFenced {
            broker_id: 2,
            groups: vec![FencedGroup {
                loaded_at: interim_epoch,
                group: interim,
            }],
        })
        .await
        .expect("interim store");
    assert_eq!(stored, vec![Ok(())]);
    let topic_id = controller.state().read().topic_by_name("t").expect("t").id;
    let interim_commit = controller
        .propose(CommitOffsetsFenced {
            broker_id: 2,
            commits: vec![FencedOffsets {
                loaded_at: interim_epoch,
                offsets: GroupOffsets {
                    group_id: group_id.clone(),
                    commit_time_ms: 1_700_000_000_000,
                    partitions: vec![PartitionOffset {
                        topic_id,
                        partition: 0,
                        offset: 9,
                        leader_epoch: -1,
                        metadata: String::new(),
                    }],
                },
            }],
        })
        .await
        .expect("interim commit");
    assert_eq!(interim_commit, vec![vec![Ok(())]]);

    // Broker 1 is back: the group is its own again by placement, but it did not hold it
    // throughout, so it drops what it had.
    controller
        .propose(BrokerHeartbeat {
            broker_id: 1,
            now_ms: 1_700_000_000_000,
        })
        .await
        .expect("heartbeat");
    assert_eq!(coordinator_of(&mut client, &group_id).await, 1);

    // The member carries on from the interim generation: its old generation is stale (broker 1
    // reloaded the group), the new one is accepted without a rebalance, and a commit lands on
    // top of the interim offset.
    assert_eq!(
        heartbeat_until_refused(&mut client, &group_id, &member, generation).await,
        ILLEGAL_GENERATION,
        "broker 1 must not go on with the generation it held before its lease lapsed"
    );
    assert_eq!(
        heartbeat(&mut client, &group_id, &member, generation + 1).await,
        NONE
    );
    assert_eq!(
        fetch_offsets(&mut client, &group_id, "t", &[0]).await[0].0,
        9
    );
    let committed = client
        .call(
            8,
            &commit_request(&group_id, generation + 1, &member, &[("t", 0, 12, "")]),
        )
        .await;
    assert_eq!(commit_codes(&committed), vec![NONE]);
    assert_eq!(
        fetch_offsets(&mut client, &group_id, "t", &[0]).await[0].0,
        12
    );
    broker.stop().await;
}

/// A broker that takes a group over loads it as soon as it sees the live brokers change, so
/// the members' sessions start then, not when the first of them finds the new coordinator:
/// ids whose clients gave up meanwhile (and rejoin under new ones) expire that much sooner.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_loads_the_groups_it_takes_over_at_once() {
    let broker = TestBroker::start_beside_absent_broker(|config| {
        config.group_initial_rebalance_delay_ms = 0;
    })
    .await;
    let mut client = broker.client().await;
    create_topic(&mut client, "t", 2, &[]).await;
    let mut group_id = None;
    for i in 0..40 {
        let id = format!("group-{i}");
        if coordinator_of(&mut client, &id).await == 2 {
            group_id = Some(id);
            break;
        }
    }
    let group_id = group_id.expect("some group lands on broker 2");

    // Broker 2 coordinates a one-member group and stored its generation.
    let controller = broker.controller();
    let epoch = controller.state().read().placement_epoch();
    let group = StoredGroup {
        group_id: group_id.clone(),
        protocol_type: "consumer".into(),
        generation: 1,
        protocol: Some("range".into()),
        leader: Some("m-1".into()),
        members: vec![StoredMember {
            member_id: "m-1".into(),
            group_instance_id: None,
            client_id: "c".into(),
            client_host: "/127.0.0.1".into(),
            session_timeout_ms: 6_000,
            rebalance_timeout_ms: 30_000,
            subscription: Vec::new(),
            assignment: Vec::new(),
        }],
        stored_at_ms: 1_700_000_000_000,
    };
    let stored = controller
        .propose(StoreGroupsFenced {
            broker_id: 2,
            groups: vec![FencedGroup {
                loaded_at: epoch,
                group,
            }],
        })
        .await
        .expect("store");
    assert_eq!(stored, vec![Ok(())]);
    assert_eq!(listed_groups(&mut client).await, Vec::<String>::new());

    // Broker 2's lease lapses: broker 1 loads the group with nobody asking for it.
    let heartbeats = controller
        .state()
        .read()
        .broker_lease(2)
        .expect("lease")
        .heartbeats;
    controller
        .propose(ExpireBroker {
            broker_id: 2,
            heartbeats_seen: heartbeats,
        })
        .await
        .expect("expire");
    let deadline = Instant::now() + std::time::Duration::from_secs(20);
    while listed_groups(&mut client).await != vec![group_id.clone()] {
        assert!(
            Instant::now() < deadline,
            "broker 1 never loaded {group_id}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    broker.stop().await;
}
