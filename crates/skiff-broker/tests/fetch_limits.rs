//! Fetch responses are bounded by the broker, whatever the client asks (issue 23, finding 4).

use crate::support;

use kafka_protocol::messages::FetchResponse;
use support::*;
use uuid::Uuid;

fn record_bytes(response: &FetchResponse) -> Vec<usize> {
    response.responses[0]
        .partitions
        .iter()
        .map(|p| p.records.as_ref().map_or(0, |r| r.len()))
        .collect()
}

/// Writes `batches` batches of 10 records of ~1 KiB to each of `partitions` partitions.
async fn fill(client: &mut RawClient, topic: &str, partitions: i32, batches: usize) -> usize {
    create_topic(client, topic, partitions, &[]).await;
    let value = "v".repeat(1000);
    let one = batch(&value, 10, 1_000, NO_PRODUCER);
    for _ in 0..batches {
        let parts: Vec<(&str, i32, bytes::Bytes)> =
            (0..partitions).map(|p| (topic, p, one.clone())).collect();
        let response = client.call(9, &produce_request(-1, &parts)).await;
        assert!(
            produce_results(&response)
                .iter()
                .all(|(code, _)| *code == 0)
        );
    }
    one.len()
}

#[tokio::test]
async fn the_broker_caps_what_a_fetch_may_ask_for() {
    let broker = TestBroker::start_with(|c| {
        c.fetch_max_bytes = 64 * 1024;
        c.max_partition_fetch_bytes = 32 * 1024;
    })
    .await;
    let mut client = broker.client().await;
    let batch_len = fill(&mut client, "capped", 4, 20).await;

    let mut request = fetch_request("capped", Uuid::nil(), 0, 0, 0, 0);
    request.max_bytes = i32::MAX;
    for p in 1..4 {
        let mut partition = request.topics[0].partitions[0].clone();
        partition.partition = p;
        partition.partition_max_bytes = i32::MAX;
        request.topics[0].partitions.push(partition);
    }
    request.topics[0].partitions[0].partition_max_bytes = i32::MAX;
    let response = client.call(11, &request).await;
    let sizes = record_bytes(&response);
    assert!(
        sizes.iter().all(|&s| s <= 32 * 1024),
        "per-partition cap: {sizes:?}"
    );
    assert!(sizes[0] > 0, "{sizes:?}");
    let total: usize = sizes.iter().sum();
    assert!(
        total <= 64 * 1024,
        "response cap: {total} ({sizes:?}, batches of {batch_len})"
    );
    assert!(
        total >= 64 * 1024 - 2 * batch_len,
        "the cap is used, not undershot: {total}"
    );
    broker.stop().await;
}

#[tokio::test]
async fn a_batch_larger_than_the_caps_still_goes_out_alone() {
    let broker = TestBroker::start_with(|c| {
        c.fetch_max_bytes = 4 * 1024;
        c.max_partition_fetch_bytes = 2 * 1024;
    })
    .await;
    let mut client = broker.client().await;
    let batch_len = fill(&mut client, "big", 1, 2).await;
    assert!(batch_len > 4 * 1024);
    let response = client
        .call(11, &fetch_request("big", Uuid::nil(), 0, 0, 0, 0))
        .await;
    assert_eq!(
        record_bytes(&response),
        vec![batch_len],
        "KIP-74: one whole batch"
    );
    broker.stop().await;
}
