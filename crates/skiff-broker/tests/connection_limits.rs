//! Every byte a client can make the broker hold is bounded (issue 23, findings 4, 5 and 7):
//! partial requests by `queued_max_request_bytes` and a deadline to finish a frame, unread
//! responses by `queued_max_response_bytes` and a write deadline, connections by per-address
//! and total limits that close extra connections at once. The bounds are checked on the
//! broker's own budget counters, never on timings.

use crate::support;

use std::time::Duration;

use bytes::{BufMut, BytesMut};
use kafka_protocol::messages::{ApiVersionsRequest, FetchRequest};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use uuid::Uuid;

const MIB: usize = 1024 * 1024;

/// Waits (up to DEADLINE) until `condition` holds; polls the broker's counters.
async fn wait_for(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn answers(client: &mut RawClient) -> bool {
    let correlation = client.send(3, &ApiVersionsRequest::default()).await;
    let Some(mut frame) = client.recv_frame().await else {
        return false;
    };
    use bytes::Buf;
    frame.get_i32() == correlation
}

/// Reads until the broker closes the connection; false if it stays open past DEADLINE.
async fn closed_by_broker(stream: &mut TcpStream) -> bool {
    let mut sink = vec![0u8; 1 << 20];
    let read_all = async {
        loop {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(DEADLINE, read_all).await.is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partial_requests_hold_at_most_the_request_budget() {
    let broker = TestBroker::start_with(|c| {
        c.max_request_bytes = 2 * MIB;
        c.queued_max_request_bytes = 4 * MIB;
        c.request_read_timeout_ms = 1_000;
    })
    .await;
    // Five clients each claim a 2 MiB frame and send 1.5 MiB of it: 10 MiB claimed, two
    // frames fit the budget at a time.
    let mut offenders = Vec::new();
    for _ in 0..5 {
        let mut stream = TcpStream::connect(broker.addr).await.unwrap();
        offenders.push(tokio::spawn(async move {
            let mut frame = BytesMut::new();
            frame.put_i32((2 * MIB) as i32);
            frame.extend_from_slice(&vec![0u8; 3 * MIB / 2]);
            // Blocks once the broker stops reading; fails when the broker hangs up.
            let _ = stream.write_all(&frame).await;
            closed_by_broker(&mut stream).await
        }));
    }
    wait_for("the broker to read up to its request budget", || {
        broker.budget_use().request_bytes >= 4 * MIB - 128 * 1024
    })
    .await;
    assert!(
        broker.budget_use().request_bytes <= 4 * MIB,
        "{:?}",
        broker.budget_use()
    );

    // The frames never complete: their deadline closes them and gives the budget back, and a
    // well-behaved client is served.
    // Each waits its turn for budget (waiting does not count against its deadline), then times
    // out in turn.
    for offender in offenders {
        assert!(offender.await.unwrap(), "a stalled partial frame is closed");
    }
    wait_for("the request budget to be given back", || {
        broker.budget_use().request_bytes == 0
    })
    .await;
    let mut honest = broker.client().await;
    assert!(answers(&mut honest).await);
    broker.stop().await;
}

#[tokio::test]
async fn a_started_frame_must_finish_in_time_but_idle_connections_may_wait() {
    let broker = TestBroker::start_with(|c| c.request_read_timeout_ms = 300).await;
    let mut idle = broker.client().await;
    let mut prefix_only = TcpStream::connect(broker.addr).await.unwrap();
    prefix_only.write_all(&[0, 0, 1]).await.unwrap();
    let mut half_body = TcpStream::connect(broker.addr).await.unwrap();
    half_body
        .write_all(&[0, 0, 0, 40, 0, 18, 0, 3])
        .await
        .unwrap();
    assert!(closed_by_broker(&mut prefix_only).await);
    assert!(closed_by_broker(&mut half_body).await);
    assert!(
        answers(&mut idle).await,
        "a connection that never started a frame stays open"
    );
    broker.stop().await;
}

#[tokio::test]
async fn connections_over_a_limit_are_closed_at_once() {
    let broker = TestBroker::start_with(|c| {
        c.max_connections_per_ip = 2;
        c.max_connections = 100;
    })
    .await;
    let mut first = broker.client().await;
    let mut second = broker.client().await;
    let mut third = broker.client().await;
    assert!(answers(&mut first).await);
    assert!(answers(&mut second).await);
    assert!(
        !answers(&mut third).await,
        "a third connection from one address is closed"
    );
    drop(first);
    wait_for_slot(&broker).await;
    broker.stop().await;

    let broker = TestBroker::start_with(|c| {
        c.max_connections_per_ip = 1;
        c.max_connections_per_ip_overrides = [("127.0.0.1".parse().unwrap(), 3)].into();
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut client = broker.client().await;
        assert!(answers(&mut client).await, "the override allows three");
        held.push(client);
    }
    let mut fourth = broker.client().await;
    assert!(!answers(&mut fourth).await);
    broker.stop().await;

    let broker = TestBroker::start_with(|c| c.max_connections = 1).await;
    let mut only = broker.client().await;
    assert!(answers(&mut only).await);
    let mut over = broker.client().await;
    assert!(
        !answers(&mut over).await,
        "over max_connections: closed, not left in the backlog"
    );
    broker.stop().await;
}

/// After a connection closes, its slot comes back: a new one is served.
async fn wait_for_slot(broker: &TestBroker) {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let mut client = broker.client().await;
        if answers(&mut client).await {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the closed connection's slot never came back"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unread_responses_hold_at_most_the_response_budget_until_the_write_deadline() {
    let broker = TestBroker::start_with(|c| {
        c.fetch_max_bytes = 20 * MIB;
        c.max_partition_fetch_bytes = 20 * MIB;
        c.queued_max_response_bytes = 4 * MIB;
        c.response_write_timeout_ms = 1_000;
    })
    .await;
    let mut client = broker.client().await;
    create_topic(&mut client, "big", 1, &[]).await;
    let one = batch(&"v".repeat(1000), 900, 1_000, NO_PRODUCER);
    for _ in 0..28 {
        let response = client
            .call(9, &produce_request(-1, &[("big", 0, one.clone())]))
            .await;
        assert_eq!(produce_results(&response)[0].0, 0);
    }

    // A client asks for 20 MiB three times and reads nothing.
    let mut request = fetch_request("big", Uuid::nil(), 0, 0, 0, 0);
    request.max_bytes = i32::MAX;
    request.topics[0].partitions[0].partition_max_bytes = i32::MAX;
    let mut offender = broker.client().await;
    for _ in 0..3 {
        offender.send::<FetchRequest>(11, &request).await;
    }
    wait_for("a response to take the whole budget", || {
        broker.budget_use().response_bytes == 4 * MIB
    })
    .await;

    // Another client's answer waits for budget (back-pressure), and gets it once the client
    // that reads nothing is cut off by the write deadline.
    let mut reader = broker.client().await;
    let answered = fetched(&reader.call(11, &request).await);
    assert!(!answered.is_empty(), "a client that reads is served");
    assert!(
        closed_by_broker(offender.stream()).await,
        "a client that reads nothing is cut off"
    );
    wait_for("the response budget to be given back", || {
        broker.budget_use().response_bytes == 0
    })
    .await;
    broker.stop().await;
}
