//! Every kind of bad client input gets the Kafka error a client expects, affects only what it
//! was sent for, and never takes the broker down.

use crate::support;

use bytes::{BufMut, BytesMut};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, ApiVersionsResponse, MetadataRequest, ResponseHeader,
    metadata_request::MetadataRequestTopic,
};
use kafka_protocol::protocol::Decodable;
use support::*;

const CORRUPT_MESSAGE: i16 = 2;
const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
const MESSAGE_TOO_LARGE: i16 = 10;
const INVALID_TOPIC_EXCEPTION: i16 = 17;
const UNSUPPORTED_VERSION: i16 = 35;

async fn assert_healthy(broker: &TestBroker) {
    let mut client = broker.client().await;
    let response = client.call(3, &ApiVersionsRequest::default()).await;
    assert_eq!(response.error_code, 0);
}

#[tokio::test]
async fn oversized_frame_closes_only_that_connection() {
    let broker = TestBroker::start_with(|c| c.max_request_bytes = 1 << 20).await;
    let mut bystander = broker.client().await;
    let mut offender = broker.client().await;
    let mut frame = BytesMut::new();
    frame.put_i32(2 << 20);
    frame.extend_from_slice(&[0u8; 1024]);
    let _ = offender.send_bytes(&frame).await;
    assert!(
        offender.recv_frame().await.is_none(),
        "oversized frame must close the connection"
    );

    let response = bystander.call(3, &ApiVersionsRequest::default()).await;
    assert_eq!(response.error_code, 0, "other connections carry on");
    assert_healthy(&broker).await;
    broker.stop().await;
}

#[tokio::test]
async fn corrupt_crc_fails_only_its_partition() {
    let broker = TestBroker::start().await;
    let mut client = broker.client().await;
    create_topic(&mut client, "crc", 2, &[]).await;

    let good = batch("good", 5, 1_000, NO_PRODUCER);
    let mut bad = BytesMut::from(&batch("bad", 5, 1_000, NO_PRODUCER)[..]);
    let last = bad.len() - 1;
    bad[last] ^= 0xff; // inside the records, which the CRC covers
    let request = produce_request(-1, &[("crc", 0, bad.freeze()), ("crc", 1, good)]);
    let response = client.call(9, &request).await;
    let results = produce_results(&response);
    assert_eq!(results[0].0, CORRUPT_MESSAGE);
    assert_eq!(
        results[1],
        (0, 0),
        "the valid partition in the same request is written"
    );
    let message = response.responses[0].partition_responses[0]
        .error_message
        .as_deref()
        .unwrap_or_default();
    assert!(
        message.contains("CRC"),
        "error message names the cause: {message:?}"
    );
    broker.stop().await;
}

#[tokio::test]
async fn batch_over_max_message_bytes_is_too_large() {
    let broker = TestBroker::start().await;
    let mut client = broker.client().await;
    let created = create_topic(&mut client, "small", 1, &[("max.message.bytes", "1000")]).await;
    assert_eq!(created.topics[0].error_code, 0);
    let big = batch("x".repeat(50).as_str(), 40, 0, NO_PRODUCER);
    assert!(big.len() > 1000);
    let response = client
        .call(9, &produce_request(-1, &[("small", 0, big)]))
        .await;
    assert_eq!(produce_results(&response)[0].0, MESSAGE_TOO_LARGE);

    let fits = batch("ok", 2, 0, NO_PRODUCER);
    let response = client
        .call(9, &produce_request(-1, &[("small", 0, fits)]))
        .await;
    assert_eq!(
        produce_results(&response)[0],
        (0, 0),
        "nothing of the rejected batch was written"
    );
    broker.stop().await;
}

#[tokio::test]
async fn unknown_topic_or_partition() {
    let broker = TestBroker::start().await;
    let mut client = broker.client().await;
    create_topic(&mut client, "known", 2, &[]).await;
    let records = batch("v", 1, 0, NO_PRODUCER);
    let request = produce_request(
        1,
        &[
            ("missing", 0, records.clone()),
            ("known", 7, records.clone()),
            ("known", 1, records),
        ],
    );
    let results = produce_results(&client.call(9, &request).await);
    assert_eq!(results[0].0, UNKNOWN_TOPIC_OR_PARTITION);
    assert_eq!(results[1].0, UNKNOWN_TOPIC_OR_PARTITION);
    assert_eq!(results[2], (0, 0));

    let mut metadata = MetadataRequest::default();
    let mut topic = MetadataRequestTopic::default();
    topic.name = Some(topic_name("missing"));
    metadata.topics = Some(vec![topic]);
    let response = client.call(12, &metadata).await;
    assert_eq!(response.topics[0].error_code, UNKNOWN_TOPIC_OR_PARTITION);
    broker.stop().await;
}

