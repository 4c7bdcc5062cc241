//! Two brokers with remote controllers write the same partition at the same time: the
//! controller assigns offsets, so they stay unique and gap-free, and what one broker
//! accepted the other serves.

use crate::cluster_support;
use crate::support;

use std::collections::BTreeMap;

use bytes::Bytes;
use cluster_support::{ClusterBroker, Controllers, memory_store};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::{FetchRequest, MetadataRequest};
use kafka_protocol::records::RecordBatchDecoder;
use support::*;

const BATCHES_PER_PRODUCER: usize = 25;
const RECORDS_PER_BATCH: usize = 4;

/// Produces `BATCHES_PER_PRODUCER` batches one by one; returns (base offset, prefix) of each.
async fn produce_all(addr: std::net::SocketAddr, who: &'static str) -> Vec<(i64, String)> {
    let mut client = RawClient::connect(addr).await;
    let mut acked = Vec::new();
    for n in 0..BATCHES_PER_PRODUCER {
        let prefix = format!("{who}-{n}");
        let records = batch(&prefix, RECORDS_PER_BATCH, 1_700_000_000_000, NO_PRODUCER);
        let response = client
            .call(9, &produce_request(1, &[("shared", 0, records)]))
            .await;
        let results = produce_results(&response);
        assert_eq!(results.len(), 1);
        assert_eq!(results[0].0, 0, "produce via {who} failed: {results:?}");
        acked.push((results[0].1, prefix));
    }
    acked
}

fn fetch_from(offset: i64) -> FetchRequest {
    let mut p = FetchPartition::default();
    p.partition = 0;
    p.fetch_offset = offset;
    p.partition_max_bytes = 1 << 20;
    let mut t = FetchTopic::default();
    t.topic = topic_name("shared");
    t.partitions = vec![p];
    let mut request = FetchRequest::default();
    request.max_wait_ms = 100;
    request.min_bytes = 1;
    request.max_bytes = 50 << 20;
    request.topics = vec![t];
    request
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_brokers_share_a_partition_with_unique_gap_free_offsets() {
    let controllers = Controllers::start(|_| {}).await;
    let store = memory_store();
    // Each broker talks to a different controller first.
    let a = ClusterBroker::start(1, controllers.addrs.clone(), store.clone(), |_| {}).await;
    let mut rotated = controllers.addrs.clone();
    rotated.rotate_left(1);
    let b = ClusterBroker::start(2, rotated, store.clone(), |_| {}).await;

    let mut client_a = RawClient::connect(a.addr()).await;
    let created = create_topic(&mut client_a, "shared", 1, &[]).await;
    assert_eq!(created.topics[0].error_code, 0);
    // Created through A, visible through B's Metadata once B's replica has the entry.
    let mut client_b = RawClient::connect(b.addr()).await;
    let deadline = std::time::Instant::now() + DEADLINE;
    loop {
        let mut request = MetadataRequest::default();
        request.topics = None;
        let metadata = client_b.call(12, &request).await;
        if metadata.topics.iter().any(|t| t.error_code == 0) {
            assert_eq!(metadata.brokers.len(), 2, "both brokers registered");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "topic never reached broker B"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }

    let (via_a, via_b) = tokio::join!(produce_all(a.addr(), "a"), produce_all(b.addr(), "b"));
    let mut by_offset: BTreeMap<i64, String> = BTreeMap::new();
    for (base, prefix) in via_a.iter().chain(via_b.iter()) {
        assert!(
            by_offset.insert(*base, prefix.clone()).is_none(),
            "offset {base} acknowledged twice"
        );
    }
    let total = (2 * BATCHES_PER_PRODUCER * RECORDS_PER_BATCH) as i64;
    let expected_bases: Vec<i64> = (0..total).step_by(RECORDS_PER_BATCH).collect();
    assert_eq!(
        by_offset.keys().copied().collect::<Vec<_>>(),
        expected_bases,
        "batch base offsets are gap-free"
    );

    // Everything reads back through B (half of it was written through A), with the value
    // that was acknowledged at each offset.
    let mut records: Vec<(i64, String)> = Vec::new();
    while (records.len() as i64) < total {
        let response = client_b.call(11, &fetch_from(records.len() as i64)).await;
        let partition = &response.responses[0].partitions[0];
        assert_eq!(partition.error_code, 0);
        let mut bytes: Bytes = partition.records.clone().unwrap_or_default();
        for set in RecordBatchDecoder::decode_all(&mut bytes).expect("valid batches") {
            for r in set.records {
                let value = String::from_utf8(r.value.expect("value").to_vec()).expect("utf-8");
                records.push((r.offset, value));
            }
        }
    }
    for (i, (offset, value)) in records.iter().enumerate() {
        assert_eq!(*offset, i as i64, "offsets read back in order without gaps");
        let base = offset - offset % RECORDS_PER_BATCH as i64;
        let prefix = &by_offset[&base];
        assert_eq!(value, &format!("{prefix}-{}", offset - base));
    }

    a.stop().await;
    b.stop().await;
    controllers.stop().await;
}

async fn brokers(client: &mut RawClient) -> Vec<i32> {
    let mut request = MetadataRequest::default();
    request.topics = None;
    let response = client.call(12, &request).await;
    response.brokers.iter().map(|b| b.node_id.0).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeating_brokers_stay_listed_and_a_clean_shutdown_unregisters() {
    let controllers = Controllers::start(|c| c.broker_lease_ms = 500).await;
    let store = memory_store();
    let heartbeat = |c: &mut skiff_broker::BrokerConfig| c.lease_heartbeat_ms = 100;
    let a = ClusterBroker::start(1, controllers.addrs.clone(), store.clone(), heartbeat).await;
    let b = ClusterBroker::start(2, controllers.addrs.clone(), store.clone(), heartbeat).await;
    let mut client = RawClient::connect(a.addr()).await;

    // Four leases long, both stay live on their heartbeats.
    let until = std::time::Instant::now() + std::time::Duration::from_millis(2000);
    while std::time::Instant::now() < until {
        assert_eq!(brokers(&mut client).await, vec![1, 2]);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    b.stop().await;
    // Unregistered on the way out: gone from A's view without waiting for the lease.
    let registered = a
        .remote
        .state()
        .read()
        .brokers()
        .map(|b| b.id)
        .collect::<Vec<_>>();
    let deadline = std::time::Instant::now() + DEADLINE;
    let mut listed = brokers(&mut client).await;
    while listed != vec![1] {
        assert!(
            std::time::Instant::now() < deadline,
            "still listed: {listed:?} (registered {registered:?})"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        listed = brokers(&mut client).await;
    }
    assert!(
        a.remote.state().read().broker(2).is_none(),
        "unregistered, not just expired"
    );
    a.stop().await;
    controllers.stop().await;
}
