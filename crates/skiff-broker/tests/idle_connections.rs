//! `connections_max_idle_ms`: a connection with nothing in progress is closed once it has been
//! quiet that long, while a long-poll in progress keeps its connection however long it waits.

use crate::support;

use std::time::{Duration, Instant};

use kafka_protocol::messages::FetchRequest;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::{ApiVersionsRequest, FetchResponse};
use support::*;

const IDLE_MS: u64 = 300;

#[tokio::test]
async fn a_quiet_connection_is_closed_and_others_carry_on() {
    let broker = TestBroker::start_with(|c| c.connections_max_idle_ms = IDLE_MS).await;
    let mut quiet = broker.client().await;
    // Taken before the request: the broker's idle clock restarts after its reply is written,
    // which is after this instant, so the close can never come sooner than IDLE_MS from here.
    let started = Instant::now();
    let response = quiet.call(3, &ApiVersionsRequest::default()).await;
    assert_eq!(response.error_code, 0);
    assert!(
        quiet.recv_frame().await.is_none(),
        "an idle connection must be closed by the broker"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(IDLE_MS),
        "closed {:?} after the request, before the idle limit",
        started.elapsed()
    );

    let mut fresh = broker.client().await;
    let response = fresh.call(3, &ApiVersionsRequest::default()).await;
    assert_eq!(response.error_code, 0, "new connections are served");
    broker.stop().await;
}

#[tokio::test]
async fn a_long_poll_longer_than_the_idle_limit_is_answered() {
    let broker = TestBroker::start_with(|c| c.connections_max_idle_ms = IDLE_MS).await;
    let mut client = broker.client().await;
    let created = create_topic(&mut client, "quiet", 1, &[]).await;
    assert_eq!(created.topics[0].error_code, 0);

    // Nothing will arrive: the fetch waits its whole max_wait, several idle limits long.
    let wait_ms = 4 * IDLE_MS as i32;
    let mut partition = FetchPartition::default();
    partition.partition = 0;
    partition.fetch_offset = 0;
    partition.partition_max_bytes = 1 << 20;
    let mut topic = FetchTopic::default();
    topic.topic = topic_name("quiet");
    topic.partitions = vec![partition];
    let mut fetch = FetchRequest::default();
    fetch.max_wait_ms = wait_ms;
    fetch.min_bytes = 1;
    fetch.max_bytes = 1 << 20;
    fetch.topics = vec![topic];

    let started = Instant::now();
    let response: FetchResponse = client.call(11, &fetch).await;
    assert!(
        started.elapsed() >= Duration::from_millis(wait_ms as u64),
        "the fetch returned after {:?}, before its max wait",
        started.elapsed()
    );
    let partition = &response.responses[0].partitions[0];
    assert_eq!(partition.error_code, 0);
    assert_eq!(partition.high_watermark, 0);

    // Had the wait counted as idle, the broker would have stopped reading and closed the
    // connection right after the answer. The limit counts from the answer instead.
    let response = client.call(3, &ApiVersionsRequest::default()).await;
    assert_eq!(
        response.error_code, 0,
        "the connection outlived the long-poll"
    );
    assert!(client.recv_frame().await.is_none(), "then it idles out");
    broker.stop().await;
}

#[tokio::test]
async fn zero_keeps_idle_connections_open() {
    let broker = TestBroker::start_with(|c| c.connections_max_idle_ms = 0).await;
    let mut client = broker.client().await;
    tokio::time::sleep(Duration::from_millis(3 * IDLE_MS)).await;
    let response = client.call(3, &ApiVersionsRequest::default()).await;
    assert_eq!(response.error_code, 0, "still open after a quiet spell");
    broker.stop().await;
}
