//! A broker keeps producing while the controller leader goes away: proposals wait out the
//! election (or fail with a retriable code, which the producer retries), offsets stay
//! gap-free, and every acknowledged batch reads back with its value.

use crate::cluster_support;
use crate::support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use cluster_support::{ClusterBroker, Controllers, memory_store};
use kafka_protocol::messages::FetchRequest;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::records::RecordBatchDecoder;
use support::*;

const RECORDS_PER_BATCH: usize = 3;
/// Codes a producer retries (the outcome of the failed attempt is unknown).
const RETRIABLE: [i16; 3] = [6, 7, 56];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn produce_resumes_after_the_controller_leader_stops() {
    let mut controllers = Controllers::start(|_| {}).await;
    let broker = ClusterBroker::start(1, controllers.addrs.clone(), memory_store(), |c| {
        c.lease_heartbeat_ms = 200;
    })
    .await;
    let mut client = RawClient::connect(broker.addr()).await;
    assert_eq!(
        create_topic(&mut client, "f", 1, &[]).await.topics[0].error_code,
        0
    );

    let mut acked: BTreeMap<i64, String> = BTreeMap::new();
    let mut slowest = Duration::ZERO;
    let mut stopped = false;
    for n in 0..40 {
        if n == 10 {
            controllers.stop_leader().await;
            stopped = true;
        }
        let prefix = format!("batch-{n}");
        let records = batch(&prefix, RECORDS_PER_BATCH, 1_700_000_000_000, NO_PRODUCER);
        let started = Instant::now();
        let deadline = started + DEADLINE;
        loop {
            let response = client
                .call(9, &produce_request(1, &[("f", 0, records.clone())]))
                .await;
            let (code, base) = produce_results(&response)[0];
            if code == 0 {
                assert!(
                    acked.insert(base, prefix.clone()).is_none(),
                    "offset {base} twice"
                );
                break;
            }
            assert!(RETRIABLE.contains(&code), "non-retriable code {code}");
            assert!(Instant::now() < deadline, "produce did not resume");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        if stopped {
            slowest = slowest.max(started.elapsed());
        }
    }
    eprintln!("longest produce (with retries) after the controller leader stopped: {slowest:?}");

    // Read everything back: gap-free offsets, every acknowledged batch at its offset.
    let mut fetch = FetchRequest::default();
    fetch.max_wait_ms = 100;
    fetch.min_bytes = 1;
    fetch.max_bytes = 50 << 20;
    let mut values: Vec<String> = Vec::new();
    let end = acked.keys().last().copied().unwrap_or(0) + RECORDS_PER_BATCH as i64;
    while (values.len() as i64) < end {
        let mut p = FetchPartition::default();
        p.partition = 0;
        p.fetch_offset = values.len() as i64;
        p.partition_max_bytes = 1 << 20;
        let mut t = FetchTopic::default();
        t.topic = topic_name("f");
        t.partitions = vec![p];
        fetch.topics = vec![t];
        let response = client.call(11, &fetch).await;
        let mut bytes: Bytes = response.responses[0].partitions[0]
            .records
            .clone()
            .unwrap_or_default();
        for set in RecordBatchDecoder::decode_all(&mut bytes).expect("valid batches") {
            for r in set.records {
                assert_eq!(r.offset, values.len() as i64, "gap-free, in order");
                values.push(String::from_utf8(r.value.expect("value").to_vec()).expect("utf-8"));
            }
        }
    }
    for (base, prefix) in &acked {
        for i in 0..RECORDS_PER_BATCH {
            assert_eq!(values[*base as usize + i], format!("{prefix}-{i}"));
        }
    }

    broker.stop().await;
    controllers.stop().await;
}
