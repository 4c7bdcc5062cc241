//! SASL and TLS at the wire: stock clients are covered in tests/e2e; these send what no stock
//! client would (requests before authentication, forged nonces and proofs, malformed and
//! oversized SASL frames, TLS garbage) and check each is refused, the connection closed,
//! and other clients served.

use crate::support;

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use hmac::{Hmac, KeyInit, Mac};
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::{
    ApiVersionsRequest, MetadataRequest, SaslAuthenticateRequest, SaslHandshakeRequest,
};
use kafka_protocol::protocol::StrBytes;
use sha2::{Digest, Sha256};
use skiff_broker::security::SecurityProtocol;
use skiff_broker::security::scram_keys::{new_credential, salted_password};
use skiff_meta::{AlterScramCredentials, Propose, ScramChange, ScramMechanism};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PASSWORD: &str = "alice-secret";

async fn sasl_broker(tune: impl FnOnce(&mut skiff_broker::BrokerConfig)) -> TestBroker {
    let broker = TestBroker::start_with(|c| {
        c.security_protocol = SecurityProtocol::SaslPlaintext;
        tune(c);
    })
    .await;
    let answers = broker
        .controller()
        .propose(AlterScramCredentials {
            changes: vec![ScramChange::Upsert {
                user: "alice".into(),
                mechanism: ScramMechanism::Sha256,
                credential: new_credential(ScramMechanism::Sha256, PASSWORD.as_bytes(), 4096),
                if_absent: false,
            }],
        })
        .await
        .expect("proposal applies");
    assert_eq!(answers, vec![Ok(())]);
    broker
}

async fn handshake(client: &mut RawClient, mechanism: &'static str) -> i16 {
    let request =
        SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str(mechanism));
    client.call(1, &request).await.error_code
}

async fn authenticate(
    client: &mut RawClient,
    bytes: &[u8],
) -> kafka_protocol::messages::SaslAuthenticateResponse {
    let request = SaslAuthenticateRequest::default().with_auth_bytes(Bytes::copy_from_slice(bytes));
    client.call(2, &request).await
}

async fn plain_login(client: &mut RawClient, user: &str, password: &str) -> i16 {
    assert_eq!(handshake(client, "PLAIN").await, 0);
    authenticate(client, format!("\0{user}\0{password}").as_bytes())
        .await
        .error_code
}

/// Metadata answers on an authenticated connection.
async fn serves(client: &mut RawClient) -> bool {
    let response = client.call(12, &MetadataRequest::default()).await;
    !response.brokers.is_empty()
}

