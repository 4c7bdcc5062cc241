//! Produce, SIGKILL, restart, consume: `skiff dev` on real S3-compatible servers.
//!
//! - `host_localstack`: the LocalStack tests/run starts in host mode (SKIFF_TEST_S3_ENDPOINT);
//!   runs on every tests/run, here and in CI.
//! - `minio_container` and `localstack_container`: the same scenario against MinIO and
//!   LocalStack containers started with testcontainers. They need a Docker daemon; where none
//!   answers (these machines, CI) they say so and pass without running.
//!
//! The stock-client version of this scenario (confluent-kafka and kafka-python, acks=all,
//! SIGKILL mid-stream) is tests/e2e/test_crash_recovery.py on the same host LocalStack.
#![allow(clippy::unwrap_used)]

use crate::support;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use support::processes::Process;
use support::{free_port, run_with};
use testcontainers_modules::localstack::LocalStack;
use testcontainers_modules::minio::MinIO;
use testcontainers_modules::testcontainers::ImageExt;
use testcontainers_modules::testcontainers::runners::AsyncRunner;

const READY: &str = "skiff dev ready: Kafka on ";
const BEFORE_KILL: usize = 300;
const AFTER_RESTART: usize = 100;

/// Where the scenario's objects go.
struct S3Server {
    endpoint: String,
    bucket: String,
    access_key: String,
    secret_key: String,
}

impl S3Server {
    fn store_args(&self, prefix: &str) -> Vec<String> {
        [
            "--object-store",
            &format!("s3://{}/{prefix}", self.bucket),
            "--s3-endpoint",
            &self.endpoint,
            "--s3-region",
            "us-east-1",
            "--s3-access-key-id",
            &self.access_key,
            "--s3-secret-access-key",
            &self.secret_key,
        ]
        .map(String::from)
        .to_vec()
    }

    async fn create_bucket(&self) {
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .endpoint_url(&self.endpoint)
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new(
                &self.access_key,
                &self.secret_key,
                None,
                None,
                "test",
            ))
            .force_path_style(true)
            .build();
        aws_sdk_s3::Client::from_conf(config)
            .create_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .expect("create the bucket");
    }

    /// How many objects Skiff wrote under `prefix` (its segments), straight from the server.
    async fn objects_under(&self, prefix: &str) -> usize {
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .endpoint_url(&self.endpoint)
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new(
                &self.access_key,
                &self.secret_key,
                None,
                None,
                "test",
            ))
            .force_path_style(true)
            .build();
        let listed = aws_sdk_s3::Client::from_conf(config)
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(format!("{prefix}/segments/"))
            .send()
            .await
            .expect("list segments");
        listed.contents().len()
    }
}

fn dev_args(data_dir: &Path, bootstrap: &str, server: &S3Server, prefix: &str) -> Vec<String> {
    let mut args: Vec<String> = ["dev", "--data-dir"].map(String::from).to_vec();
    args.push(data_dir.display().to_string());
    args.extend(["--kafka-addr".to_string(), bootstrap.to_string()]);
    args.extend(["--flush-interval-ms".to_string(), "20".to_string()]);
    args.extend(server.store_args(prefix));
    args
}

fn lines(range: std::ops::Range<usize>) -> String {
    range
        .map(|i| format!("key-{}:value-{i}\n", i % 7))
        .collect()
}

fn consumed(bootstrap: &str, topic: &str, count: usize) -> BTreeSet<String> {
    let out = run_with(
        &[
            "consume",
            topic,
            "--print-keys",
            "--max-records",
            &count.to_string(),
        ],
        None,
        Some(bootstrap),
    )
    .ok();
    out.lines().map(|l| l.replace('\t', ":")).collect()
}

