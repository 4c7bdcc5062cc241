//! The object store goes away during produce: producers get a retriable error, nothing
//! acknowledged is lost, and writes resume by themselves when the store is back. Runs against
//! the real S3-compatible server tests/run starts (LocalStack), behind a proxy we can cut.

use crate::support;

use kafka_protocol::messages::FetchRequest;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::records::RecordBatchDecoder;
use skiff_storage::StoreConfig;
use support::proxy::CuttableProxy;
use support::*;

const REQUEST_TIMED_OUT: i16 = 7;
const KAFKA_STORAGE_ERROR: i16 = 56;

fn s3_endpoint() -> Option<(std::net::SocketAddr, String)> {
    let Ok(endpoint) = std::env::var("SKIFF_TEST_S3_ENDPOINT") else {
        // Under tests/run a missing server means the harness is broken: fail, do not skip.
        assert!(
            std::env::var_os("SKIFF_REQUIRE_S3").is_none(),
            "SKIFF_REQUIRE_S3 is set but SKIFF_TEST_S3_ENDPOINT is not"
        );
        eprintln!(
            "skipped: set SKIFF_TEST_S3_ENDPOINT (tests/run does) to run against a real S3 server"
        );
        return None;
    };
    let bucket = std::env::var("SKIFF_TEST_S3_BUCKET").unwrap_or_else(|_| "skiff-test".into());
    let host = endpoint.trim_start_matches("http://").trim_end_matches('/');
    Some((
        host.parse()
            .expect("SKIFF_TEST_S3_ENDPOINT is http://ip:port"),
        bucket,
    ))
}

fn values(records: Option<bytes::Bytes>) -> Vec<(i64, String)> {
    let mut records = records.unwrap_or_default();
    RecordBatchDecoder::decode_all(&mut records)
        .expect("valid batches")
        .into_iter()
        .flat_map(|set| set.records)
        .map(|r| {
            (
                r.offset,
                String::from_utf8_lossy(&r.value.unwrap_or_default()).into_owned(),
            )
        })
        .collect()
}

async fn fetch_all(client: &mut RawClient, topic: &str) -> Vec<(i64, String)> {
    let mut partition = FetchPartition::default();
    partition.partition_max_bytes = 1 << 20;
    let mut t = FetchTopic::default();
    t.topic = topic_name(topic);
    t.partitions = vec![partition];
    let mut request = FetchRequest::default();
    request.max_bytes = 1 << 20;
    request.topics = vec![t];
    let response = client.call(12, &request).await;
    let partition = &response.responses[0].partitions[0];
    assert_eq!(partition.error_code, 0);
    values(partition.records.clone())
}

#[tokio::test]
async fn produce_fails_retriably_while_the_store_is_down_and_resumes_after() {
    let Some((upstream, bucket)) = s3_endpoint() else {
        return;
    };
    let proxy = CuttableProxy::start(upstream).await;
    let dir = tempfile::tempdir().unwrap();
    let prefix = format!("outage-{}", uuid::Uuid::new_v4());
    let store = StoreConfig {
        url: format!("s3://{bucket}/{prefix}"),
        endpoint: Some(format!("http://{}", proxy.addr)),
        region: Some("us-east-1".into()),
        access_key_id: Some("test".into()),
        secret_access_key: Some("test".into()),
        allow_http: Some(true),
        max_retries: 2,
        retry_timeout_ms: 2_000,
        request_timeout_ms: 2_000,
        connect_timeout_ms: 500,
        ..StoreConfig::default()
    };
    let broker = TestBroker::start_in(dir.path(), store.clone(), |_| {}).await;
    let mut client = broker.client().await;
    create_topic(&mut client, "outage", 1, &[]).await;

    let before = client
        .call(
            9,
            &produce_request(-1, &[("outage", 0, batch("before", 3, 0, NO_PRODUCER))]),
        )
        .await;
    assert_eq!(produce_results(&before), vec![(0, 0)]);

    proxy.cut();
    let during = client
        .call(
            9,
            &produce_request(-1, &[("outage", 0, batch("during", 2, 0, NO_PRODUCER))]),
        )
        .await;
    let (code, _) = produce_results(&during)[0];
    assert!(
        code == KAFKA_STORAGE_ERROR || code == REQUEST_TIMED_OUT,
        "a retriable error while the store is down, got {code}"
    );

    proxy.restore();
    // The client's retry of the failed batch, with no operator action in between.
    let retried = client
        .call(
            9,
            &produce_request(-1, &[("outage", 0, batch("during", 2, 0, NO_PRODUCER))]),
        )
        .await;
    assert_eq!(
        produce_results(&retried),
        vec![(0, 3)],
        "writes resume where the acknowledged data ends"
    );

    let expected: Vec<(i64, String)> = vec![
        (0, "before-0".into()),
        (1, "before-1".into()),
        (2, "before-2".into()),
        (3, "during-0".into()),
        (4, "during-1".into()),
    ];
    assert_eq!(fetch_all(&mut client, "outage").await, expected);
    drop(client);
    broker.stop().await;

    // After a restart the cache is empty, so this reads the objects back from the store.
    let broker = TestBroker::start_in(dir.path(), store, |_| {}).await;
    let mut client = broker.client().await;
    assert_eq!(
        fetch_all(&mut client, "outage").await,
        expected,
        "acknowledged data survives in the store"
    );
    broker.stop().await;
}
