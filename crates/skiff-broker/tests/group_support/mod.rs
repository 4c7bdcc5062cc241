//! Raw group-protocol requests as a consumer would send them, for the group tests.
#![allow(dead_code)]

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::consumer_protocol_assignment::TopicPartition as AssignedPartitions;
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::{
    ConsumerProtocolAssignment, ConsumerProtocolSubscription, GroupId, HeartbeatRequest,
    JoinGroupRequest, JoinGroupResponse, OffsetCommitRequest, OffsetCommitResponse,
    OffsetFetchRequest, SyncGroupRequest,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};

use crate::support::{RawClient, topic_name};

pub const NONE: i16 = 0;
pub const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
pub const OFFSET_METADATA_TOO_LARGE: i16 = 12;
pub const COORDINATOR_NOT_AVAILABLE: i16 = 15;
pub const ILLEGAL_GENERATION: i16 = 22;
pub const INCONSISTENT_GROUP_PROTOCOL: i16 = 23;
pub const INVALID_GROUP_ID: i16 = 24;
pub const UNKNOWN_MEMBER_ID: i16 = 25;
pub const INVALID_SESSION_TIMEOUT: i16 = 26;
pub const REBALANCE_IN_PROGRESS: i16 = 27;
pub const NON_EMPTY_GROUP: i16 = 68;
pub const GROUP_ID_NOT_FOUND: i16 = 69;
pub const MEMBER_ID_REQUIRED: i16 = 79;
pub const FENCED_INSTANCE_ID: i16 = 82;
pub const GROUP_SUBSCRIBED_TO_TOPIC: i16 = 86;

pub fn s(value: &str) -> StrBytes {
    StrBytes::from_string(value.to_string())
}

pub fn group(id: &str) -> GroupId {
    GroupId(s(id))
}

/// A standard consumer subscription (version prefix + ConsumerProtocolSubscription v1).
pub fn subscription(topics: &[&str]) -> Bytes {
    let mut buf = BytesMut::new();
    buf.extend_from_slice(&1i16.to_be_bytes());
    ConsumerProtocolSubscription::default()
        .with_topics(topics.iter().map(|t| s(t)).collect())
        .encode(&mut buf, 1)
        .expect("subscription encodes");
    buf.freeze()
}

/// A standard consumer assignment of `partitions` of `topic`.
pub fn assignment(topic: &str, partitions: &[i32]) -> Bytes {
    let mut buf = BytesMut::new();
    buf.extend_from_slice(&1i16.to_be_bytes());
    let mut assigned = AssignedPartitions::default();
    assigned.topic = topic_name(topic);
    assigned.partitions = partitions.to_vec();
    ConsumerProtocolAssignment::default()
        .with_assigned_partitions(vec![assigned])
        .encode(&mut buf, 1)
        .expect("assignment encodes");
    buf.freeze()
}

/// The partitions an assignment from [`assignment`] hands out.
pub fn assigned_partitions(mut bytes: Bytes) -> Vec<i32> {
    if bytes.is_empty() {
        return Vec::new();
    }
    let version = i16::from_be_bytes([bytes[0], bytes[1]]);
    let _ = bytes.split_to(2);
    let decoded =
        ConsumerProtocolAssignment::decode(&mut bytes, version).expect("assignment decodes");
    decoded
        .assigned_partitions
        .into_iter()
        .flat_map(|t| t.partitions)
        .collect()
}

pub fn join_request(
    group_id: &str,
    member_id: &str,
    version: i16,
    topics: &[&str],
) -> JoinGroupRequest {
    let mut protocol = JoinGroupRequestProtocol::default();
    protocol.name = s("range");
    protocol.metadata = subscription(topics);
    let mut request = JoinGroupRequest::default();
    request.group_id = group(group_id);
    request.session_timeout_ms = 10_000;
    if version >= 1 {
        request.rebalance_timeout_ms = 20_000;
    }
    request.member_id = s(member_id);
    request.protocol_type = s("consumer");
    request.protocols = vec![protocol];
    request
}

