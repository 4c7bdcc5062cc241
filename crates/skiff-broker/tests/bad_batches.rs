//! Batches whose header and CRC are fine but whose records are not (issue 23, findings 1-3):
//! each is refused for its partition with the code Kafka gives, nothing of it is stored, and
//! the records written before and after it stay readable.

use crate::support;

use bytes::Bytes;
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::{ListOffsetsRequest, ProduceResponse};
use skiff_records::Compression;
use support::*;
use uuid::Uuid;

const CORRUPT_MESSAGE: i16 = 2;
const MESSAGE_TOO_LARGE: i16 = 10;
const INVALID_TIMESTAMP: i16 = 32;
const INVALID_RECORD: i16 = 87;

/// Produces `good` (2 records), then `bad`, then `good` again, returning the bad one's response.
/// Checks the good ones land at offsets 0 and 2, so the bad one took no offsets.
async fn sandwich(client: &mut RawClient, topic: &str, bad: Bytes) -> ProduceResponse {
    let before = client
        .call(
            9,
            &produce_request(-1, &[(topic, 0, batch("before", 2, 1_000, NO_PRODUCER))]),
        )
        .await;
    assert_eq!(produce_results(&before), vec![(0, 0)]);
    let refused = client
        .call(9, &produce_request(-1, &[(topic, 0, bad)]))
        .await;
    let after = client
        .call(
            9,
            &produce_request(-1, &[(topic, 0, batch("after", 2, 1_000, NO_PRODUCER))]),
        )
        .await;
    assert_eq!(
        produce_results(&after),
        vec![(0, 2)],
        "the refused batch took no offsets"
    );
    let response = client
        .call(11, &fetch_request(topic, Uuid::nil(), 0, 0, 0, 0))
        .await;
    assert_eq!(
        fetched(&response),
        vec![
            (0, "before-0".to_string()),
            (1, "before-1".to_string()),
            (2, "after-0".to_string()),
            (3, "after-1".to_string()),
        ]
    );
    refused
}

fn refusal(response: &ProduceResponse) -> (i16, String, Vec<(i32, String)>) {
    let p = &response.responses[0].partition_responses[0];
    (
        p.error_code,
        p.error_message.as_deref().unwrap_or_default().to_string(),
        p.record_errors
            .iter()
            .map(|e| {
                (
                    e.batch_index,
                    e.batch_index_error_message
                        .as_deref()
                        .unwrap_or_default()
                        .to_string(),
                )
            })
            .collect(),
    )
}

#[tokio::test]
async fn garbage_records_under_a_valid_crc_are_corrupt() {
    let broker = TestBroker::start().await;
    let mut client = broker.client().await;
    create_topic(&mut client, "garbage", 1, &[]).await;
    let noise: Vec<u8> = (0..300u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 9) as u8 | 1)
        .collect();
    let (code, message, _) =
        refusal(&sandwich(&mut client, "garbage", raw_batch(0, 5, 4, &noise)).await);
    assert_eq!(code, CORRUPT_MESSAGE, "{message}");
    assert!(message.starts_with("batch 0: record 0:"), "{message}");
    broker.stop().await;
}

#[tokio::test]
async fn a_codec_flag_over_bytes_of_another_kind_is_corrupt() {
    let broker = TestBroker::start().await;
    let mut client = broker.client().await;
    create_topic(&mut client, "notgzip", 1, &[]).await;
    let plain = [
        raw_record(0, None, Some(b"a")),
        raw_record(1, None, Some(b"b")),
    ]
    .concat();
    for codec in [
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ] {
        let bad = raw_batch(codec.id(), 2, 1, &plain);
        let refused = client
            .call(9, &produce_request(-1, &[("notgzip", 0, bad)]))
            .await;
        let (code, message, _) = refusal(&refused);
        assert_eq!(code, CORRUPT_MESSAGE, "{codec}: {message}");
        assert!(message.contains("cannot be decompressed"), "{message}");
    }
    let bad = raw_batch(Compression::Gzip.id(), 2, 1, &plain);
    let (code, ..) = refusal(&sandwich(&mut client, "notgzip", bad).await);
    assert_eq!(code, CORRUPT_MESSAGE);
    broker.stop().await;
}