fn hmac(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("any key length");
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

/// A SCRAM-SHA-256 client's final message for `server_first`, with the nonce and proof
/// optionally forged.
fn client_final(
    password: &str,
    bare: &str,
    server_first: &str,
    forge_nonce: bool,
    forge_proof: bool,
) -> String {
    let attrs: Vec<&str> = server_first.split(',').collect();
    let nonce = attrs[0].strip_prefix("r=").expect("nonce");
    let salt = STANDARD
        .decode(attrs[1].strip_prefix("s=").expect("salt"))
        .expect("base64");
    let iterations: u32 = attrs[2]
        .strip_prefix("i=")
        .expect("iterations")
        .parse()
        .expect("number");
    let salted = salted_password(
        ScramMechanism::Sha256,
        password.as_bytes(),
        &salt,
        iterations,
    );
    let client_key = hmac(&salted, b"Client Key");
    let stored_key = Sha256::digest(&client_key).to_vec();
    let nonce = if forge_nonce {
        format!("{nonce}x")
    } else {
        nonce.to_string()
    };
    let without_proof = format!("c=biws,r={nonce}");
    let auth = format!("{bare},{server_first},{without_proof}");
    let signature = hmac(&stored_key, auth.as_bytes());
    let mut proof: Vec<u8> = client_key
        .iter()
        .zip(&signature)
        .map(|(a, b)| a ^ b)
        .collect();
    if forge_proof {
        proof[0] ^= 1;
    }
    format!("{without_proof},p={}", STANDARD.encode(proof))
}

/// Runs a SCRAM-SHA-256 exchange; the final step's error code.
async fn scram_login(
    client: &mut RawClient,
    password: &str,
    forge_nonce: bool,
    forge_proof: bool,
) -> i16 {
    assert_eq!(handshake(client, "SCRAM-SHA-256").await, 0);
    let bare = "n=alice,r=clientnonce";
    let first = authenticate(client, format!("n,,{bare}").as_bytes()).await;
    assert_eq!(first.error_code, 0);
    let server_first = String::from_utf8(first.auth_bytes.to_vec()).expect("utf-8");
    let last = client_final(password, bare, &server_first, forge_nonce, forge_proof);
    let last = authenticate(client, last.as_bytes()).await;
    if last.error_code == 0 {
        assert!(last.auth_bytes.starts_with(b"v="), "server signature");
    }
    last.error_code
}

const FAILED: i16 = ResponseError::SaslAuthenticationFailed.code();

#[tokio::test]
async fn plain_and_scram_logins_are_served_and_bad_ones_closed() {
    let broker = sasl_broker(|_| {}).await;

    let mut plain = broker.client().await;
    assert_eq!(plain_login(&mut plain, "alice", PASSWORD).await, 0);
    assert!(serves(&mut plain).await);

    let mut scram = broker.client().await;
    assert_eq!(scram_login(&mut scram, PASSWORD, false, false).await, 0);
    assert!(serves(&mut scram).await);

    for (password, nonce, proof) in [
        (PASSWORD, true, false),
        (PASSWORD, false, true),
        ("wrong", false, false),
    ] {
        let mut bad = broker.client().await;
        assert_eq!(scram_login(&mut bad, password, nonce, proof).await, FAILED);
        assert!(
            bad.recv_frame().await.is_none(),
            "closed after a failed login"
        );
    }
    for (user, password) in [("alice", "wrong"), ("mallory", PASSWORD)] {
        let mut bad = broker.client().await;
        assert_eq!(plain_login(&mut bad, user, password).await, FAILED);
        assert!(bad.recv_frame().await.is_none());
    }
    // Malformed SCRAM messages fail the same way.
    for garbage in [
        &b"\xff\xfe"[..],
        b"n,,r=x",
        b"p=tls-unique,,n=alice,r=x",
        b"",
    ] {
        let mut bad = broker.client().await;
        assert_eq!(handshake(&mut bad, "SCRAM-SHA-256").await, 0);
        assert_eq!(authenticate(&mut bad, garbage).await.error_code, FAILED);
        assert!(bad.recv_frame().await.is_none());
    }
    // The good connections were never disturbed.
    assert!(serves(&mut plain).await);
    assert!(serves(&mut scram).await);
    broker.stop().await;
}

#[tokio::test]
async fn requests_out_of_turn_close_the_connection() {
    let broker = sasl_broker(|_| {}).await;

    // ApiVersions is answered before authentication (clients ask it first).
    let mut client = broker.client().await;
    assert_eq!(
        client
            .call(3, &ApiVersionsRequest::default())
            .await
            .error_code,
        0
    );
    // Anything else closes the connection unanswered, as Kafka does.
    client.send(12, &MetadataRequest::default()).await;
    assert!(client.recv_frame().await.is_none());

    let mut early = broker.client().await;
    let response = authenticate(&mut early, b"\0alice\0alice-secret").await;
    assert_eq!(response.error_code, ResponseError::IllegalSaslState.code());
    assert!(early.recv_frame().await.is_none());

    let mut unknown = broker.client().await;
    let response = unknown
        .call(
            1,
            &SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str("GSSAPI")),
        )
        .await;
    assert_eq!(
        response.error_code,
        ResponseError::UnsupportedSaslMechanism.code()
    );
    let offered: Vec<&str> = response.mechanisms.iter().map(|m| m.as_str()).collect();
    assert_eq!(offered, ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]);
    assert!(unknown.recv_frame().await.is_none());

    let mut fine = broker.client().await;
    assert_eq!(plain_login(&mut fine, "alice", PASSWORD).await, 0);
    assert!(serves(&mut fine).await);
    broker.stop().await;
}

