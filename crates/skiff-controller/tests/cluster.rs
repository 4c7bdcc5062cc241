//! A three-node controller cluster in one process over real HTTP: bootstrap, forwarding,
//! failover, catch-up (by log and by snapshot), and membership changes.

use crate::support;

use std::time::{Duration, Instant};

use skiff_controller::rpc::ControllerEndpoints;
use skiff_controller::*;
use skiff_meta::*;
use support::{TestCluster, WAIT, config_template, topic_command};

/// Proposals of megabytes take seconds to decode and apply in a debug build, far more on a
/// loaded machine: these tests check that they replicate, not how fast.
const BIG_REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

async fn wait_cluster_id(cluster: &TestCluster) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let ids: Vec<Option<String>> = cluster
            .nodes
            .values()
            .map(|n| n.controller.state().read().cluster_id().map(str::to_string))
            .collect();
        if let Some(Some(first)) = ids.first()
            && ids.iter().all(|id| id.as_ref() == Some(first))
        {
            return first.clone();
        }
        assert!(
            Instant::now() < deadline,
            "cluster id never agreed: {ids:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootstraps_once_and_a_follower_forwards_proposals() {
    let mut cluster = TestCluster::start(3, config_template(10_000)).await;
    let leader = cluster.wait_for_leader().await;
    let cluster_id = wait_cluster_id(&cluster).await;

    let follower = cluster.followers(leader)[0];
    let via_follower = ControllerEndpoints::new(vec![cluster.addr(follower)]).expect("endpoints");
    let proposed = via_follower
        .submit(topic_command("orders", 1))
        .await
        .expect("a follower forwards to the leader");
    assert_eq!(
        proposed.response,
        CommandResponse::TopicsCreated(vec![Ok(uuid::Uuid::from_u128(1))])
    );
    cluster.wait_applied(proposed.index).await;
    let states = cluster.encoded_states();
    let first = states.values().next().expect("nodes");
    assert!(states.values().all(|s| s == first), "replicas diverged");

    let status = via_follower
        .status_of(&cluster.addr(follower))
        .await
        .expect("status");
    assert_eq!(status.leader, Some(leader));
    assert_eq!(status.voters.len(), 3);
    assert_eq!(status.cluster_id.as_deref(), Some(cluster_id.as_str()));

    // A full restart finds the membership and cluster id as they were: nothing re-initialises.
    let membership_before = status.voters.clone();
    cluster.stop_all().await;
    for id in 1..=3 {
        cluster.restart(id, false).await;
    }
    cluster.wait_for_leader().await;
    assert_eq!(wait_cluster_id(&cluster).await, cluster_id);
    let status = cluster.node(1).status();
    assert_eq!(status.voters, membership_before);
    assert!(
        cluster
            .node(1)
            .state()
            .read()
            .topic_by_name("orders")
            .is_some(),
        "the topic survived the restart"
    );
    cluster.stop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_leader_takes_over_and_the_old_one_catches_up() {
    let mut cluster = TestCluster::start(3, config_template(10_000)).await;
    let leader = cluster.wait_for_leader().await;
    wait_cluster_id(&cluster).await;
    let all: Vec<String> = (1..=3).map(|id| cluster.addr(id)).collect();
    let client = ControllerEndpoints::new(all).expect("endpoints");
    client
        .submit(topic_command("before", 1))
        .await
        .expect("propose");

    let stopped_at = Instant::now();
    cluster.stop(leader).await;
    // The first proposal after the loss succeeds once a new leader is elected.
    let proposed = client
        .submit(topic_command("after", 2))
        .await
        .expect("a new leader accepts proposals");
    let pause = stopped_at.elapsed();
    eprintln!("controller leader failover: first proposal after the leader stopped took {pause:?}");
    let new_leader = cluster.wait_for_leader().await;
    assert_ne!(new_leader, leader);

    cluster.restart(leader, false).await;
    cluster.wait_applied(proposed.index).await;
    assert!(
        cluster
            .node(leader)
            .state()
            .read()
            .topic_by_name("after")
            .is_some(),
        "the restarted node caught up"
    );
    let states = cluster.encoded_states();
    let first = states.values().next().expect("nodes");
    assert!(states.values().all(|s| s == first), "replicas diverged");
    cluster.stop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_far_behind_catches_up_from_a_snapshot() {
    let mut cluster = TestCluster::start(3, config_template(5)).await;
    let leader = cluster.wait_for_leader().await;
    wait_cluster_id(&cluster).await;
    let lagging = cluster.followers(leader)[0];
    cluster.stop(lagging).await;

    let client = ControllerEndpoints::new(vec![cluster.addr(leader)]).expect("endpoints");
    let mut last = 0;
    for n in 0..30 {
        last = client
            .submit(topic_command(&format!("t{n}"), 100 + n))
            .await
            .expect("propose")
            .index;
    }
    // The leader purged the log behind its snapshot, so only a snapshot can catch node 3 up.
    let purged = cluster
        .node(leader)
        .raft_metrics()
        .clone()
        .wait_for(|m| m.purged.is_some_and(|p| p.index > 10))
        .await
        .expect("leader purges its log")
        .purged;
    assert!(purged.is_some());

    cluster.restart(lagging, false).await;
    cluster.wait_applied(last).await;
    let m = cluster.node(lagging).raft_metrics().borrow().clone();
    assert!(
        m.snapshot.is_some_and(|s| s.index > 10),
        "the lagging node installed a snapshot: {:?}",
        m.snapshot
    );
    let states = cluster.encoded_states();
    let first = states.values().next().expect("nodes");
    assert!(states.values().all(|s| s == first), "replicas diverged");
    cluster.stop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_are_added_and_removed_through_any_node() {
    let mut cluster = TestCluster::start(3, config_template(10_000)).await;
    let leader = cluster.wait_for_leader().await;
    wait_cluster_id(&cluster).await;
    let follower = cluster.followers(leader)[0];
    let client = ControllerEndpoints::new(vec![cluster.addr(follower)]).expect("endpoints");
    client
        .submit(topic_command("existing", 1))
        .await
        .expect("propose");

    let addr = cluster.start_new_node(4).await;
    let reply = client.add_node(4, addr.clone()).await.expect("add node");
    assert_eq!(reply.voters.get(&4), Some(&addr));
    assert_eq!(reply.voters.len(), 4);
    cluster.wait_applied(reply.index).await;
    assert!(
        cluster
            .node(4)
            .state()
            .read()
            .topic_by_name("existing")
            .is_some(),
        "the new node has the state"
    );

    let reply = client.remove_node(4).await.expect("remove node");
    assert!(!reply.voters.contains_key(&4) && !reply.learners.contains_key(&4));
    assert_eq!(reply.voters.len(), 3);
    let unknown = client.remove_node(9).await.expect_err("not a member");
    assert!(unknown.to_string().contains("not a member"), "{unknown}");
    cluster.stop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proposal_of_several_megabytes_replicates() {
    // openraft allows an append-entries RPC one heartbeat interval; decoding megabytes in a
    // debug build on a loaded machine needs more than the usual 100 ms.
    let template = ControllerConfig {
        heartbeat_interval_ms: 500,
        election_timeout_min_ms: 2000,
        election_timeout_max_ms: 4000,
        forward_timeout_ms: BIG_REQUEST_TIMEOUT.as_millis() as u64,
        ..config_template(10_000)
    };
    let mut cluster = TestCluster::start(3, template).await;
    let leader = cluster.wait_for_leader().await;
    let follower = cluster.followers(leader)[0];
    let client = ControllerEndpoints::new(vec![cluster.addr(follower)])
        .expect("endpoints")
        .with_request_timeout(BIG_REQUEST_TIMEOUT);
    // One chunk of 200,000 batches (about 2.4 MB encoded) for a topic that does not exist,
    // so applying it is cheap but the body is larger than axum's 2 MB default limit.
    let batch = BatchCommit {
        len: 1,
        offset_count: 1,
        record_count: 1,
        max_timestamp: 1_700_000_000_000,
        producer_id: -1,
        producer_epoch: -1,
        base_sequence: -1,
    };
    let command = Command::CommitSegment(SegmentCommit {
        object_key: "segments/big.seg".into(),
        object_size: 1,
        broker_id: 1,
        append_time_ms: 1,
        chunks: vec![ChunkCommit {
            topic_id: uuid::Uuid::from_u128(42),
            partition: 0,
            position: 0,
            batches: vec![batch; 200_000],
        }],
    });
    assert!(postcard::to_allocvec(&command).expect("encodes").len() > 2 << 20);
    let proposed = client.submit(command).await.expect("big proposal");
    cluster.wait_applied(proposed.index).await;
    let states = cluster.encoded_states();
    let first = states.values().next().expect("nodes");
    assert!(states.values().all(|s| s == first), "replicas diverged");
    cluster.stop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_of_several_chunks_reaches_a_lagging_node() {
    // Its two segment commits of 50,000 chunks are megabytes each: as in the test above, an
    // append-entries RPC gets one heartbeat interval, which must cover decoding them in a
    // debug build on a loaded machine (at 100 ms the leader resent them without end).
    let template = ControllerConfig {
        heartbeat_interval_ms: 500,
        election_timeout_min_ms: 2000,
        election_timeout_max_ms: 4000,
        snapshot_chunk_bytes: 128 * 1024,
        forward_timeout_ms: BIG_REQUEST_TIMEOUT.as_millis() as u64,
        ..config_template(5)
    };
    let mut cluster = TestCluster::start(3, template).await;
    let leader = cluster.wait_for_leader().await;
    let lagging = cluster.followers(leader)[0];
    cluster.stop(lagging).await;
    let client = ControllerEndpoints::new(vec![cluster.addr(leader)])
        .expect("endpoints")
        .with_request_timeout(BIG_REQUEST_TIMEOUT);
    const PARTITIONS: u32 = 50_000;
    let topic_id = uuid::Uuid::from_u128(7);
    client
        .submit(Command::CreateTopics(CreateTopics(vec![NewTopic {
            name: "wide".into(),
            id: topic_id,
            partitions: PARTITIONS,
            configs: Default::default(),
            created_ms: 1,
        }])))
        .await
        .expect("topic");
    let mut last = 0;
    for round in 0..2u64 {
        let chunks = (0..PARTITIONS)
            .map(|partition| ChunkCommit {
                topic_id,
                partition,
                position: u64::from(partition) * 100,
                batches: vec![BatchCommit {
                    len: 100,
                    offset_count: 1,
                    record_count: 1,
                    max_timestamp: 1,
                    producer_id: -1,
                    producer_epoch: -1,
                    base_sequence: -1,
                }],
            })
            .collect();
        last = client
            .submit(Command::CommitSegment(SegmentCommit {
                object_key: format!("segments/{round}.seg"),
                object_size: u64::from(PARTITIONS) * 100,
                broker_id: 1,
                append_time_ms: 1,
                chunks,
            }))
            .await
            .expect("commit")
            .index;
    }
    for n in 0..10u128 {
        last = client
            .submit(topic_command(&format!("filler-{n}"), 100 + n))
            .await
            .expect("propose")
            .index;
    }
    let state_bytes = cluster.encoded_states()[&leader].len();
    assert!(
        state_bytes > 8 * 128 * 1024,
        "state is {state_bytes} bytes: several chunks"
    );
    cluster
        .node(leader)
        .raft_metrics()
        .clone()
        .wait_for(|m| m.purged.is_some_and(|p| p.index > 5))
        .await
        .expect("leader purges its log");

    cluster.restart(lagging, false).await;
    cluster.wait_applied(last).await;
    let states = cluster.encoded_states();
    let first = states.values().next().expect("nodes");
    assert!(states.values().all(|s| s == first), "replicas diverged");
    cluster.stop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bootstrap_node_that_lost_its_data_rejoins_instead_of_founding_a_new_cluster() {
    let mut cluster = TestCluster::start(3, config_template(10_000)).await;
    cluster.wait_for_leader().await;
    let cluster_id = wait_cluster_id(&cluster).await;
    let client =
        ControllerEndpoints::new(vec![cluster.addr(2), cluster.addr(3)]).expect("endpoints");
    client
        .submit(topic_command("kept", 1))
        .await
        .expect("propose");

    cluster.stop(1).await;
    std::fs::remove_dir_all(cluster.data_dir(1)).expect("wipe node 1");
    let proposed = client
        .submit(topic_command("later", 2))
        .await
        .expect("propose");
    cluster.restart(1, false).await;
    cluster.wait_applied(proposed.index).await;
    assert_eq!(
        wait_cluster_id(&cluster).await,
        cluster_id,
        "one cluster, not two"
    );
    assert!(
        cluster
            .node(1)
            .state()
            .read()
            .topic_by_name("kept")
            .is_some()
    );
    assert_eq!(cluster.node(1).status().voters.len(), 3);
    cluster.stop_all().await;
}
