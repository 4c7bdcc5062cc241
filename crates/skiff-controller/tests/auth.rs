//! The controller API with a cluster secret: raw HTTP requests on a real socket are refused
//! (401, nothing applied) without a signature or with another secret's, and accepted with the
//! right one; a 3-node cluster replicates and forwards with signed Raft traffic; a broker's
//! `RemoteController` with the wrong secret is refused at once, and with the right one
//! follows the state.

use crate::support;

use std::time::Duration;

use skiff_controller::auth::ClusterSecret;
use skiff_controller::error::TransportError;
use skiff_controller::rpc::ControllerEndpoints;
use skiff_controller::rpc::wire::{PATH_PROPOSE, PATH_STATUS, ProposeRequest};
use skiff_controller::*;
use skiff_meta::*;
use support::{TestCluster, config_template, topic_command};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn secret() -> ClusterSecret {
    ClusterSecret::from_bytes(b"the right cluster secret, 32 bytes")
}

fn wrong_secret() -> ClusterSecret {
    ClusterSecret::from_bytes(b"another cluster's secret, 32 bytes")
}

fn secured_template() -> ControllerConfig {
    ControllerConfig {
        cluster_secret: Some(secret()),
        ..config_template(10_000)
    }
}

/// One HTTP/1.1 request on a fresh connection; the status code and the body.
async fn raw_request(
    addr: &str,
    method: &str,
    path: &str,
    authorization: Option<String>,
    body: &[u8],
) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/x-postcard\r\n\
         content-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    if let Some(value) = authorization {
        head.push_str(&format!("authorization: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.expect("write");
    stream.write_all(body).await.expect("write body");
    let mut reply = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut reply))
        .await
        .expect("the controller answers")
        .expect("read");
    let text = String::from_utf8_lossy(&reply).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP reply: {text:?}"));
    (status, text)
}

fn has_topic(cluster: &TestCluster, id: u64, name: &str) -> bool {
    cluster
        .node(id)
        .state()
        .read()
        .topic_by_name(name)
        .is_some()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsigned_and_wrongly_signed_requests_get_401_and_change_nothing() {
    let mut cluster = TestCluster::start(1, secured_template()).await;
    let leader = cluster.wait_for_leader().await;
    let addr = cluster.addr(leader);
    let body = postcard::to_allocvec(&ProposeRequest {
        command: topic_command("intruder", 1),
        forwarded: false,
    })
    .expect("encodes");

    let (status, reply) = raw_request(&addr, "POST", PATH_PROPOSE, None, &body).await;
    assert_eq!(status, 401, "{reply}");
    assert!(
        reply
            .to_ascii_lowercase()
            .contains("www-authenticate: skiff-hmac-sha256"),
        "{reply}"
    );
    let wrong = wrong_secret().authorization("POST", PATH_PROPOSE, &body);
    let (status, reply) = raw_request(&addr, "POST", PATH_PROPOSE, Some(wrong), &body).await;
    assert_eq!(status, 401, "{reply}");
    // Signed for another body: the header is of no use for this one.
    let other_body = secret().authorization("POST", PATH_PROPOSE, b"another body");
    let (status, _) = raw_request(&addr, "POST", PATH_PROPOSE, Some(other_body), &body).await;
    assert_eq!(status, 401);
    let garbage = Some("Skiff-HMAC-SHA256 ts=1,nonce=zz,sig=00".to_string());
    let (status, _) = raw_request(&addr, "GET", PATH_STATUS, garbage, b"").await;
    assert_eq!(status, 401);
    let (status, _) = raw_request(&addr, "GET", "/v1/snapshot", None, b"").await;
    assert_eq!(status, 401, "the state is not readable without the secret");
    assert!(
        !has_topic(&cluster, leader, "intruder"),
        "a refused proposal was applied"
    );

    let right = secret().authorization("POST", PATH_PROPOSE, &body);
    let (status, reply) =
        raw_request(&addr, "POST", PATH_PROPOSE, Some(right.clone()), &body).await;
    assert_eq!(status, 200, "{reply}");
    assert!(
        has_topic(&cluster, leader, "intruder"),
        "the signed proposal was applied"
    );
    // The same signed request again is a replay.
    let (status, _) = raw_request(&addr, "POST", PATH_PROPOSE, Some(right), &body).await;
    assert_eq!(status, 401, "a replayed request is refused");
    cluster.stop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secured_cluster_replicates_and_forwards_and_refuses_other_secrets() {
    let mut cluster = TestCluster::start(3, secured_template()).await;
    let leader = cluster.wait_for_leader().await;
    let follower = cluster.followers(leader)[0];

    let signed = ControllerEndpoints::new(vec![cluster.addr(follower)])
        .expect("endpoints")
        .with_secret(Some(secret()));
    let proposed = signed
        .submit(topic_command("orders", 1))
        .await
        .expect("a follower forwards a signed proposal to the leader");
    cluster.wait_applied(proposed.index).await;
    for id in 1..=3 {
        assert!(has_topic(&cluster, id, "orders"), "node {id} has the topic");
    }
    signed
        .status_of(&cluster.addr(follower))
        .await
        .expect("status with the secret");

    for client in [
        ControllerEndpoints::new(vec![cluster.addr(leader)]).expect("endpoints"),
        ControllerEndpoints::new(vec![cluster.addr(leader)])
            .expect("endpoints")
            .with_secret(Some(wrong_secret())),
    ] {
        let refused = client
            .submit(topic_command("other", 2))
            .await
            .expect_err("refused");
        assert!(
            matches!(refused, ProposeError::BadRequest { ref detail } if detail.contains("401")),
            "{refused}"
        );
        let status = client.status_of(&cluster.addr(leader)).await;
        assert!(
            matches!(status, Err(TransportError::Unauthorized { .. })),
            "{status:?}"
        );
        assert!(client.snapshot().await.is_err());
    }
    assert!(!has_topic(&cluster, leader, "other"));
    cluster.stop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_with_the_wrong_secret_cannot_connect_and_one_with_the_right_one_registers() {
    let mut cluster = TestCluster::start(1, secured_template()).await;
    let leader = cluster.wait_for_leader().await;
    let controllers = vec![cluster.addr(leader)];

    for secret in [None, Some(wrong_secret())] {
        let started = std::time::Instant::now();
        let refused = RemoteController::connect(RemoteControllerConfig {
            cluster_secret: secret,
            ..RemoteControllerConfig::new(controllers.clone())
        })
        .await
        .err()
        .expect("refused");
        assert!(
            matches!(refused, ControllerError::Refused { .. }),
            "{refused}"
        );
        assert!(
            refused.to_string().contains("--cluster-secret-file"),
            "{refused}"
        );
        // Not after the 60 s connect timeout: a 401 ends the wait.
        assert!(started.elapsed() < Duration::from_secs(30));
    }

    let remote = RemoteController::connect(RemoteControllerConfig {
        cluster_secret: Some(secret()),
        ..RemoteControllerConfig::new(controllers)
    })
    .await
    .expect("the right secret connects");
    remote
        .submit(Command::RegisterBroker(RegisterBroker(BrokerInfo {
            id: 7,
            host: "b".into(),
            port: 1,
            rack: None,
        })))
        .await
        .expect("registers");
    // The watch stream is signed too: the replica sees the registration.
    assert!(
        remote.state().read().broker(7).is_some(),
        "the replica follows the watch"
    );
    assert!(cluster.node(leader).state().read().broker(7).is_some());
    remote.shutdown().await;
    cluster.stop_all().await;
}
