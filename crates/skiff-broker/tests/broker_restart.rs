//! A broker restarted while its previous process's lease still runs ends that lease at once
//! (its partitions and groups move to the other live brokers now, not when the lease lapses)
//! and goes live again only after its restart delay, so clients still backing off from the
//! dead process are not sent straight back to it. With no other broker left to lead, it goes
//! live at once. The previous process is played by proposals: broker 1 registered and
//! heartbeating under a lease far longer than the test.

use crate::cluster_support;
use crate::support;

use std::time::{Duration, Instant};

use cluster_support::{ClusterBroker, Controllers, memory_store};
use kafka_protocol::messages::MetadataRequest;
use skiff_broker::BrokerConfig;
use skiff_meta::{BrokerHeartbeat, BrokerInfo, Propose, RegisterBroker};
use support::RawClient;

const DEADLINE: Duration = Duration::from_secs(20);
const LONG_LEASE_MS: u64 = 600_000;

fn live_brokers(broker: &ClusterBroker) -> Vec<i32> {
    broker
        .remote
        .state()
        .read()
        .live_brokers()
        .map(|b| b.id)
        .collect()
}

async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Broker 1's previous process: registered and heartbeating, on an address nobody listens on.
async fn previous_process_of_broker_1(via: &ClusterBroker) {
    let controller = via.remote.clone();
    controller
        .propose(RegisterBroker(BrokerInfo {
            id: 1,
            host: "127.0.0.1".into(),
            port: 1,
            rack: None,
        }))
        .await
        .expect("registers");
    controller
        .propose(BrokerHeartbeat {
            broker_id: 1,
            now_ms: skiff_now_ms(),
        })
        .await
        .expect("heartbeats");
}

fn skiff_now_ms() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_millis(),
    )
    .expect("fits")
}

fn with_leases(delay_ms: u64) -> impl Fn(&mut BrokerConfig) {
    move |c: &mut BrokerConfig| {
        c.lease_heartbeat_ms = 100;
        c.restart_live_delay_ms = delay_ms;
    }
}

/// Broker 2, live and with a heartbeat applied (so it counts as able to take over).
async fn live_broker_2(controllers: &Controllers, delay_ms: u64) -> ClusterBroker {
    let b = ClusterBroker::start(
        2,
        controllers.addrs.clone(),
        memory_store(),
        with_leases(delay_ms),
    )
    .await;
    wait_for("broker 2's first heartbeat", || {
        b.remote
            .state()
            .read()
            .broker_lease(2)
            .is_some_and(|l| l.last_heartbeat_ms > 0)
    })
    .await;
    b
}

async fn listed_brokers(addr: std::net::SocketAddr) -> Vec<i32> {
    let mut client = RawClient::connect(addr).await;
    let mut request = MetadataRequest::default();
    request.topics = None;
    let response = client.call(12, &request).await;
    response.brokers.iter().map(|b| b.node_id.0).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_within_the_lease_hands_over_at_once_and_goes_live_after_the_delay() {
    let controllers = Controllers::start(|c| c.broker_lease_ms = LONG_LEASE_MS).await;
    let b = live_broker_2(&controllers, 0).await;
    previous_process_of_broker_1(&b).await;
    assert_eq!(
        live_brokers(&b),
        vec![1, 2],
        "the old process holds a lease"
    );

    let delay_ms = 2_000;
    let started = Instant::now();
    let a = ClusterBroker::start(
        1,
        controllers.addrs.clone(),
        memory_store(),
        with_leases(delay_ms),
    )
    .await;
    // The old lease ended within start(), long before it would have lapsed.
    assert_eq!(live_brokers(&a), vec![2], "broker 1 waits to go live");
    assert_eq!(listed_brokers(a.addr()).await, vec![2]);

    wait_for("broker 1 to go live", || live_brokers(&a) == vec![1, 2]).await;
    assert!(
        started.elapsed() >= Duration::from_millis(delay_ms),
        "live again only after the restart delay"
    );
    let info = a
        .remote
        .state()
        .read()
        .broker(1)
        .cloned()
        .expect("registered");
    assert_eq!(
        info.port,
        a.addr().port(),
        "registered with its new address"
    );

    a.stop().await;
    b.stop().await;
    controllers.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_no_other_broker_to_lead_a_restarted_broker_goes_live_at_once() {
    let controllers = Controllers::start(|c| c.broker_lease_ms = LONG_LEASE_MS).await;
    let b = live_broker_2(&controllers, 0).await;
    previous_process_of_broker_1(&b).await;
    b.stop().await; // unregisters: broker 1's old process is the only live broker

    let a = ClusterBroker::start(
        1,
        controllers.addrs.clone(),
        memory_store(),
        with_leases(LONG_LEASE_MS),
    )
    .await;
    assert_eq!(
        live_brokers(&a),
        vec![1],
        "nobody else could lead its partitions"
    );
    a.stop().await;
    controllers.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_broker_goes_live_early_when_the_last_other_broker_leaves() {
    let controllers = Controllers::start(|c| c.broker_lease_ms = LONG_LEASE_MS).await;
    let b = live_broker_2(&controllers, 0).await;
    previous_process_of_broker_1(&b).await;

    let a = ClusterBroker::start(
        1,
        controllers.addrs.clone(),
        memory_store(),
        with_leases(LONG_LEASE_MS),
    )
    .await;
    assert_eq!(live_brokers(&a), vec![2]);
    b.stop().await;
    wait_for("broker 1 to go live without broker 2", || {
        live_brokers(&a) == vec![1]
    })
    .await;
    a.stop().await;
    controllers.stop().await;
}
