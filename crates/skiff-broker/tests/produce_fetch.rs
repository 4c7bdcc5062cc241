//! The write and read paths over real sockets: offsets assigned at commit and patched on fetch,
//! idempotent producers, long-poll, acks=0, ListOffsets, and a restart keeping everything.

use crate::support;

use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::delete_records_request::{
    DeleteRecordsPartition, DeleteRecordsTopic,
};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::{
    ApiVersionsRequest, DeleteRecordsRequest, FetchRequest, InitProducerIdRequest,
    ListOffsetsRequest,
};
use skiff_storage::StoreConfig;
use support::*;
use uuid::Uuid;

const OUT_OF_ORDER_SEQUENCE_NUMBER: i16 = 45;
const OFFSET_OUT_OF_RANGE: i16 = 1;

#[tokio::test]
async fn offsets_are_assigned_at_commit_and_patched_on_fetch() {
    let broker = TestBroker::start().await;
    let mut client = broker.client().await;
    create_topic(&mut client, "orders", 1, &[]).await;
    let mut bases = Vec::new();
    for (i, count) in [5usize, 3, 7].into_iter().enumerate() {
        let response = client
            .call(
                9,
                &produce_request(
                    -1,
                    &[("orders", 0, batch(&format!("b{i}"), count, 0, NO_PRODUCER))],
                ),
            )
            .await;
        bases.push(produce_results(&response)[0]);
    }
    assert_eq!(bases, vec![(0, 0), (0, 5), (0, 8)]);

    let records = fetched(
        &client
            .call(11, &fetch_request("orders", Uuid::nil(), 0, 0, 0, 0))
            .await,
    );
    let offsets: Vec<i64> = records.iter().map(|(o, _)| *o).collect();
    assert_eq!(offsets, (0..15).collect::<Vec<_>>());
    assert_eq!(records[5].1, "b1-0");
    assert_eq!(records[14].1, "b2-6");

    // Fetching from the middle of a batch returns that whole batch (as Kafka does).
    let from_six = fetched(
        &client
            .call(11, &fetch_request("orders", Uuid::nil(), 0, 6, 0, 0))
            .await,
    );
    assert_eq!(from_six.first().map(|r| r.0), Some(5));
    broker.stop().await;
}

#[tokio::test]
async fn fetch_by_topic_id_and_out_of_range_offsets() {
    let broker = TestBroker::start().await;
    let mut client = broker.client().await;
    create_topic(&mut client, "ids", 1, &[]).await;
    client
        .call(
            9,
            &produce_request(1, &[("ids", 0, batch("v", 4, 0, NO_PRODUCER))]),
        )
        .await;
    let id = topic_id(&mut client, "ids").await;
    assert!(!id.is_nil());
    let records = fetched(&client.call(13, &fetch_request("", id, 0, 0, 0, 0)).await);
    assert_eq!(records.len(), 4);

    let at_end = client.call(13, &fetch_request("", id, 0, 4, 0, 0)).await;
    assert_eq!(at_end.responses[0].partitions[0].high_watermark, 4);
    assert!(fetched(&at_end).is_empty());
    let beyond = client.call(13, &fetch_request("", id, 0, 5, 0, 0)).await;
    assert_eq!(
        beyond.responses[0].partitions[0].error_code,
        OFFSET_OUT_OF_RANGE
    );
    broker.stop().await;
}

