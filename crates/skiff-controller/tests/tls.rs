//! The controller API over TLS with client certificates (`--controller-tls-*`): a client
//! without a certificate, with one from another CA, or speaking plain HTTP gets no HTTP answer
//! (the handshake is refused) and changes nothing; a 3-node cluster elects, replicates and
//! forwards over TLS (with the cluster secret as a second layer); a broker's
//! `RemoteController` with the right certificate registers and follows the watch, and one
//! with a refused certificate is told so at once; new certificate files are served without a
//! restart.

use crate::support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use skiff_controller::auth::ClusterSecret;
use skiff_controller::error::TransportError;
use skiff_controller::rpc::ControllerEndpoints;
use skiff_controller::rpc::wire::PATH_STATUS;
use skiff_controller::*;
use skiff_meta::*;
use support::pki::{Identity, Pki};
use support::{TestCluster, WAIT, config_template, topic_command};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::ServerName;

struct Certificates {
    _dir: tempfile::TempDir,
    cluster: Pki,
    node: Identity,
    broker: Identity,
    other: Pki,
    intruder: Identity,
}

fn certificates() -> Certificates {
    let dir = tempfile::tempdir().expect("tempdir");
    let cluster = Pki::new(dir.path(), "cluster-ca");
    let node = cluster.issue("controller");
    let broker = cluster.issue("broker");
    let other = Pki::new(dir.path(), "other-ca");
    let intruder = other.issue("intruder");
    Certificates {
        _dir: dir,
        cluster,
        node,
        broker,
        other,
        intruder,
    }
}

fn tls_template(certs: &Certificates) -> ControllerConfig {
    ControllerConfig {
        tls: Some(certs.cluster.server(&certs.node)),
        ..config_template(10_000)
    }
}

fn has_topic(cluster: &TestCluster, id: u64, name: &str) -> bool {
    cluster
        .node(id)
        .state()
        .read()
        .topic_by_name(name)
        .is_some()
}

/// What comes back for one GET of the status over `stream`: the bytes read before the
/// connection ended or failed (empty when the server refused the handshake).
async fn exchange<S>(mut stream: S) -> Vec<u8>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let request = format!("GET {PATH_STATUS} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).await.is_err() {
        return Vec::new();
    }
    let mut reply = Vec::new();
    let read = tokio::time::timeout(WAIT, stream.read_to_end(&mut reply))
        .await
        .expect("the server answers or closes");
    if read.is_err() {
        // A TLS alert (certificate required / unknown CA) ends the read.
        return reply;
    }
    reply
}

/// A raw TLS client trusting the cluster CA, presenting `identity`.
async fn tls_exchange(addr: &str, client: &skiff_tls::ClientFiles) -> Vec<u8> {
    let config = skiff_tls::client_config(client).expect("client config");
    let connector = TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let name = ServerName::try_from("127.0.0.1").expect("name");
    match connector.connect(name, tcp).await {
        Ok(stream) => exchange(stream).await,
        Err(_) => Vec::new(),
    }
}