/// The scenario: records acknowledged with acks=all survive a SIGKILL of the only process,
/// are read back from the object store after the restart, and writing carries on.
async fn produce_kill_consume(server: &S3Server) {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let prefix = format!("servers-test-{}", free_port());
    let bootstrap = format!("127.0.0.1:{}", free_port());
    let args = dev_args(&data_dir, &bootstrap, server, &prefix);

    let mut skiff = Process::spawn(&args, &dir.path().join("skiff-1.log"));
    skiff.wait_for_log(&format!("{READY}{bootstrap}"));
    run_with(
        &["topic", "create", "orders", "--partitions", "3"],
        None,
        Some(&bootstrap),
    )
    .ok();
    let produced = support::run_with_input_at(
        &["produce", "orders", "--key-separator", ":", "--acks", "all"],
        lines(0..BEFORE_KILL).as_bytes(),
        &bootstrap,
    );
    assert!(
        produced.contains(&format!("produced {BEFORE_KILL} records")),
        "{produced}"
    );
    let segments = server.objects_under(&prefix).await;
    assert!(
        segments > 0,
        "nothing was written to s3://{}/{prefix}/segments/",
        server.bucket
    );

    skiff.kill();
    let mut skiff = Process::spawn(&args, &dir.path().join("skiff-2.log"));
    skiff.wait_for_log(&format!("{READY}{bootstrap}"));

    let expected: BTreeSet<String> = lines(0..BEFORE_KILL).lines().map(String::from).collect();
    assert_eq!(
        consumed(&bootstrap, "orders", BEFORE_KILL),
        expected,
        "after the restart"
    );

    support::run_with_input_at(
        &["produce", "orders", "--key-separator", ":", "--acks", "all"],
        lines(BEFORE_KILL..BEFORE_KILL + AFTER_RESTART).as_bytes(),
        &bootstrap,
    );
    let all = BEFORE_KILL + AFTER_RESTART;
    let expected: BTreeSet<String> = lines(0..all).lines().map(String::from).collect();
    assert_eq!(
        consumed(&bootstrap, "orders", all),
        expected,
        "after writing on"
    );
    assert!(server.objects_under(&prefix).await > segments);
    skiff.terminate();
}

/// Whether a Docker daemon answers `GET /_ping` at DOCKER_HOST or the default socket.
fn docker_daemon() -> Result<(), String> {
    let host =
        std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".into());
    let request = b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n";
    let mut answer = String::new();
    let result = if let Some(path) = host.strip_prefix("unix://") {
        std::os::unix::net::UnixStream::connect(path).and_then(|mut stream| {
            stream.set_read_timeout(Some(Duration::from_secs(5)))?;
            stream.write_all(request)?;
            stream.read_to_string(&mut answer)
        })
    } else if let Some(address) = host.strip_prefix("tcp://") {
        std::net::TcpStream::connect(address).and_then(|mut stream| {
            stream.set_read_timeout(Some(Duration::from_secs(5)))?;
            stream.write_all(request)?;
            stream.read_to_string(&mut answer)
        })
    } else {
        return Err(format!("DOCKER_HOST={host} is neither unix:// nor tcp://"));
    };
    match result {
        Ok(_) if answer.ends_with("OK") => Ok(()),
        Ok(_) => Err(format!(
            "{host} answered {:?} to /_ping",
            answer.lines().next().unwrap_or("")
        )),
        Err(e) => Err(format!("no Docker daemon answers at {host} ({e})")),
    }
}

fn skip_without_docker(test: &str) -> bool {
    match docker_daemon() {
        Ok(()) => false,
        Err(why) => {
            eprintln!(
                "skipped {test}: {why}; the same produce/kill/consume scenario runs against host-mode \
                 LocalStack in host_localstack"
            );
            true
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn host_localstack() {
    let Ok(endpoint) = std::env::var("SKIFF_TEST_S3_ENDPOINT") else {
        assert!(
            std::env::var_os("SKIFF_REQUIRE_S3").is_none(),
            "SKIFF_REQUIRE_S3 is set but SKIFF_TEST_S3_ENDPOINT is not"
        );
        eprintln!(
            "skipped: set SKIFF_TEST_S3_ENDPOINT (tests/run does) to run against a real S3 server"
        );
        return;
    };
    let server = S3Server {
        endpoint,
        bucket: std::env::var("SKIFF_TEST_S3_BUCKET").unwrap_or_else(|_| "skiff-test".into()),
        access_key: std::env::var("AWS_ACCESS_KEY_ID").unwrap_or_else(|_| "test".into()),
        secret_key: std::env::var("AWS_SECRET_ACCESS_KEY").unwrap_or_else(|_| "test".into()),
    };
    produce_kill_consume(&server).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn minio_container() {
    if skip_without_docker("minio_container") {
        return;
    }
    let container = MinIO::default().start().await.expect("start MinIO");
    let port = container
        .get_host_port_ipv4(9000)
        .await
        .expect("MinIO port");
    let server = S3Server {
        endpoint: format!("http://127.0.0.1:{port}"),
        bucket: "skiff-test".into(),
        access_key: "minioadmin".into(),
        secret_key: "minioadmin".into(),
    };
    server.create_bucket().await;
    produce_kill_consume(&server).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn localstack_container() {
    if skip_without_docker("localstack_container") {
        return;
    }
    let container = LocalStack::default()
        .with_env_var("SERVICES", "s3")
        .start()
        .await
        .expect("start LocalStack");
    let port = container
        .get_host_port_ipv4(4566)
        .await
        .expect("LocalStack port");
    let server = S3Server {
        endpoint: format!("http://127.0.0.1:{port}"),
        bucket: "skiff-test".into(),
        access_key: "test".into(),
        secret_key: "test".into(),
    };
    server.create_bucket().await;
    produce_kill_consume(&server).await;
}