#[tokio::test]
async fn oversized_frames_before_authentication_close_the_connection() {
    let broker = sasl_broker(|c| c.sasl_max_receive_bytes = 4096).await;
    let mut big = broker.client().await;
    assert_eq!(handshake(&mut big, "PLAIN").await, 0);
    let mut token = b"\0alice\0".to_vec();
    token.resize(8192, b'x');
    let request = SaslAuthenticateRequest::default().with_auth_bytes(Bytes::from(token));
    big.send(2, &request).await;
    assert!(
        big.recv_frame().await.is_none(),
        "an oversized frame before login closes"
    );

    // Once authenticated, frames may be as large as max_request_bytes again.
    let mut fine = broker.client().await;
    assert_eq!(plain_login(&mut fine, "alice", PASSWORD).await, 0);
    let mut metadata = MetadataRequest::default();
    metadata.topics = Some(
        (0..400)
            .map(|i| {
                kafka_protocol::messages::metadata_request::MetadataRequestTopic::default()
                    .with_name(Some(topic_name(&format!("no-such-topic-{i:05}"))))
            })
            .collect(),
    );
    let response = fine.call(12, &metadata).await;
    assert_eq!(response.topics.len(), 400);
    broker.stop().await;
}

#[tokio::test]
async fn expired_sessions_are_closed_until_the_client_reauthenticates() {
    const REAUTH_MS: u64 = 300;
    let broker = sasl_broker(|c| c.connections_max_reauth_ms = REAUTH_MS).await;
    let mut client = broker.client().await;
    assert_eq!(handshake(&mut client, "PLAIN").await, 0);
    let response = authenticate(&mut client, format!("\0alice\0{PASSWORD}").as_bytes()).await;
    assert_eq!(response.session_lifetime_ms, REAUTH_MS as i64);

    let mut renewing = broker.client().await;
    assert_eq!(plain_login(&mut renewing, "alice", PASSWORD).await, 0);

    // Waiting out the session is what this test is about.
    tokio::time::sleep(Duration::from_millis(REAUTH_MS + 100)).await;
    // Re-authenticating on the connection (KIP-368) renews the session...
    assert_eq!(plain_login(&mut renewing, "alice", PASSWORD).await, 0);
    assert!(serves(&mut renewing).await);
    // ...and a connection that did not is closed on its next request.
    client.send(12, &MetadataRequest::default()).await;
    assert!(client.recv_frame().await.is_none());
    broker.stop().await;
}

#[tokio::test]
async fn a_v0_handshake_takes_bare_tokens() {
    let broker = sasl_broker(|_| {}).await;
    let mut client = broker.client().await;
    let request =
        SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str("PLAIN"));
    assert_eq!(client.call(0, &request).await.error_code, 0);
    client
        .send_frame(format!("\0alice\0{PASSWORD}").as_bytes())
        .await;
    let reply = client.recv_frame().await.expect("an empty token frame");
    assert!(reply.is_empty());
    assert!(serves(&mut client).await);
    broker.stop().await;
}