#[tokio::test]
async fn a_batch_claiming_i32_max_records_does_not_move_the_watermark() {
    let broker = TestBroker::start().await;
    let mut client = broker.client().await;
    create_topic(&mut client, "claims", 1, &[]).await;
    let bad = raw_batch(
        0,
        i32::MAX,
        i32::MAX - 1,
        &raw_record(0, None, Some(b"one")),
    );
    let (code, message, record_errors) = refusal(&sandwich(&mut client, "claims", bad).await);
    assert_eq!(code, INVALID_RECORD, "{message}");
    assert!(
        message.contains("declares 2147483647 records but its data ends after 1"),
        "{message}"
    );
    assert_eq!(record_errors.len(), 1);
    assert_eq!(record_errors[0].0, 1, "the first missing record is named");

    let mut p = ListOffsetsPartition::default();
    p.partition_index = 0;
    p.timestamp = -1;
    let mut t = ListOffsetsTopic::default();
    t.name = topic_name("claims");
    t.partitions = vec![p];
    let mut request = ListOffsetsRequest::default();
    request.replica_id = (-1).into();
    request.topics = vec![t];
    let latest = client.call(8, &request).await;
    assert_eq!(
        latest.topics[0].partitions[0].offset, 4,
        "high watermark after 2 + 2 records"
    );
    broker.stop().await;
}

#[tokio::test]
async fn decompression_bombs_are_refused_as_too_large() {
    let broker = TestBroker::start_with(|c| c.max_decompressed_multiple = 4).await;
    let mut client = broker.client().await;
    // One record whose value is 16 MiB of zeros: a few KiB compressed, 4x past the 4 MiB cap.
    let record = raw_record(0, None, Some(&vec![0u8; 16 << 20]));
    for codec in [
        Compression::Gzip,
        Compression::Zstd,
        Compression::Lz4,
        Compression::Snappy,
    ] {
        let topic = format!("bombs-{codec}");
        create_topic(&mut client, &topic, 1, &[("max.message.bytes", "1048576")]).await;
        let mut packed = Vec::new();
        skiff_records::compress(codec, &record, &mut packed).expect("compresses");
        assert!(packed.len() < 1 << 20, "{codec}: {} bytes", packed.len());
        let bad = raw_batch(codec.id(), 1, 0, &packed);
        let (code, message, _) = refusal(&sandwich(&mut client, &topic, bad).await);
        assert_eq!(code, MESSAGE_TOO_LARGE, "{codec}: {message}");
        assert!(
            message.contains("decompress to more than the 4194304-byte limit"),
            "{message}"
        );
    }
    broker.stop().await;
}

#[tokio::test]
async fn compacted_topics_refuse_keyless_records_naming_each() {
    let broker = TestBroker::start().await;
    let mut client = broker.client().await;
    create_topic(
        &mut client,
        "compacted",
        1,
        &[("cleanup.policy", "compact")],
    )
    .await;
    let records = [
        raw_record(0, Some(b"k0"), Some(b"v")),
        raw_record(1, None, Some(b"v")),
        raw_record(2, Some(b"k2"), Some(b"v")),
        raw_record(3, None, None),
    ]
    .concat();
    let (code, message, record_errors) =
        refusal(&sandwich(&mut client, "compacted", raw_batch(0, 4, 3, &records)).await);
    assert_eq!(code, INVALID_RECORD, "{message}");
    let indices: Vec<i32> = record_errors.iter().map(|(i, _)| *i).collect();
    assert_eq!(indices, vec![1, 3]);
    assert!(
        record_errors[0].1.contains("compacted topic needs one"),
        "{record_errors:?}"
    );
    broker.stop().await;
}

#[tokio::test]
async fn timestamps_outside_the_topic_range_are_invalid_timestamps() {
    let broker = TestBroker::start().await;
    let mut client = broker.client().await;
    create_topic(
        &mut client,
        "recent",
        1,
        &[("message.timestamp.before.max.ms", "3600000")],
    )
    .await;
    // Our sandwich batches are stamped at 1,000 ms after the epoch: allow them here, refuse now.
    let old = batch("old", 3, 1_000, NO_PRODUCER);
    let refused = client
        .call(9, &produce_request(-1, &[("recent", 0, old)]))
        .await;
    let (code, message, record_errors) = refusal(&refused);
    assert_eq!(code, INVALID_TIMESTAMP, "{message}");
    assert_eq!(record_errors.len(), 3);
    let now = chrono_now_ms();
    let fresh = batch("fresh", 2, now, NO_PRODUCER);
    let accepted = client
        .call(9, &produce_request(-1, &[("recent", 0, fresh)]))
        .await;
    assert_eq!(produce_results(&accepted), vec![(0, 0)]);
    let response = client
        .call(11, &fetch_request("recent", Uuid::nil(), 0, 0, 0, 0))
        .await;
    assert_eq!(fetched(&response).len(), 2);
    broker.stop().await;
}

fn chrono_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
