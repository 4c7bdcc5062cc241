//! The bench against a real in-process broker over real sockets: the summaries must add up.
//! No assertion here depends on how fast anything runs.

use crate::support;

use skiff_bench::{BenchError, LatencyPercentiles, Summary};
use support::{TestBroker, measure};

fn assert_ordered(latency: &LatencyPercentiles) {
    assert!(
        latency.p50_ms <= latency.p95_ms
            && latency.p95_ms <= latency.p99_ms
            && latency.p99_ms <= latency.max_ms,
        "percentiles out of order: {latency:?}"
    );
}

fn as_json(summary: &Summary) -> serde_json::Value {
    let mut out = Vec::new();
    summary.print(true, &mut out).expect("summary prints");
    let text = String::from_utf8(out).expect("utf-8");
    assert_eq!(
        text.lines().count(),
        1,
        "one JSON object on one line: {text}"
    );
    serde_json::from_str(&text).expect("the JSON summary parses")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consume_reads_exactly_what_produce_wrote() {
    let broker = TestBroker::start().await;
    let bootstrap = broker.addr.to_string();

    let produced = measure(&[
        "produce",
        "-b",
        &bootstrap,
        "--topic",
        "catch-up",
        "--partitions",
        "3",
        "--record-size",
        "100",
        "--records",
        "600",
        "--linger-ms",
        "1",
    ])
    .await
    .expect("produce runs")
    .summary;
    assert_eq!(produced.mode, "produce");
    assert_eq!(
        produced.partitions, 3,
        "the topic was created with --partitions"
    );
    assert_eq!(produced.sent, Some(600));
    assert_eq!(produced.records, 600, "every record acknowledged");
    assert_eq!(produced.bytes, 600 * 100);
    assert_eq!(
        produced.errors, 0,
        "first error: {:?}",
        produced.first_error
    );
    let latency = produced.latency.expect("send → ack latency measured");
    assert_eq!(latency.samples, 600);
    assert_ordered(&latency);

    let consumed = measure(&["consume", "-b", &bootstrap, "--topic", "catch-up"])
        .await
        .expect("consume runs");
    assert!(
        consumed.idle.is_none(),
        "the catch-up read reached the end offsets"
    );
    let consumed = consumed.summary;
    assert_eq!(consumed.mode, "consume");
    assert_eq!(consumed.partitions, 3);
    assert_eq!(consumed.records, 600, "read exactly what was produced");
    assert_eq!(consumed.bytes, 600 * 100);
    assert_eq!(consumed.errors, 0);
    assert!(
        consumed.latency.is_none(),
        "a catch-up read has no latency to report"
    );

    let json = as_json(&produced);
    for field in [
        "mode",
        "topic",
        "partitions",
        "record_size",
        "acks",
        "compression",
        "sent",
        "records",
        "bytes",
        "elapsed_secs",
        "mb_per_sec",
        "records_per_sec",
        "errors",
        "first_error",
        "latency",
        "latency_measures",
        "produced",
        "object_store",
        "metrics_error",
    ] {
        assert!(
            json.get(field).is_some(),
            "JSON summary lacks {field}: {json}"
        );
    }
    assert_eq!(json["records"], 600);
    assert_eq!(json["bytes"], 60_000);
    assert_eq!(json["acks"], "all");
    assert_eq!(json["latency_measures"], "send_to_ack");
    for percentile in ["samples", "p50_ms", "p95_ms", "p99_ms", "max_ms"] {
        assert!(
            json["latency"][percentile].is_number(),
            "latency.{percentile}: {json}"
        );
    }
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consume_stops_at_the_requested_record_count() {
    let broker = TestBroker::start().await;
    let bootstrap = broker.addr.to_string();
    let produced = measure(&[
        "produce",
        "-b",
        &bootstrap,
        "--topic",
        "limited",
        "--partitions",
        "2",
        "--record-size",
        "10",
        "--records",
        "300",
        "--compression",
        "zstd",
        "--acks",
        "1",
    ])
    .await
    .expect("produce runs")
    .summary;
    assert_eq!(produced.records, 300);
    assert_eq!(produced.compression, Some("zstd"));

    let consumed = measure(&[
        "consume",
        "-b",
        &bootstrap,
        "--topic",
        "limited",
        "--records",
        "120",
    ])
    .await
    .expect("consume runs")
    .summary;
    assert_eq!(consumed.records, 120);
    assert_eq!(consumed.bytes, 120 * 10);
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_consumes_every_produced_record_with_its_latency() {
    let broker = TestBroker::start().await;
    let bootstrap = broker.addr.to_string();
    // Records already in the topic must not count: e2e reads from the end at its start.
    measure(&[
        "produce",
        "-b",
        &bootstrap,
        "--topic",
        "round-trip",
        "--partitions",
        "4",
        "--record-size",
        "64",
        "--records",
        "50",
    ])
    .await
    .expect("seed produce runs");

    let measured = measure(&[
        "e2e",
        "-b",
        &bootstrap,
        "--topic",
        "round-trip",
        "--record-size",
        "64",
        "--records",
        "400",
        "--linger-ms",
        "0",
        "--compression",
        "lz4",
    ])
    .await
    .expect("e2e runs");
    assert!(measured.idle.is_none());
    let summary = measured.summary;
    assert_eq!(summary.mode, "e2e");
    assert_eq!(summary.records, 400, "consumed exactly this run's records");
    assert_eq!(summary.bytes, 400 * 64);
    assert_eq!(summary.errors, 0, "first error: {:?}", summary.first_error);
    let produced = summary
        .produced
        .as_ref()
        .expect("the producer side is reported");
    assert_eq!((produced.sent, produced.acked), (400, 400));
    assert_eq!(produced.bytes, 400 * 64);
    let latency = summary.latency.expect("send → consumed latency measured");
    assert_eq!(latency.samples, 400);
    assert_ordered(&latency);
    assert_ordered(&produced.ack_latency.expect("ack latency measured"));

    let json = as_json(&summary);
    assert_eq!(json["latency_measures"], "send_to_consume");
    assert_eq!(json["produced"]["acked"], 400);
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throughput_cap_spreads_records_over_time() {
    let broker = TestBroker::start().await;
    let bootstrap = broker.addr.to_string();
    let summary = measure(&[
        "produce",
        "-b",
        &bootstrap,
        "--topic",
        "capped",
        "--partitions",
        "1",
        "--record-size",
        "100",
        "--records",
        "200",
        "--throughput",
        "2000",
    ])
    .await
    .expect("produce runs")
    .summary;
    assert_eq!(summary.records, 200);
    // Record 199 may not leave before 199/2000 s: a bound the cap guarantees, not a speed.
    assert!(
        summary.elapsed_secs >= 199.0 / 2000.0,
        "200 records at 2000/s finished in {} s",
        summary.elapsed_secs
    );
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duration_run_stops_by_itself() {
    let broker = TestBroker::start().await;
    let bootstrap = broker.addr.to_string();
    let summary = measure(&[
        "produce",
        "-b",
        &bootstrap,
        "--topic",
        "timed",
        "--partitions",
        "2",
        "--record-size",
        "50",
        "--duration",
        "300ms",
        "--throughput",
        "50KB/s",
    ])
    .await
    .expect("produce runs")
    .summary;
    assert!(summary.records > 0, "something was produced");
    assert_eq!(summary.sent, Some(summary.records + summary.errors));
    assert_eq!(summary.bytes, summary.records * 50);
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consuming_a_missing_topic_says_so() {
    let broker = TestBroker::start().await;
    let bootstrap = broker.addr.to_string();
    let error = measure(&["consume", "-b", &bootstrap, "--topic", "nowhere"])
        .await
        .expect_err("there is nothing to consume");
    assert!(
        matches!(error, BenchError::TopicMissing { .. }),
        "{error:?}"
    );
    assert!(
        error.to_string().contains("\"nowhere\" does not exist"),
        "{error}"
    );
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_bootstrap_is_a_readable_error() {
    // A port that was free a moment ago: connections are refused.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    drop(listener);
    let error = measure(&[
        "produce",
        "-b",
        &addr,
        "--records",
        "10",
        "--connect-timeout",
        "2s",
    ])
    .await
    .expect_err("nothing listens there");
    assert!(matches!(error, BenchError::Unreachable { .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.contains(&addr), "{message}");
    assert!(message.contains("no Kafka broker answered"), "{message}");
    assert!(
        !message.contains("Unreachable {"),
        "not a Debug dump: {message}"
    );
}
