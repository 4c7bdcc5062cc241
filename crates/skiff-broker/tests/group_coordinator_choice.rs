//! With several live brokers each group has one coordinator, chosen by rendezvous hashing:
//! FindCoordinator names it from any broker, and the others answer NOT_COORDINATOR so
//! clients go to the right one. (A second broker is registered with the controller; only
//! the first one runs.)

use crate::group_support;
use crate::support;

use group_support::*;
use kafka_protocol::messages::find_coordinator_request::FindCoordinatorRequest;
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use kafka_protocol::messages::{DescribeGroupsRequest, ListGroupsRequest, OffsetFetchRequest};
use support::*;

const NOT_COORDINATOR: i16 = 16;

#[tokio::test]
async fn groups_coordinated_elsewhere_are_refused_with_not_coordinator() {
    let broker = TestBroker::start_beside_absent_broker(|config| {
        config.group_initial_rebalance_delay_ms = 0;
    })
    .await;
    let mut client = broker.client().await;
    let absent = absent_broker();
    create_topic(&mut client, "t", 1, &[]).await;

    // Ask for many groups: some land on each broker.
    let mut batch = FindCoordinatorRequest::default();
    batch.coordinator_keys = (0..40).map(|i| s(&format!("group-{i}"))).collect();
    let found = client.call(4, &batch).await;
    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    for c in &found.coordinators {
        assert_eq!(c.error_code, NONE);
        match c.node_id.0 {
            1 => ours.push(c.key.to_string()),
            2 => {
                assert_eq!(
                    (c.host.as_str(), c.port),
                    (absent.host.as_str(), i32::from(absent.port))
                );
                theirs.push(c.key.to_string());
            }
            other => panic!("unknown broker {other}"),
        }
    }
    assert!(
        !ours.is_empty() && !theirs.is_empty(),
        "40 groups spread over 2 brokers"
    );
    let (mine, other) = (ours[0].as_str(), theirs[0].as_str());
    // The same answer from the single-key versions.
    let mut single = FindCoordinatorRequest::default();
    single.key = s(other);
    assert_eq!(client.call(3, &single).await.node_id.0, 2);

    let joined = join_new(&mut client, mine, 7, &["t"]).await;
    assert_eq!(joined.error_code, NONE);
    assert_eq!(
        client
            .call(7, &join_request(other, "", 7, &["t"]))
            .await
            .error_code,
        NOT_COORDINATOR
    );
    assert_eq!(heartbeat(&mut client, other, "m", 1).await, NOT_COORDINATOR);
    let commit = client
        .call(8, &commit_request(other, -1, "", &[("t", 0, 1, "")]))
        .await;
    assert_eq!(commit_codes(&commit), vec![NOT_COORDINATOR]);
    let mut fetch = OffsetFetchRequest::default();
    fetch.group_id = group(other);
    let mut topic = OffsetFetchRequestTopic::default();
    topic.name = topic_name("t");
    topic.partition_indexes = vec![0];
    fetch.topics = Some(vec![topic]);
    assert_eq!(client.call(7, &fetch).await.error_code, NOT_COORDINATOR);
    let mut describe = DescribeGroupsRequest::default();
    describe.groups = vec![group(mine), group(other)];
    let codes: Vec<i16> = client
        .call(5, &describe)
        .await
        .groups
        .iter()
        .map(|g| g.error_code)
        .collect();
    assert_eq!(codes, vec![NONE, NOT_COORDINATOR]);
    let listed = client.call(3, &ListGroupsRequest::default()).await;
    let ids: Vec<&str> = listed
        .groups
        .iter()
        .map(|g| g.group_id.0.as_str())
        .collect();
    assert_eq!(ids, vec![mine]);

    broker.stop().await;
}