/// A CA and a broker certificate for localhost, made with the openssl command line.
fn certificates(
    dir: &std::path::Path,
) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    let run = |args: &[&str]| {
        let status = std::process::Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .stderr(std::process::Stdio::null())
            .status()
            .expect("openssl runs");
        assert!(status.success(), "openssl {args:?}");
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    run(&[
        &["req", "-x509"][..],
        &ec,
        &[
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=skiff-test-ca",
        ],
    ]
    .concat());
    run(&[
        &["req"][..],
        &ec,
        &[
            "-keyout",
            "broker.key",
            "-out",
            "broker.csr",
            "-subj",
            "/CN=localhost",
        ],
    ]
    .concat());
    std::fs::write(
        dir.join("san.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\n",
    )
    .expect("write");
    run(&[
        "x509",
        "-req",
        "-in",
        "broker.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "broker.pem",
        "-days",
        "2",
        "-extfile",
        "san.ext",
    ]);
    // A client certificate from the same CA, for mutual TLS (v3: webpki refuses v1).
    std::fs::write(
        dir.join("client.ext"),
        "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n",
    )
    .expect("write");
    let client_subject = ["-subj", "/O=Example/CN=writer"];
    let client_files = ["-keyout", "client.key", "-out", "client.csr"];
    run(&[&["req"][..], &ec, &client_files, &client_subject].concat());
    run(&[
        "x509",
        "-req",
        "-in",
        "client.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "client.pem",
        "-days",
        "2",
        "-extfile",
        "client.ext",
    ]);
    (
        dir.join("ca.pem"),
        dir.join("broker.pem"),
        dir.join("broker.key"),
    )
}

#[tokio::test]
async fn tls_garbage_is_refused_and_tls_clients_are_served() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, cert, key) = certificates(dir.path());
    let broker = TestBroker::start_with(|c| {
        c.security_protocol = SecurityProtocol::Ssl;
        c.tls_cert_file = Some(cert);
        c.tls_key_file = Some(key);
    })
    .await;

    // Plaintext Kafka and random bytes on a TLS port: the handshake fails, the socket closes.
    for garbage in [
        &b"\x00\x00\x00\x0a\x00\x12\x00\x03\x00\x00\x00\x01\x00\x00"[..],
        &[0x16, 3, 1, 0xff, 0xff, 1, 2, 3],
    ] {
        let mut raw = broker.client().await;
        raw.send_bytes(garbage).await.expect("write");
        let mut buf = [0u8; 64];
        let read = tokio::time::timeout(DEADLINE, raw.stream().read(&mut buf))
            .await
            .expect("closed in time");
        // A TLS alert or nothing, then end of stream; never a Kafka response.
        let mut rest = Vec::new();
        let _ = tokio::time::timeout(DEADLINE, raw.stream().read_to_end(&mut rest)).await;
        assert!(
            read.map(|n| n == 0 || buf[0] == 0x15).unwrap_or(true),
            "got {:?}",
            &buf[..]
        );
    }

    assert!(
        tls_api_versions(broker.addr, dir.path(), false).await,
        "a TLS client is served"
    );
    broker.stop().await;
}

/// Connects over TLS (trusting the test CA, presenting the client certificate when asked)
/// and sends ApiVersions v0; whether a well-formed answer came back.
async fn tls_api_versions(
    addr: std::net::SocketAddr,
    dir: &std::path::Path,
    with_client_cert: bool,
) -> bool {
    tls_connect(addr, dir, with_client_cert).await.is_some()
}

/// A TLS connection that answered ApiVersions v0, trusting `dir`'s CA.
async fn tls_connect(
    addr: std::net::SocketAddr,
    dir: &std::path::Path,
    with_client_cert: bool,
) -> Option<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(dir.join("ca.pem")).expect("ca pem"))
        .expect("root");
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots);
    let config = if with_client_cert {
        let chain = vec![CertificateDer::from_pem_file(dir.join("client.pem")).expect("pem")];
        let key = PrivateKeyDer::from_pem_file(dir.join("client.key")).expect("key");
        builder
            .with_client_auth_cert(chain, key)
            .expect("client cert")
    } else {
        builder.with_no_client_auth()
    };
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let server = ServerName::try_from("localhost").expect("name");
    let exchange = async {
        let mut tls = connector.connect(server, tcp).await.ok()?;
        api_versions_on(&mut tls).await.then_some(tls)
    };
    tokio::time::timeout(DEADLINE, exchange)
        .await
        .expect("in time")
}

