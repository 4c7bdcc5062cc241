//! Brokers' view of the controller: a local replica fed by the watch stream follows every
//! entry, resyncs from a snapshot when its entries are gone, and ends up byte-for-byte equal
//! to the controllers' state.

use crate::support;

use std::time::{Duration, Instant};

use bytes::BytesMut;
use skiff_controller::rpc::ControllerEndpoints;
use skiff_controller::rpc::wire::{WatchFrame, decode_frame};
use skiff_controller::*;
use skiff_meta::*;
use support::{TestCluster, WAIT, config_template, topic, topic_command};

async fn wait_replica_matches(cluster: &TestCluster, remote: &RemoteController) {
    let deadline = Instant::now() + WAIT;
    loop {
        let states = cluster.encoded_states();
        let replica = postcard::to_allocvec(&*remote.state().read()).expect("encodes");
        if states.values().all(|s| *s == replica) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the replica never matched the controllers"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Reads frames from a raw watch until `n` arrived (bounded).
async fn read_frames(endpoints: &ControllerEndpoints, from: u64, n: usize) -> Vec<WatchFrame> {
    let mut response = endpoints.open_watch(from).await.expect("watch opens");
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    let deadline = Instant::now() + WAIT;
    while frames.len() < n {
        let chunk = tokio::time::timeout_at(deadline.into(), response.chunk())
            .await
            .expect("frames arrive in time")
            .expect("stream readable")
            .expect("stream open");
        buf.extend_from_slice(&chunk);
        while let Some(frame) = decode_frame(&mut buf).expect("decodes") {
            frames.push(frame);
        }
    }
    frames
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_follows_a_follower_and_sees_its_own_writes() {
    let mut cluster = TestCluster::start(3, config_template(10_000)).await;
    let leader = cluster.wait_for_leader().await;
    let follower = cluster.followers(leader)[0];
    let remote =
        RemoteController::connect(RemoteControllerConfig::new(vec![cluster.addr(follower)]))
            .await
            .expect("connects");
    assert_eq!(remote.snapshot_loads(), 1);
    for n in 0..20u128 {
        let name = format!("topic-{n}");
        remote.propose(topic(&name, n + 1)).await.expect("propose");
        assert!(
            remote.state().read().topic_by_name(&name).is_some(),
            "read-your-writes: {name} visible right after its proposal"
        );
    }
    wait_replica_matches(&cluster, &remote).await;
    assert_eq!(remote.snapshot_loads(), 1, "followed by entries only");
    remote.shutdown().await;
    cluster.stop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watch_streams_entries_then_heartbeats_and_resyncs_old_positions() {
    let template = ControllerConfig {
        watch_ring_entries: 4,
        ..config_template(10_000)
    };
    let mut cluster = TestCluster::start(3, template).await;
    let leader = cluster.wait_for_leader().await;
    let endpoints = ControllerEndpoints::new(vec![cluster.addr(leader)]).expect("endpoints");
    let mut last = 0;
    for n in 0..10u128 {
        last = endpoints
            .submit(topic_command(&format!("t{n}"), n + 1))
            .await
            .expect("propose")
            .index;
    }
    let follower = cluster.followers(leader)[0];
    cluster.wait_applied(last).await;
    let at_follower = ControllerEndpoints::new(vec![cluster.addr(follower)]).expect("endpoints");

    let frames = read_frames(&at_follower, last - 1, 3).await;
    assert!(
        matches!(&frames[0], WatchFrame::Entry { index, command: Some(Command::CreateTopics(CreateTopics(_))) } if *index == last - 1),
        "{frames:?}"
    );
    assert!(matches!(&frames[1], WatchFrame::Entry { index, .. } if *index == last));
    assert_eq!(frames[2], WatchFrame::Heartbeat { applied: last });

    let frames = read_frames(&at_follower, 1, 1).await;
    assert!(matches!(frames[0], WatchFrame::Resync { .. }), "{frames:?}");
    cluster.stop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_whose_controller_fell_behind_resyncs_and_matches() {
    let template = ControllerConfig {
        watch_ring_entries: 4,
        ..config_template(5)
    };
    let mut cluster = TestCluster::start(3, template).await;
    let leader = cluster.wait_for_leader().await;
    let watched = cluster.followers(leader)[0];
    let remote =
        RemoteController::connect(RemoteControllerConfig::new(vec![cluster.addr(watched)]))
            .await
            .expect("connects");
    let before = remote.state().applied().borrow().to_owned();

    // The watched node misses 30 entries; it comes back by snapshot, so the replica's next
    // entry is in neither its log nor its ring.
    cluster.stop(watched).await;
    let endpoints = ControllerEndpoints::new(vec![cluster.addr(leader)]).expect("endpoints");
    for n in 0..30u128 {
        endpoints
            .submit(topic_command(&format!("t{n}"), n + 1))
            .await
            .expect("propose");
    }
    cluster.restart(watched, false).await;
    wait_replica_matches(&cluster, &remote).await;
    assert!(*remote.state().applied().borrow() >= before + 30);
    // On a loaded machine the replica can fall out of the 4-entry ring again while it
    // catches up, and resync once more.
    assert!(
        remote.snapshot_loads() >= 2,
        "bootstrap, then at least one resync: {}",
        remote.snapshot_loads()
    );
    assert_eq!(remote.state().read().topic_count(), 30);
    remote.shutdown().await;
    cluster.stop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_without_a_leader_ends_its_watch_streams() {
    let mut cluster = TestCluster::start(3, config_template(10_000)).await;
    let leader = cluster.wait_for_leader().await;
    let survivor = cluster.followers(leader)[0];
    let endpoints = ControllerEndpoints::new(vec![cluster.addr(survivor)]).expect("endpoints");
    // Everything the leader applied must reach the survivor first: an entry it applies after
    // its peers stop would be streamed as an entry frame, not a heartbeat.
    let leader_applied = *cluster.node(leader).state().applied().borrow();
    cluster.wait_applied(leader_applied).await;
    let applied = *cluster.node(survivor).state().applied().borrow();
    for id in [1, 2, 3] {
        if id != survivor {
            cluster.stop(id).await;
        }
    }
    let mut response = endpoints
        .open_watch(applied + 1)
        .await
        .expect("watch opens");
    let deadline = Instant::now() + WAIT;
    loop {
        let chunk = tokio::time::timeout_at(deadline.into(), response.chunk())
            .await
            .expect("the stream ends in time")
            .expect("readable");
        let Some(chunk) = chunk else { break };
        let mut buf = BytesMut::from(&chunk[..]);
        while let Some(frame) = decode_frame(&mut buf).expect("decodes") {
            assert!(matches!(frame, WatchFrame::Heartbeat { .. }), "{frame:?}");
        }
    }
    cluster.stop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_moves_to_another_controller_when_its_own_stops() {
    let mut cluster = TestCluster::start(3, config_template(10_000)).await;
    let leader = cluster.wait_for_leader().await;
    let followers = cluster.followers(leader);
    let remote = RemoteController::connect(RemoteControllerConfig::new(vec![
        cluster.addr(followers[0]),
        cluster.addr(followers[1]),
    ]))
    .await
    .expect("connects");
    remote.propose(topic("before", 1)).await.expect("propose");
    cluster.stop(followers[0]).await;
    let endpoints = ControllerEndpoints::new(vec![cluster.addr(leader)]).expect("endpoints");
    endpoints
        .submit(topic_command("after", 2))
        .await
        .expect("propose");
    wait_replica_matches(&cluster, &remote).await;
    assert!(remote.state().read().topic_by_name("after").is_some());
    assert_eq!(
        remote.snapshot_loads(),
        1,
        "resumed from its index, no resync"
    );
    remote.shutdown().await;
    cluster.stop_all().await;
}