#[tokio::test]
async fn invalid_topic_names_are_rejected_everywhere() {
    let broker = TestBroker::start().await;
    let mut client = broker.client().await;
    for name in ["bad name!", "..", "", &"x".repeat(250)] {
        let created = create_topic(&mut client, name, 1, &[]).await;
        assert_eq!(
            created.topics[0].error_code, INVALID_TOPIC_EXCEPTION,
            "create {name:?}"
        );
    }
    let results = produce_results(
        &client
            .call(
                9,
                &produce_request(1, &[("bad name!", 0, batch("v", 1, 0, NO_PRODUCER))]),
            )
            .await,
    );
    assert_eq!(results[0].0, INVALID_TOPIC_EXCEPTION);
    broker.stop().await;
}

#[tokio::test]
async fn unsupported_versions_and_apis_are_answered_and_the_connection_stays_usable() {
    let broker = TestBroker::start().await;
    let mut client = broker.client().await;

    // Metadata v99: header-only request; answered with UNSUPPORTED_VERSION.
    let mut header = BytesMut::new();
    header.put_i16(ApiKey::Metadata as i16);
    header.put_i16(99);
    header.put_i32(41);
    header.put_i16(-1);
    client.send_frame(&header).await;
    let reply = client.recv_frame().await.expect("answered, not closed");
    assert_eq!(&reply[..], &[0, 0, 0, 41, 0, UNSUPPORTED_VERSION as u8]);

    // An API key Kafka does not have.
    let mut header = BytesMut::new();
    header.put_i16(999);
    header.put_i16(0);
    header.put_i32(42);
    client.send_frame(&header).await;
    let reply = client.recv_frame().await.expect("answered, not closed");
    assert_eq!(&reply[..], &[0, 0, 0, 42, 0, UNSUPPORTED_VERSION as u8]);

    // ApiVersions newer than ours: the v0 layout with our table (KIP-511).
    let mut request = BytesMut::new();
    request.put_i16(ApiKey::ApiVersions as i16);
    request.put_i16(77);
    request.put_i32(43);
    request.put_i16(-1);
    client.send_frame(&request).await;
    let mut reply = client.recv_frame().await.expect("answered, not closed");
    let header = ResponseHeader::decode(&mut reply, 0).unwrap();
    assert_eq!(header.correlation_id, 43);
    let versions = ApiVersionsResponse::decode(&mut reply, 0).unwrap();
    assert_eq!(versions.error_code, UNSUPPORTED_VERSION);
    let produce = versions
        .api_keys
        .iter()
        .find(|k| k.api_key == ApiKey::Produce as i16)
        .expect("Produce listed");
    assert_eq!((produce.min_version, produce.max_version), (3, 11));

    // The same connection still serves real requests.
    let response = client.call(3, &ApiVersionsRequest::default()).await;
    assert_eq!(response.error_code, 0);
    broker.stop().await;
}

#[tokio::test]
async fn malformed_request_closes_only_that_connection() {
    let broker = TestBroker::start().await;
    let mut offender = broker.client().await;
    let mut frame = BytesMut::new();
    frame.put_i16(ApiKey::Metadata as i16);
    frame.put_i16(12);
    frame.put_i32(7);
    frame.extend_from_slice(&[0xff; 5]); // not a valid header continuation and body
    offender.send_frame(&frame).await;
    assert!(offender.recv_frame().await.is_none());
    assert_healthy(&broker).await;
    broker.stop().await;
}

#[tokio::test]
async fn random_frames_never_take_the_broker_down() {
    let broker = TestBroker::start().await;
    // A fixed-seed xorshift, so a failure is reproducible.
    let mut state: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for round in 0..200 {
        let mut client = broker.client().await;
        let len = (next() % 300) as usize;
        let mut body: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        if body.len() >= 4 && round % 2 == 0 {
            // Half the frames carry a real API key and version, so decoding goes deeper.
            let key = [0i16, 1, 2, 3, 18, 19, 20, 22, 32, 37, 44, 60][(next() % 12) as usize];
            body[0..2].copy_from_slice(&key.to_be_bytes());
            body[2..4].copy_from_slice(&((next() % 12) as i16).to_be_bytes());
        }
        client.send_frame(&body).await;
        // Either an answer or a closed connection; both are fine, a hang or crash is not.
        let _ = client.recv_frame().await;
    }
    assert_healthy(&broker).await;
    let mut client = broker.client().await;
    let mut metadata = MetadataRequest::default();
    metadata.topics = Some(vec![]);
    let response = client.call(12, &metadata).await;
    assert_eq!(response.brokers.len(), 1);
    broker.stop().await;
}

#[tokio::test]
async fn a_huge_declared_array_is_malformed_not_an_allocation() {
    let broker = TestBroker::start().await;
    let mut offender = broker.client().await;
    let mut frame = BytesMut::new();
    frame.put_i16(ApiKey::Metadata as i16);
    frame.put_i16(0);
    frame.put_i32(9);
    frame.put_i16(-1); // client id
    frame.put_i32(i32::MAX); // topic count, with no topics following
    offender.send_frame(&frame).await;
    assert!(
        offender.recv_frame().await.is_none(),
        "malformed: connection closed"
    );
    assert_healthy(&broker).await;
    broker.stop().await;
}
