//! `response_size` predicts exactly what `encode_response` writes, so the broker can reserve
//! its response budget before it allocates anything.

use bytes::{Bytes, BytesMut};
use skiff_protocol::kafka_protocol::messages::fetch_response::{
    FetchableTopicResponse, PartitionData,
};
use skiff_protocol::kafka_protocol::messages::metadata_response::MetadataResponseTopic;
use skiff_protocol::kafka_protocol::messages::{
    ApiKey, FetchResponse, MetadataResponse, ResponseKind,
};
use skiff_protocol::{api_versions_response, encode_response, response_size};

fn check(api_key: ApiKey, version: i16, body: ResponseKind) {
    let mut out = BytesMut::new();
    encode_response(&mut out, 7, api_key, version, &body).expect("encodes");
    assert_eq!(
        response_size(api_key, version, &body).expect("sized"),
        out.len(),
        "{api_key:?} v{version}"
    );
}

#[test]
fn sizes_match_the_encoding_in_flexible_and_older_versions() {
    let mut partition = PartitionData::default();
    partition.records = Some(Bytes::from(vec![1u8; 70_000]));
    let mut topic = FetchableTopicResponse::default();
    topic.partitions = vec![partition];
    let mut fetch = FetchResponse::default();
    fetch.responses = vec![topic];
    for version in [4, 11, 12, 16] {
        check(ApiKey::Fetch, version, ResponseKind::Fetch(fetch.clone()));
    }
    let mut metadata = MetadataResponse::default();
    metadata.topics = vec![MetadataResponseTopic::default(); 3];
    for version in [1, 9, 12] {
        check(
            ApiKey::Metadata,
            version,
            ResponseKind::Metadata(metadata.clone()),
        );
    }
    check(
        ApiKey::ApiVersions,
        3,
        ResponseKind::ApiVersions(api_versions_response(0)),
    );
    check(
        ApiKey::ApiVersions,
        0,
        ResponseKind::ApiVersions(api_versions_response(0)),
    );
}