/// ApiVersions v0 by hand on an open stream: whether a well-formed answer came back.
async fn api_versions_on(tls: &mut tokio_rustls::client::TlsStream<tokio::net::TcpStream>) -> bool {
    let exchange = async {
        // Header: key 18, version 0, correlation 7, null client id.
        let request = [0u8, 0, 0, 10, 0, 18, 0, 0, 0, 0, 0, 7, 0xff, 0xff];
        tls.write_all(&request).await.ok()?;
        let len = tls.read_i32().await.ok()?;
        let mut body = vec![0; usize::try_from(len).ok()?];
        tls.read_exact(&mut body).await.ok()?;
        Some(body.get(..6)? == [0, 0, 0, 7, 0, 0])
    };
    tokio::time::timeout(DEADLINE, exchange)
        .await
        .expect("in time")
        .unwrap_or(false)
}

#[tokio::test]
async fn changed_certificate_files_load_without_a_restart() {
    let first = tempfile::tempdir().expect("tempdir");
    let second = tempfile::tempdir().expect("tempdir");
    let live = tempfile::tempdir().expect("tempdir");
    certificates(first.path());
    certificates(second.path());
    let (cert, key) = (
        live.path().join("broker.pem"),
        live.path().join("broker.key"),
    );
    // As a certificate manager does: write beside, then rename over (key first).
    let install = |from: &std::path::Path| {
        for name in ["broker.key", "broker.pem"] {
            let staged = live.path().join(format!("{name}.new"));
            std::fs::copy(from.join(name), &staged).expect("copy");
            std::fs::rename(&staged, live.path().join(name)).expect("rename");
        }
    };
    install(first.path());
    let broker = TestBroker::start_with(|c| {
        c.security_protocol = SecurityProtocol::Ssl;
        c.tls_cert_file = Some(cert.clone());
        c.tls_key_file = Some(key);
        c.tls_reload_interval_ms = 50;
    })
    .await;
    let mut kept = tls_connect(broker.addr, first.path(), false)
        .await
        .expect("served with the first certificate");

    install(second.path());
    wait_until("new connections get the second certificate", || async {
        tls_connect(broker.addr, second.path(), false)
            .await
            .is_some()
    })
    .await;
    assert!(
        tls_connect(broker.addr, first.path(), false)
            .await
            .is_none(),
        "the first CA no longer vouches for what new connections see"
    );
    assert!(
        api_versions_on(&mut kept).await,
        "a connection opened before the reload keeps working"
    );

    // A file that does not parse leaves the loaded certificate in place; a good one loads.
    std::fs::write(&cert, "not a certificate").expect("write");
    assert!(
        tls_connect(broker.addr, second.path(), false)
            .await
            .is_some()
    );
    install(first.path());
    wait_until(
        "new connections get the first certificate again",
        || async {
            tls_connect(broker.addr, first.path(), false)
                .await
                .is_some()
        },
    )
    .await;
    broker.stop().await;
}

async fn wait_until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + DEADLINE;
    while !check().await {
        assert!(
            std::time::Instant::now() < deadline,
            "{what}: not within {DEADLINE:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn mutual_tls_serves_only_clients_with_a_certificate_from_the_ca() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (ca, cert, key) = certificates(dir.path());
    let broker = TestBroker::start_with(|c| {
        c.security_protocol = SecurityProtocol::Ssl;
        c.tls_cert_file = Some(cert);
        c.tls_key_file = Some(key);
        c.tls_client_ca_file = Some(ca);
    })
    .await;
    assert!(
        !tls_api_versions(broker.addr, dir.path(), false).await,
        "no client certificate: refused"
    );
    assert!(
        tls_api_versions(broker.addr, dir.path(), true).await,
        "the CA's client is served"
    );
    broker.stop().await;
}