#[tokio::test]
async fn idempotent_retries_get_their_original_offsets_and_gaps_are_refused() {
    let broker = TestBroker::start().await;
    let mut client = broker.client().await;
    create_topic(&mut client, "idem", 1, &[]).await;
    let init = client
        .call(
            4,
            &InitProducerIdRequest::default()
                .with_producer_id((-1).into())
                .with_producer_epoch(-1),
        )
        .await;
    assert_eq!(init.error_code, 0);
    let producer = ProducerFields {
        id: init.producer_id.0,
        epoch: init.producer_epoch,
        sequence: 0,
    };

    let first = batch("a", 5, 0, producer);
    let ok = produce_results(
        &client
            .call(9, &produce_request(-1, &[("idem", 0, first.clone())]))
            .await,
    );
    assert_eq!(ok, vec![(0, 0)]);
    let retry = produce_results(
        &client
            .call(9, &produce_request(-1, &[("idem", 0, first)]))
            .await,
    );
    assert_eq!(
        retry,
        vec![(0, 0)],
        "a retried batch is acknowledged with its original offset"
    );
    let second = batch(
        "b",
        2,
        0,
        ProducerFields {
            sequence: 5,
            ..producer
        },
    );
    assert_eq!(
        produce_results(
            &client
                .call(9, &produce_request(-1, &[("idem", 0, second)]))
                .await
        ),
        vec![(0, 5)]
    );

    let gap = batch(
        "c",
        1,
        0,
        ProducerFields {
            sequence: 20,
            ..producer
        },
    );
    let refused = produce_results(
        &client
            .call(9, &produce_request(-1, &[("idem", 0, gap)]))
            .await,
    );
    assert_eq!(refused[0].0, OUT_OF_ORDER_SEQUENCE_NUMBER);

    let records = fetched(
        &client
            .call(11, &fetch_request("idem", Uuid::nil(), 0, 0, 0, 0))
            .await,
    );
    assert_eq!(
        records.len(),
        7,
        "the duplicate and the refused batch were not stored"
    );
    broker.stop().await;
}

#[tokio::test]
async fn long_poll_fetch_is_woken_by_a_commit() {
    let broker = TestBroker::start().await;
    let mut consumer = broker.client().await;
    let mut producer = broker.client().await;
    create_topic(&mut consumer, "tail", 1, &[]).await;

    // Waits up to 30 s for data; only a wake-up on commit can make it return records, since a
    // fetch that times out answers with what it saw before waiting: nothing.
    let correlation = consumer
        .send(11, &fetch_request("tail", Uuid::nil(), 0, 0, 30_000, 1))
        .await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let produced = produce_results(
        &producer
            .call(
                9,
                &produce_request(-1, &[("tail", 0, batch("live", 3, 0, NO_PRODUCER))]),
            )
            .await,
    );
    assert_eq!(produced, vec![(0, 0)]);
    let response = consumer.recv::<FetchRequest>(11, correlation).await;
    assert_eq!(fetched(&response).len(), 3);
    broker.stop().await;
}

#[tokio::test]
async fn acks_zero_gets_no_response_but_is_written() {
    let broker = TestBroker::start().await;
    let mut client = broker.client().await;
    create_topic(&mut client, "fire", 1, &[]).await;
    client
        .send(
            9,
            &produce_request(0, &[("fire", 0, batch("f", 2, 0, NO_PRODUCER))]),
        )
        .await;
    let correlation = client.send(3, &ApiVersionsRequest::default()).await;
    // The next frame on the wire is the ApiVersions answer: the produce got none.
    let versions = client.recv::<ApiVersionsRequest>(3, correlation).await;
    assert_eq!(versions.error_code, 0);
    let records = fetched(
        &client
            .call(11, &fetch_request("fire", Uuid::nil(), 0, 0, 5_000, 1))
            .await,
    );
    assert_eq!(records.len(), 2);
    broker.stop().await;
}

#[tokio::test]
async fn list_offsets_by_time_earliest_latest_and_max() {
    let broker = TestBroker::start().await;
    let mut client = broker.client().await;
    create_topic(&mut client, "times", 1, &[]).await;
    client
        .call(
            9,
            &produce_request(-1, &[("times", 0, batch("early", 10, 1_000, NO_PRODUCER))]),
        )
        .await;
    client
        .call(
            9,
            &produce_request(-1, &[("times", 0, batch("late", 10, 2_000, NO_PRODUCER))]),
        )
        .await;

    let mut results = Vec::new();
    for timestamp in [1_005, 1_500, 2_009, 3_000, -1, -2, -3] {
        let mut p = ListOffsetsPartition::default();
        p.partition_index = 0;
        p.timestamp = timestamp;
        let mut t = ListOffsetsTopic::default();
        t.name = topic_name("times");
        t.partitions = vec![p];
        let mut request = ListOffsetsRequest::default();
        request.replica_id = (-1).into();
        request.topics = vec![t];
        let response = client.call(8, &request).await;
        let p = &response.topics[0].partitions[0];
        assert_eq!(p.error_code, 0);
        results.push((p.offset, p.timestamp));
    }
    assert_eq!(
        results,
        vec![
            (5, 1_005),
            (10, 2_000),
            (19, 2_009),
            (-1, -1),
            (20, -1),
            (0, -1),
            (19, 2_009)
        ],
        "by time: first record at or after; then none, latest, earliest, max timestamp"
    );
    broker.stop().await;
}

