//! `--metrics-addr` on the real binary: `skiff dev` serves Prometheus text that moves with
//! a produce (Kafka requests, object store PUTs, flush histograms with buckets), and
//! `skiff controller` / `skiff broker` accept the flag and serve their own series.
#![allow(clippy::unwrap_used)]

use crate::support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use support::processes::{Process, start_controllers};
use support::{free_port, run_with};

/// The line every server logs once its metrics listener is bound.
const METRICS_LOG: &str = "metrics on http://";

/// The metrics address a process logged (it was started with port 0).
fn logged_metrics_addr(process: &mut Process) -> String {
    process.wait_for_log(METRICS_LOG);
    let log = process.log_text();
    let rest = &log[log.find(METRICS_LOG).unwrap() + METRICS_LOG.len()..];
    rest[..rest.find("/metrics").unwrap()].to_string()
}

/// `GET /metrics` over a plain socket: (status line, content type, body).
fn scrape(addr: &str) -> (String, String, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(
        stream,
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    let status = head.lines().next().unwrap_or_default().to_string();
    let content_type = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-type:")
                .map(|v| v.trim().to_string())
        })
        .unwrap_or_default();
    (status, content_type, body.to_string())
}

/// The value of the sample whose line starts with `series` (name plus labels, exactly).
fn sample(body: &str, series: &str) -> Option<f64> {
    body.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
        l.strip_prefix(series)?
            .strip_prefix(' ')?
            .trim()
            .parse()
            .ok()
    })
}

#[test]
fn skiff_dev_serves_metrics_that_move_with_a_produce() {
    let dir = tempfile::tempdir().unwrap();
    let kafka = format!("127.0.0.1:{}", free_port());
    let args: Vec<String> = [
        "dev",
        "--data-dir",
        dir.path().join("data").to_str().unwrap(),
        "--kafka-addr",
        &kafka,
        "--flush-interval-ms",
        "5",
        "--metrics-addr",
        "127.0.0.1:0",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut dev = Process::spawn(&args, &dir.path().join("dev.log"));
    let metrics = logged_metrics_addr(&mut dev);
    dev.wait_for_log(&format!("skiff dev ready: Kafka on {kafka}"));

    run_with(
        &["topic", "create", "m", "--partitions", "2"],
        None,
        Some(&kafka),
    )
    .ok();
    run_with(&["produce", "m"], Some(b"one\ntwo\nthree\n"), Some(&kafka)).ok();

    let (status, content_type, body) = scrape(&metrics);
    assert!(status.contains("200"), "{status}");
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let produce = sample(&body, r#"skiff_kafka_requests_total{api="Produce"}"#).unwrap_or(0.0);
    assert!(produce >= 1.0, "no Produce requests counted:\n{body}");
    let puts = sample(&body, r#"skiff_object_store_requests_total{kind="put"}"#).unwrap_or(0.0);
    assert!(puts >= 1.0, "no PUTs counted:\n{body}");
    assert!(
        sample(&body, "skiff_produce_records_total").unwrap_or(0.0) >= 3.0,
        "{body}"
    );
    // Histograms, not summaries: bucket lines with an upper bound, and a +Inf bucket.
    for histogram in [
        "skiff_flush_seconds",
        "skiff_flush_bytes",
        "skiff_flush_upload_seconds",
        "skiff_controller_commit_seconds",
    ] {
        assert!(
            body.contains(&format!("{histogram}_bucket{{le=\"+Inf\"}}")),
            "{histogram} has no buckets:\n{body}"
        );
    }
    let flushes = sample(&body, r#"skiff_flush_seconds_bucket{le="+Inf"}"#).unwrap_or(0.0);
    assert!(flushes >= 1.0, "{body}");
    assert!(
        body.contains("# HELP skiff_object_store_requests_total"),
        "{body}"
    );
    assert_eq!(
        sample(&body, "skiff_controller_is_leader"),
        Some(1.0),
        "{body}"
    );

    let stopped = dev.terminate();
    assert!(stopped.success(), "{stopped:?}\n{}", dev.log_text());
}

#[test]
fn skiff_controller_and_broker_accept_metrics_addr() {
    let dir = tempfile::tempdir().unwrap();
    let (mut controllers, addrs) = start_controllers(dir.path());

    let objects = dir.path().join("objects");
    std::fs::create_dir_all(&objects).unwrap();
    let kafka = format!("127.0.0.1:{}", free_port());
    let args: Vec<String> = [
        "broker",
        "--broker-id",
        "1",
        "--controllers",
        &addrs.join(","),
        "--object-store",
        &format!("file://{}", objects.display()),
        "--kafka-addr",
        &kafka,
        "--data-dir",
        dir.path().join("b1").to_str().unwrap(),
        "--flush-interval-ms",
        "5",
        "--cache-disk-bytes",
        "0",
        "--metrics-addr",
        "127.0.0.1:0",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut broker = Process::spawn(&args, &dir.path().join("b1.log"));
    let broker_metrics = logged_metrics_addr(&mut broker);
    broker.wait_for_log(&format!("skiff broker ready: broker 1, Kafka on {kafka}"));
    run_with(&["topic", "create", "m"], None, Some(&kafka)).ok();
    run_with(&["produce", "m"], Some(b"x\n"), Some(&kafka)).ok();
    let (_, _, body) = scrape(&broker_metrics);
    assert!(
        sample(&body, r#"skiff_kafka_requests_total{api="Produce"}"#).unwrap_or(0.0) >= 1.0,
        "{body}"
    );
    assert!(
        sample(&body, r#"skiff_controller_proposals_total{outcome="ok"}"#).unwrap_or(0.0) >= 1.0,
        "a broker counts its own proposals:\n{body}"
    );

    // A fourth controller node with the flag: it never joins, but it starts and serves.
    let peer = format!("127.0.0.1:{}", free_port());
    let args: Vec<String> = [
        "controller",
        "--node-id",
        "4",
        "--listen",
        &peer,
        "--peers",
        &format!("4={peer}"),
        "--data-dir",
        dir.path().join("c4").to_str().unwrap(),
        "--metrics-addr",
        "127.0.0.1:0",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut single = Process::spawn(&args, &dir.path().join("c4.log"));
    let controller_metrics = logged_metrics_addr(&mut single);
    single.wait_for_log("skiff controller ready: node 4");
    let (status, _, body) = scrape(&controller_metrics);
    assert!(status.contains("200"), "{status}");
    assert_eq!(
        sample(&body, "skiff_controller_is_leader"),
        Some(1.0),
        "{body}"
    );
    assert!(
        sample(&body, "skiff_controller_term").unwrap_or(0.0) >= 1.0,
        "{body}"
    );

    for process in [&mut single, &mut broker] {
        let status = process.terminate();
        assert!(status.success(), "{status:?}\n{}", process.log_text());
    }
    for node in &mut controllers {
        assert!(node.terminate().success());
    }
}
