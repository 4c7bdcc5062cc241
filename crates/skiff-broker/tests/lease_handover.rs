//! Live brokers only: when a broker's lease lapses, Metadata stops naming it and its
//! partitions and groups move to the live brokers; when it heartbeats again they move back,
//! and a broker that stops coordinating a group unloads it (parked requests answered with
//! NOT_COORDINATOR). Broker 2 is registered with the embedded controller and never runs;
//! the test drives its lease by proposing its heartbeats and expiry.

mod group_support;
mod support;

use std::collections::BTreeSet;
use std::time::Instant;

use group_support::*;
use kafka_protocol::messages::find_coordinator_request::FindCoordinatorRequest;
use kafka_protocol::messages::{JoinGroupRequest, ListGroupsRequest, MetadataRequest};
use skiff_meta::{BrokerHeartbeat, ExpireBroker, Propose};
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