#[tokio::test]
async fn a_restart_keeps_topics_offsets_and_records() {
    let dir = tempfile::tempdir().unwrap();
    let store = StoreConfig::for_url(format!("file://{}", dir.path().join("objects").display()));
    let broker = TestBroker::start_in(dir.path(), store.clone(), |_| {}).await;
    let mut client = broker.client().await;
    create_topic(&mut client, "durable", 2, &[("retention.ms", "3600000")]).await;
    client
        .call(
            9,
            &produce_request(-1, &[("durable", 1, batch("before", 6, 0, NO_PRODUCER))]),
        )
        .await;
    drop(client);
    broker.stop().await;

    let broker = TestBroker::start_in(dir.path(), store, |_| {}).await;
    let mut client = broker.client().await;
    let records = fetched(
        &client
            .call(11, &fetch_request("durable", Uuid::nil(), 1, 0, 0, 0))
            .await,
    );
    assert_eq!(records.len(), 6);
    assert_eq!(records[5], (5, "before-5".to_string()));
    let after = produce_results(
        &client
            .call(
                9,
                &produce_request(-1, &[("durable", 1, batch("after", 2, 0, NO_PRODUCER))]),
            )
            .await,
    );
    assert_eq!(after, vec![(0, 6)], "offsets continue where they stopped");
    broker.stop().await;
}