/// Joins as a new member, doing the MEMBER_ID_REQUIRED round trip on v4+. Returns the
/// response to the real join (which waits for the join phase to complete).
pub async fn join_new(
    client: &mut RawClient,
    group_id: &str,
    version: i16,
    topics: &[&str],
) -> JoinGroupResponse {
    let mut request = join_request(group_id, "", version, topics);
    if version >= 4 {
        let first = client.call(version, &request).await;
        assert_eq!(
            first.error_code, MEMBER_ID_REQUIRED,
            "JoinGroup v{version} first join"
        );
        assert!(!first.member_id.is_empty());
        request.member_id = first.member_id;
    }
    client.call(version, &request).await
}

pub fn sync_request(
    group_id: &str,
    member_id: &str,
    generation: i32,
    assignments: &[(&str, Bytes)],
) -> SyncGroupRequest {
    let mut request = SyncGroupRequest::default();
    request.group_id = group(group_id);
    request.member_id = s(member_id);
    request.generation_id = generation;
    request.assignments = assignments
        .iter()
        .map(|(m, a)| {
            let mut assignment = SyncGroupRequestAssignment::default();
            assignment.member_id = s(m);
            assignment.assignment = a.clone();
            assignment
        })
        .collect();
    request
}

pub async fn heartbeat(
    client: &mut RawClient,
    group_id: &str,
    member_id: &str,
    generation: i32,
) -> i16 {
    let mut request = HeartbeatRequest::default();
    request.group_id = group(group_id);
    request.member_id = s(member_id);
    request.generation_id = generation;
    client.call(4, &request).await.error_code
}

pub fn commit_request(
    group_id: &str,
    generation: i32,
    member_id: &str,
    offsets: &[(&str, i32, i64, &str)],
) -> OffsetCommitRequest {
    let mut request = OffsetCommitRequest::default();
    request.group_id = group(group_id);
    request.generation_id_or_member_epoch = generation;
    request.member_id = s(member_id);
    for (topic, partition, offset, metadata) in offsets {
        let mut p = OffsetCommitRequestPartition::default();
        p.partition_index = *partition;
        p.committed_offset = *offset;
        p.committed_metadata = Some(s(metadata));
        match request
            .topics
            .iter_mut()
            .find(|t| t.name.0.as_str() == *topic)
        {
            Some(t) => t.partitions.push(p),
            None => {
                let mut t = OffsetCommitRequestTopic::default();
                t.name = topic_name(topic);
                t.partitions.push(p);
                request.topics.push(t);
            }
        }
    }
    request
}

/// Error codes of a commit response, flattened in request order.
pub fn commit_codes(response: &OffsetCommitResponse) -> Vec<i16> {
    response
        .topics
        .iter()
        .flat_map(|t| t.partitions.iter().map(|p| p.error_code))
        .collect()
}

/// (offset, metadata, error) per requested partition, via OffsetFetch v7.
pub async fn fetch_offsets(
    client: &mut RawClient,
    group_id: &str,
    topic: &str,
    partitions: &[i32],
) -> Vec<(i64, String, i16)> {
    let mut t = OffsetFetchRequestTopic::default();
    t.name = topic_name(topic);
    t.partition_indexes = partitions.to_vec();
    let mut request = OffsetFetchRequest::default();
    request.group_id = group(group_id);
    request.topics = Some(vec![t]);
    let response = client.call(7, &request).await;
    assert_eq!(response.error_code, NONE, "OffsetFetch group error");
    response.topics[0]
        .partitions
        .iter()
        .map(|p| {
            (
                p.committed_offset,
                p.metadata
                    .as_ref()
                    .map(|m| m.to_string())
                    .unwrap_or_default(),
                p.error_code,
            )
        })
        .collect()
}