fn is_http(reply: &[u8]) -> bool {
    reply.starts_with(b"HTTP/1.1 ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_without_the_cluster_cas_certificate_are_refused_at_the_handshake() {
    let certs = certificates();
    let mut cluster = TestCluster::start(1, tls_template(&certs)).await;
    let leader = cluster.wait_for_leader().await;
    let addr = cluster.addr(leader);

    // With a certificate the CA signed: served.
    let reply = tls_exchange(&addr, &certs.cluster.client(Some(&certs.broker))).await;
    assert!(
        reply.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&reply)
    );
    // No certificate, one from another CA, plain HTTP: no HTTP answer at all.
    let refused = [
        tls_exchange(&addr, &certs.cluster.client(None)).await,
        tls_exchange(&addr, &certs.cluster.client(Some(&certs.intruder))).await,
        exchange(TcpStream::connect(&addr).await.expect("connect")).await,
    ];
    for (i, reply) in refused.iter().enumerate() {
        assert!(
            !is_http(reply),
            "client {i} got an answer: {}",
            String::from_utf8_lossy(reply)
        );
    }

    // The controller client sorts these into TLS failures that name the flags. When the
    // server is the one refusing (no certificate, another CA's), TLS 1.3 lets the client
    // finish its side and send the request first; the server's alert then races the closed
    // connection, so the client may see only the connection end. When the client refuses the
    // server's certificate, it always knows why.
    for (client, server_refuses) in [
        (certs.cluster.client(None), true),
        (certs.cluster.client(Some(&certs.intruder)), true),
        // Trusting another CA: this client refuses the controller's certificate.
        (certs.other.client(Some(&certs.intruder)), false),
    ] {
        let endpoints =
            ControllerEndpoints::with_tls(vec![addr.clone()], Some(&client)).expect("endpoints");
        let refused = endpoints.status_of(&addr).await.err();
        match &refused {
            Some(TransportError::Tls { .. }) => {
                let message = refused.map(|e| e.to_string()).unwrap_or_default();
                assert!(
                    message.contains("--controller-tls-client-ca-file"),
                    "{message}"
                );
            }
            Some(TransportError::Interrupted { .. }) if server_refuses => {}
            other => panic!("expected a TLS failure, got {other:?}"),
        }
        let refused = endpoints
            .submit(topic_command("intruder", 1))
            .await
            .expect_err("refused");
        if !server_refuses {
            assert!(
                matches!(refused, ProposeError::BadRequest { .. }),
                "{refused}"
            );
        }
        assert!(endpoints.snapshot().await.is_err());
    }
    let plain = ControllerEndpoints::new(vec![addr.clone()]).expect("endpoints");
    assert!(plain.status_of(&addr).await.is_err());
    assert!(plain.submit(topic_command("intruder", 1)).await.is_err());
    assert!(
        !has_topic(&cluster, leader, "intruder"),
        "a refused client's proposal was applied"
    );
    cluster.stop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_cluster_elects_replicates_and_forwards_with_the_secret_as_a_second_layer() {
    let certs = certificates();
    let secret = || ClusterSecret::from_bytes(b"the right cluster secret, 32 bytes");
    let mut cluster = TestCluster::start(
        3,
        ControllerConfig {
            cluster_secret: Some(secret()),
            ..tls_template(&certs)
        },
    )
    .await;
    let leader = cluster.wait_for_leader().await;
    let follower = cluster.followers(leader)[0];

    let client = certs.cluster.client(Some(&certs.broker));
    let endpoints = ControllerEndpoints::with_tls(vec![cluster.addr(follower)], Some(&client))
        .expect("endpoints")
        .with_secret(Some(secret()));
    let proposed = endpoints
        .submit(topic_command("orders", 1))
        .await
        .expect("a follower forwards the proposal to the leader over TLS");
    cluster.wait_applied(proposed.index).await;
    for id in 1..=3 {
        assert!(has_topic(&cluster, id, "orders"), "node {id} has the topic");
    }
    let status = endpoints
        .status_of(&cluster.addr(follower))
        .await
        .expect("status");
    assert_eq!(status.voters.len(), 3);

    // The right certificate without the secret: TLS passes, the signature check still refuses.
    let unsigned = ControllerEndpoints::with_tls(vec![cluster.addr(leader)], Some(&client))
        .expect("endpoints");
    let refused = unsigned.status_of(&cluster.addr(leader)).await;
    assert!(
        matches!(refused, Err(TransportError::Unauthorized { .. })),
        "{refused:?}"
    );

    // A new leader is elected over TLS when the old one stops.
    cluster.stop(leader).await;
    let next = cluster.wait_for_leader().await;
    assert_ne!(next, leader);
    let proposed = endpoints
        .submit(topic_command("after-failover", 2))
        .await
        .expect("proposal after failover");
    cluster.wait_applied(proposed.index).await;
    cluster.stop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_with_the_right_certificate_registers_and_follows_the_watch() {
    let certs = certificates();
    let mut cluster = TestCluster::start(1, tls_template(&certs)).await;
    let leader = cluster.wait_for_leader().await;
    let controllers = vec![cluster.addr(leader)];

    for tls in [
        Some(certs.cluster.client(None)),
        Some(certs.cluster.client(Some(&certs.intruder))),
        Some(certs.other.client(Some(&certs.intruder))),
    ] {
        let started = Instant::now();
        let refused = RemoteController::connect(RemoteControllerConfig {
            tls,
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
            refused.to_string().contains("--controller-tls"),
            "{refused}"
        );
        // Not after the 60 s connect timeout: a refused certificate ends the wait.
        assert!(started.elapsed() < Duration::from_secs(30));
    }
    // Plain HTTP to a TLS port cannot be told from a broken connection: it never connects.
    let plain = RemoteController::connect(RemoteControllerConfig {
        connect_timeout: Duration::from_secs(2),
        ..RemoteControllerConfig::new(controllers.clone())
    })
    .await
    .err()
    .expect("refused");
    assert!(
        matches!(plain, ControllerError::NotConnected { .. }),
        "{plain}"
    );

    let remote = RemoteController::connect(RemoteControllerConfig {
        tls: Some(certs.cluster.client(Some(&certs.broker))),
        ..RemoteControllerConfig::new(controllers)
    })
    .await
    .expect("the right certificate connects");
    remote
        .submit(Command::RegisterBroker(RegisterBroker(BrokerInfo {
            id: 7,
            host: "b".into(),
            port: 1,
            rack: None,
        })))
        .await
        .expect("registers");
    assert!(
        remote.state().read().broker(7).is_some(),
        "the replica follows the watch over TLS"
    );
    assert!(cluster.node(leader).state().read().broker(7).is_some());
    remote.shutdown().await;
    cluster.stop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_certificate_files_are_served_without_a_restart() {
    let certs = certificates();
    // The files the controller reads, overwritten below with another CA's.
    let live = tempfile::tempdir().expect("tempdir");
    let files = skiff_tls::TlsFiles {
        cert: live.path().join("node.pem"),
        key: live.path().join("node.key"),
        client_ca: Some(live.path().join("ca.pem")),
    };
    let install = |pki: &Pki, identity: &Identity| {
        // Key first: a half-installed pair does not load and the old one stays.
        std::fs::copy(&identity.key, &files.key).expect("copy");
        std::fs::copy(&identity.cert, &files.cert).expect("copy");
        std::fs::copy(pki.ca(), files.client_ca.as_ref().expect("ca")).expect("copy");
    };
    install(&certs.cluster, &certs.node);
    let mut cluster = TestCluster::start(
        1,
        ControllerConfig {
            tls: Some(files.clone()),
            tls_reload_interval_ms: 50,
            ..config_template(10_000)
        },
    )
    .await;
    let leader = cluster.wait_for_leader().await;
    let addr = cluster.addr(leader);
    let new_client = certs.other.client(Some(&certs.intruder));
    assert!(!is_http(&tls_exchange(&addr, &new_client).await));

    let rotated = certs.other.issue("controller-rotated");
    install(&certs.other, &rotated);
    let deadline = Instant::now() + WAIT;
    loop {
        let reply = tls_exchange(&addr, &new_client).await;
        if reply.starts_with(b"HTTP/1.1 200") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the new certificate files were not served within {WAIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // And the old CA's clients are refused from then on.
    let old = tls_exchange(&addr, &certs.cluster.client(Some(&certs.broker))).await;
    assert!(!is_http(&old));
    cluster.stop_all().await;
}
