//! The leader's lease monitor: a heartbeating broker stays live (also across a change of
//! leader, whose monitor starts with a fresh lease for everyone); a silent one is expired
//! after its lease and comes back with its next heartbeat.

use crate::support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use skiff_controller::rpc::ControllerEndpoints;
use skiff_controller::*;
use skiff_meta::*;
use support::{TestCluster, WAIT, config_template};
use tokio_util::sync::CancellationToken;

/// Comfortably longer than an election (the new leader's monitor only starts counting once
/// it leads), so heartbeats delayed by the failover do not lapse a lease on a loaded machine.
const LEASE: Duration = Duration::from_millis(1500);
const BROKER: i32 = 7;

fn is_live(cluster: &TestCluster, node: u64) -> bool {
    cluster
        .node(node)
        .state()
        .read()
        .live_brokers()
        .any(|b| b.id == BROKER)
}

/// Heartbeats every 100 ms until stopped.
fn keep_heartbeating(
    endpoints: Arc<ControllerEndpoints>,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while !stop.is_cancelled() {
            let _ = endpoints
                .submit(Command::BrokerHeartbeat(BrokerHeartbeat {
                    broker_id: BROKER,
                    now_ms: 1_700_000_000_000,
                }))
                .await;
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                _ = stop.cancelled() => {}
            }
        }
    })
}

async fn wait_until(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !check() {
        assert!(
            Instant::now() < deadline,
            "{what} did not happen within {WAIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_brokers_expire_and_the_monitor_restarts_with_each_leader() {
    let template = ControllerConfig {
        broker_lease_ms: LEASE.as_millis() as u64,
        ..config_template(10_000)
    };
    let mut cluster = TestCluster::start(3, template).await;
    let leader = cluster.wait_for_leader().await;
    let all: Vec<String> = (1..=3).map(|id| cluster.addr(id)).collect();
    let endpoints = Arc::new(ControllerEndpoints::new(all).expect("endpoints"));
    endpoints
        .submit(Command::RegisterBroker(RegisterBroker(BrokerInfo {
            id: BROKER,
            host: "b".into(),
            port: 1,
            rack: None,
        })))
        .await
        .expect("register");

    let stop = CancellationToken::new();
    let heartbeats = keep_heartbeating(endpoints.clone(), stop.clone());
    // Over several leases of heartbeats, and across a change of leader, it stays live.
    let observe_until = Instant::now() + 2 * LEASE;
    while Instant::now() < observe_until {
        assert!(is_live(&cluster, leader), "expired while heartbeating");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cluster.stop(leader).await;
    let new_leader = cluster.wait_for_leader().await;
    let observe_until = Instant::now() + 2 * LEASE;
    while Instant::now() < observe_until {
        assert!(
            is_live(&cluster, new_leader),
            "expired by the new leader while heartbeating"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    stop.cancel();
    heartbeats.await.expect("heartbeat task");
    let silent_since = Instant::now();
    wait_until("expiry", || !is_live(&cluster, new_leader)).await;
    let took = silent_since.elapsed();
    assert!(
        took >= LEASE - Duration::from_millis(150),
        "expired after only {took:?}"
    );
    assert!(
        cluster
            .node(new_leader)
            .state()
            .read()
            .broker(BROKER)
            .is_some(),
        "an expired broker stays registered"
    );

    let response = endpoints
        .submit(Command::BrokerHeartbeat(BrokerHeartbeat {
            broker_id: BROKER,
            now_ms: 1_700_000_000_000,
        }))
        .await
        .expect("heartbeat");
    assert_eq!(
        response.response,
        CommandResponse::Heartbeat(HeartbeatAnswer::Accepted)
    );
    cluster.wait_applied(response.index).await;
    assert!(is_live(&cluster, new_leader), "a heartbeat revives it");
    cluster.stop_all().await;
}