#[tokio::test]
async fn many_partitions_in_one_request_share_one_segment() {
    let broker = TestBroker::start_with(|c| c.flush_interval_ms = 50).await;
    let mut client = broker.client().await;
    create_topic(&mut client, "wide", 16, &[]).await;
    let parts: Vec<(&str, i32, Bytes)> = (0..16)
        .map(|p| ("wide", p, batch(&format!("p{p}"), 2, 0, NO_PRODUCER)))
        .collect();
    let results = produce_results(&client.call(9, &produce_request(-1, &parts)).await);
    assert!(results.iter().all(|r| *r == (0, 0)), "{results:?}");
    let objects = std::fs::read_dir(broker.data_dir.join("controller"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert!(objects > 0);
    for p in [0, 7, 15] {
        let records = fetched(
            &client
                .call(11, &fetch_request("wide", Uuid::nil(), p, 0, 0, 0))
                .await,
        );
        assert_eq!(
            records.iter().map(|r| r.1.clone()).collect::<Vec<_>>(),
            vec![format!("p{p}-0"), format!("p{p}-1")]
        );
    }
    broker.stop().await;
}

fn delete_records_request(topic: &str, partitions: &[(i32, i64)]) -> DeleteRecordsRequest {
    let mut t = DeleteRecordsTopic::default();
    t.name = topic_name(topic);
    t.partitions = partitions
        .iter()
        .map(|&(p, offset)| {
            let mut partition = DeleteRecordsPartition::default();
            partition.partition_index = p;
            partition.offset = offset;
            partition
        })
        .collect();
    let mut request = DeleteRecordsRequest::default();
    request.topics = vec![t];
    request.timeout_ms = 5_000;
    request
}

async fn earliest(client: &mut RawClient, topic: &str) -> i64 {
    let mut partition = ListOffsetsPartition::default();
    partition.timestamp = -2;
    let mut t = ListOffsetsTopic::default();
    t.name = topic_name(topic);
    t.partitions = vec![partition];
    let mut request = ListOffsetsRequest::default();
    request.replica_id = (-1).into();
    request.topics = vec![t];
    client.call(8, &request).await.topics[0].partitions[0].offset
}

#[tokio::test]
async fn delete_records_moves_the_start_and_fetches_below_it_are_out_of_range() {
    const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
    let broker = TestBroker::start().await;
    let mut client = broker.client().await;
    create_topic(&mut client, "dr", 2, &[]).await;
    for round in 0..2 {
        let values = batch(&format!("r{round}-"), 5, 0, NO_PRODUCER);
        client
            .call(9, &produce_request(1, &[("dr", 0, values)]))
            .await;
    }
    let response = client
        .call(2, &delete_records_request("dr", &[(0, 7), (1, 1), (9, 0)]))
        .await;
    let results: Vec<(i32, i16, i64)> = response.topics[0]
        .partitions
        .iter()
        .map(|p| (p.partition_index, p.error_code, p.low_watermark))
        .collect();
    assert_eq!(
        results,
        vec![
            (0, 0, 7),
            (1, OFFSET_OUT_OF_RANGE, -1),
            (9, UNKNOWN_TOPIC_OR_PARTITION, -1)
        ]
    );
    let unknown = client
        .call(2, &delete_records_request("no-such-topic", &[(0, 0)]))
        .await;
    assert_eq!(
        unknown.topics[0].partitions[0].error_code,
        UNKNOWN_TOPIC_OR_PARTITION
    );

    assert_eq!(earliest(&mut client, "dr").await, 7);
    let below = client
        .call(12, &fetch_request("dr", Uuid::nil(), 0, 6, 0, 0))
        .await;
    let partition = &below.responses[0].partitions[0];
    assert_eq!(partition.error_code, OFFSET_OUT_OF_RANGE);
    // From the start on, the batch holding offset 7 comes back (offsets 5..=9, as in Kafka a
    // batch may begin before the log start).
    let from_start = client
        .call(12, &fetch_request("dr", Uuid::nil(), 0, 7, 0, 0))
        .await;
    assert_eq!(from_start.responses[0].partitions[0].log_start_offset, 7);
    let offsets: Vec<i64> = fetched(&from_start).iter().map(|(o, _)| *o).collect();
    assert_eq!(offsets, (5..10).collect::<Vec<_>>());
    broker.stop().await;
}

/// Group commit: with no flush in progress, a batch does not wait out the flush interval.
#[tokio::test]
async fn a_produce_with_no_flush_in_progress_is_flushed_without_waiting_for_the_interval() {
    let broker = TestBroker::start_with(|c| {
        c.flush_interval_ms = 600_000;
        c.min_flush_interval_ms = Some(0);
    })
    .await;
    let mut client = broker.client().await;
    create_topic(&mut client, "eager", 1, &[]).await;
    for round in 0..3 {
        let request = produce_request(-1, &[("eager", 0, batch("r", 1, 0, NO_PRODUCER))]);
        // Waiting out the interval would take ten minutes.
        let answered = tokio::time::timeout(Duration::from_secs(60), client.call(9, &request))
            .await
            .expect("the produce is answered long before the flush interval");
        assert_eq!(produce_results(&answered), vec![(0, round)]);
    }
    broker.stop().await;
}

/// On a store billed per request the minimum equals the interval: two flushes never start
/// closer together than that, however idle the pipeline is.
#[tokio::test]
async fn flushes_stay_the_minimum_interval_apart() {
    let broker = TestBroker::start_with(|c| {
        c.flush_interval_ms = 400;
        c.min_flush_interval_ms = Some(400);
    })
    .await;
    let mut client = broker.client().await;
    create_topic(&mut client, "spaced", 1, &[]).await;
    let started = std::time::Instant::now();
    for _ in 0..3 {
        let request = produce_request(-1, &[("spaced", 0, batch("s", 1, 0, NO_PRODUCER))]);
        client.call(9, &request).await;
    }
    // The first flush may start at once; the second and third each wait for the minimum.
    assert!(
        started.elapsed() >= Duration::from_millis(800),
        "three flushes took only {:?}",
        started.elapsed()
    );
    broker.stop().await;
}
