//! DescribeLogDirs: how many bytes each partition keeps. Skiff has one "log directory", the
//! object store; like a Kafka broker reporting its own replicas, a broker reports the
//! partitions it leads, so asking every broker covers each partition once.
//!
//! From v2 (a flexible version) each partition also carries, in tagged field
//! [`OBJECT_COUNT_TAG`], the number of objects its index entries point into, an unsigned
//! varint; clients that do not know the tag skip it, as the protocol requires. A partition of
//! a topic that archives (or did) carries its archive's progress too, for `skiff archive
//! status`: [`ARCHIVED_OFFSET_TAG`] (the first offset not archived, an unsigned varint),
//! [`ARCHIVE_METADATA_TAG`] (the table's current metadata location, UTF-8) and
//! [`ARCHIVE_COMMITTED_MS_TAG`] (the controller's clock at the last archive commit).

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::describe_log_dirs_response::{
    DescribeLogDirsPartition, DescribeLogDirsResult, DescribeLogDirsTopic,
};
use kafka_protocol::messages::{DescribeLogDirsRequest, DescribeLogDirsResponse};
use skiff_meta::placement::partition_leader;
use skiff_meta::{BrokerInfo, PartitionLog, Topic};

use super::{str_bytes, topic_name};
use crate::context::BrokerContext;
use crate::security::authorizer::Caller;
use skiff_meta::acl::AclOperation;

/// The tagged field of a DescribeLogDirs partition that holds Skiff's object count.
pub const OBJECT_COUNT_TAG: i32 = 0x5c1f;
/// Tagged field: the partition's first offset not archived yet (archiving topics only).
pub const ARCHIVED_OFFSET_TAG: i32 = 0x5c20;
/// Tagged field: the topic's Iceberg metadata location (once archived).
pub const ARCHIVE_METADATA_TAG: i32 = 0x5c21;
/// Tagged field: milliseconds since the epoch of the topic's last archive commit (once archived).
pub const ARCHIVE_COMMITTED_MS_TAG: i32 = 0x5c22;

pub fn handle(
    ctx: &BrokerContext,
    caller: &Caller,
    request: DescribeLogDirsRequest,
    version: i16,
) -> DescribeLogDirsResponse {
    if !ctx
        .authorizer
        .allows_cluster(caller, AclOperation::Describe)
    {
        return DescribeLogDirsResponse::default().with_error_code(
            kafka_protocol::error::ResponseError::ClusterAuthorizationFailed.code(),
        );
    }
    let state = ctx.controller.state();
    let state = state.read();
    let brokers: Vec<BrokerInfo> = state.live_brokers().cloned().collect();
    let me = ctx.config.broker_id;
    let mut topics = Vec::new();
    let mut add = |topic: &Topic, wanted: Option<&[i32]>| {
        let mut entry = DescribeLogDirsTopic::default();
        entry.name = topic_name(&topic.name);
        for (index, log) in (0u32..).zip(&topic.partitions) {
            let Ok(partition) = i32::try_from(index) else {
                break;
            };
            if wanted.is_some_and(|w| !w.contains(&partition))
                || partition_leader(&topic.id, index, &brokers) != Some(me)
            {
                continue;
            }
            let mut partition_entry = partition_entry(partition, log, version);
            if version >= 2 {
                add_archive_tags(&state, topic, index, &mut partition_entry);
            }
            entry.partitions.push(partition_entry);
        }
        if !entry.partitions.is_empty() {
            topics.push(entry);
        }
    };
    match &request.topics {
        None => state.topics().for_each(|t| add(t, None)),
        Some(requested) => {
            for t in requested {
                // Unknown topics are left out, as Kafka leaves out replicas it does not host.
                if let Some(topic) = state.topic_by_name(t.topic.as_str()) {
                    add(topic, Some(&t.partitions));
                }
            }
        }
    }
    let mut dir = DescribeLogDirsResult::default();
    dir.log_dir = str_bytes(&ctx.chunks.store_description());
    dir.topics = topics;
    // The store's capacity is not known (and, for S3, unbounded).
    dir.total_bytes = -1;
    dir.usable_bytes = -1;
    let mut response = DescribeLogDirsResponse::default();
    response.results = vec![dir];
    response
}

fn partition_entry(partition: i32, log: &PartitionLog, version: i16) -> DescribeLogDirsPartition {
    let mut entry = DescribeLogDirsPartition::default();
    entry.partition_index = partition;
    entry.partition_size = i64::try_from(log.size_bytes()).unwrap_or(i64::MAX);
    entry.offset_lag = 0;
    if version >= 2 {
        entry
            .unknown_tagged_fields
            .insert(OBJECT_COUNT_TAG, unsigned_varint(object_count(log)));
    }
    entry
}

/// The archive's progress on one partition, when the topic archives or has an archive.
fn add_archive_tags(
    state: &skiff_meta::ControllerState,
    topic: &Topic,
    partition: u32,
    entry: &mut DescribeLogDirsPartition,
) {
    let at = skiff_meta::PartitionRef {
        topic_id: topic.id,
        partition,
    };
    let progress = state.archive_progress(&topic.id);
    let next = match (state.archive_hold(at), progress) {
        (Some(hold), _) => hold,
        (None, Some(progress)) => progress.next_offset(partition),
        (None, None) => return,
    };
    let tags = &mut entry.unknown_tagged_fields;
    tags.insert(
        ARCHIVED_OFFSET_TAG,
        unsigned_varint(u64::try_from(next).unwrap_or(0)),
    );
    if let Some(progress) = progress {
        tags.insert(
            ARCHIVE_METADATA_TAG,
            Bytes::from(progress.metadata_location.clone()),
        );
        tags.insert(
            ARCHIVE_COMMITTED_MS_TAG,
            unsigned_varint(u64::try_from(progress.last_commit_ms).unwrap_or(0)),
        );
    }
}

/// Distinct objects the partition's entries point into.
fn object_count(log: &PartitionLog) -> u64 {
    let mut ids: Vec<u64> = log
        .entries()
        .filter(|e| !e.is_marker())
        .map(|e| e.object_id)
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids.len() as u64
}

fn unsigned_varint(mut value: u64) -> Bytes {
    let mut out = BytesMut::with_capacity(10);
    while value >= 0x80 {
        out.put_u8((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    out.put_u8(value as u8);
    out.freeze()
}

#[cfg(test)]
mod tests {
    use super::unsigned_varint;

    #[test]
    fn varints_are_seven_bits_a_byte_low_first() {
        assert_eq!(&unsigned_varint(0)[..], &[0]);
        assert_eq!(&unsigned_varint(127)[..], &[127]);
        assert_eq!(&unsigned_varint(300)[..], &[0xac, 0x02]);
    }
}
