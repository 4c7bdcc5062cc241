//! The broker's metrics, read back from a `DebuggingRecorder` installed as the global recorder
//! (this test binary holds one test, so nothing else reports into it): a produce and a fetch
//! move the produce, fetch, flush, object-store and request series by exactly what was sent,
//! and a produce to an unknown topic counts as a Produce error.
#![allow(clippy::unwrap_used)]

use crate::support;

use std::collections::HashMap;

use kafka_protocol::messages::FetchRequest;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use skiff_broker::metrics as names;
use support::*;

/// What moved since the previous snapshot (the recorder resets counters and histograms on
/// each snapshot), keyed by name and the value of its one label ("" for none).
struct Moved(HashMap<(String, String), DebugValue>);

impl Moved {
    fn take(snapshotter: &Snapshotter) -> Moved {
        Moved(
            snapshotter
                .snapshot()
                .into_vec()
                .into_iter()
                .map(|(key, _, _, value)| {
                    let key = key.key();
                    let label = key
                        .labels()
                        .map(|l| l.value().to_string())
                        .collect::<Vec<_>>()
                        .join(",");
                    ((key.name().to_string(), label), value)
                })
                .collect(),
        )
    }

    fn counter(&self, name: &str, label: &str) -> u64 {
        match self.0.get(&(name.to_string(), label.to_string())) {
            Some(DebugValue::Counter(n)) => *n,
            None => 0,
            Some(other) => panic!("{name}{{{label}}} is not a counter: {other:?}"),
        }
    }

    fn samples(&self, name: &str) -> Vec<f64> {
        match self.0.get(&(name.to_string(), String::new())) {
            Some(DebugValue::Histogram(values)) => values.iter().map(|v| v.0).collect(),
            None => Vec::new(),
            Some(other) => panic!("{name} is not a histogram: {other:?}"),
        }
    }

    fn labelled_samples(&self, name: &str, label: &str) -> usize {
        match self.0.get(&(name.to_string(), label.to_string())) {
            Some(DebugValue::Histogram(values)) => values.len(),
            _ => 0,
        }
    }

    fn gauge(&self, name: &str) -> Option<f64> {
        match self.0.get(&(name.to_string(), String::new())) {
            Some(DebugValue::Gauge(v)) => Some(v.0),
            _ => None,
        }
    }
}

fn fetch_from_start(topic: &str) -> FetchRequest {
    let mut partition = FetchPartition::default();
    partition.partition = 0;
    partition.fetch_offset = 0;
    partition.partition_max_bytes = 1 << 20;
    let mut t = FetchTopic::default();
    t.topic = topic_name(topic);
    t.partitions = vec![partition];
    let mut request = FetchRequest::default();
    request.max_wait_ms = 0;
    request.min_bytes = 1;
    request.max_bytes = 50 << 20;
    request.topics = vec![t];
    request
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn produce_fetch_and_errors_move_their_counters() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::set_global_recorder(recorder).unwrap();

    let broker = TestBroker::start().await;
    let mut client = broker.client().await;
    let created = create_topic(&mut client, "metered", 1, &[]).await;
    assert_eq!(created.topics[0].error_code, 0);

    let before = Moved::take(&snapshotter);
    assert_eq!(before.counter(names::CONNECTIONS_ACCEPTED_TOTAL, ""), 1);
    assert_eq!(before.gauge(names::CONNECTIONS), Some(1.0));
    assert_eq!(
        before.counter(names::KAFKA_REQUESTS_TOTAL, "CreateTopics"),
        1
    );
    assert_eq!(
        before.counter(names::KAFKA_REQUEST_ERRORS_TOTAL, "CreateTopics"),
        0
    );

    // Produce: two batches of 3 and 4 records in one request, acknowledged after the flush.
    let first = batch("a", 3, 1_000, NO_PRODUCER);
    let second = batch("b", 4, 2_000, NO_PRODUCER);
    let mut records = first.to_vec();
    records.extend_from_slice(&second);
    let records = bytes::Bytes::from(records);
    let response = client
        .call(9, &produce_request(-1, &[("metered", 0, records.clone())]))
        .await;
    assert_eq!(produce_results(&response), vec![(0, 0)]);

    let produced = Moved::take(&snapshotter);
    assert_eq!(produced.counter(names::PRODUCE_BATCHES_TOTAL, ""), 2);
    assert_eq!(produced.counter(names::PRODUCE_RECORDS_TOTAL, ""), 7);
    assert_eq!(
        produced.counter(names::PRODUCE_BYTES_TOTAL, ""),
        records.len() as u64
    );
    assert_eq!(produced.counter(names::KAFKA_REQUESTS_TOTAL, "Produce"), 1);
    assert_eq!(
        produced.counter(names::KAFKA_REQUEST_ERRORS_TOTAL, "Produce"),
        0
    );
    assert_eq!(
        produced.labelled_samples(names::KAFKA_REQUEST_SECONDS, "Produce"),
        1
    );
    assert_eq!(produced.counter(names::FLUSHES_TOTAL, ""), 1);
    assert_eq!(produced.counter(names::FLUSH_ERRORS_TOTAL, ""), 0);
    let flush_sizes = produced.samples(names::FLUSH_BYTES);
    assert_eq!(flush_sizes.len(), 1);
    assert!(
        flush_sizes[0] > records.len() as f64,
        "a segment holds the batches plus header and footer: {flush_sizes:?}"
    );
    assert_eq!(produced.samples(names::FLUSH_SECONDS).len(), 1);
    assert_eq!(produced.samples(names::FLUSH_UPLOAD_SECONDS).len(), 1);
    assert_eq!(
        produced.counter(
            skiff_storage::metric_names::OBJECT_STORE_REQUESTS_TOTAL,
            "put"
        ),
        1
    );
    let commits = produced.samples(skiff_controller::metrics::CONTROLLER_COMMIT_SECONDS);
    assert_eq!(commits.len(), 1, "one commit per flushed segment");
    assert_eq!(
        produced.counter(skiff_controller::metrics::CONTROLLER_PROPOSALS_TOTAL, "ok"),
        1
    );

    // Fetch everything back: the same bytes and records, counted from batch headers.
    let fetched = client.call(12, &fetch_from_start("metered")).await;
    let partition = &fetched.responses[0].partitions[0];
    assert_eq!(partition.error_code, 0);
    assert_eq!(
        partition.records.as_ref().map(|r| r.len()),
        Some(records.len())
    );
    let read = Moved::take(&snapshotter);
    assert_eq!(read.counter(names::FETCH_RECORDS_TOTAL, ""), 7);
    assert_eq!(
        read.counter(names::FETCH_BYTES_TOTAL, ""),
        records.len() as u64
    );
    assert_eq!(read.counter(names::KAFKA_REQUESTS_TOTAL, "Fetch"), 1);
    assert_eq!(read.counter(names::KAFKA_REQUEST_ERRORS_TOTAL, "Fetch"), 0);
    assert_eq!(read.counter(names::PRODUCE_RECORDS_TOTAL, ""), 0);

    // An unknown topic: answered with an error code, counted once as a Produce error, and
    // nothing is appended or flushed.
    let response = client
        .call(
            9,
            &produce_request(-1, &[("no-such-topic", 0, first.clone())]),
        )
        .await;
    assert_ne!(produce_results(&response)[0].0, 0);
    let failed = Moved::take(&snapshotter);
    assert_eq!(failed.counter(names::KAFKA_REQUESTS_TOTAL, "Produce"), 1);
    assert_eq!(
        failed.counter(names::KAFKA_REQUEST_ERRORS_TOTAL, "Produce"),
        1
    );
    assert_eq!(failed.counter(names::PRODUCE_RECORDS_TOTAL, ""), 0);
    assert_eq!(failed.counter(names::FLUSHES_TOTAL, ""), 0);

    // An API the broker does not serve (key 10000 is unknown) counts under "Unsupported".
    let mut frame = Vec::new();
    frame.extend_from_slice(&10_000i16.to_be_bytes());
    frame.extend_from_slice(&0i16.to_be_bytes());
    frame.extend_from_slice(&77i32.to_be_bytes());
    frame.extend_from_slice(&(-1i16).to_be_bytes());
    client.send_frame(&frame).await;
    let reply = client.recv_frame().await.expect("the broker answers");
    assert_eq!(&reply[..4], &77i32.to_be_bytes());
    let unsupported = Moved::take(&snapshotter);
    assert_eq!(
        unsupported.counter(names::KAFKA_REQUESTS_TOTAL, names::UNSUPPORTED_API),
        1
    );
    assert_eq!(
        unsupported.counter(names::KAFKA_REQUEST_ERRORS_TOTAL, names::UNSUPPORTED_API),
        1
    );

    drop(client);
    broker.stop().await;
}
