use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::{OffsetCommitRequest, OffsetCommitResponse};
use skiff_meta::PartitionOffset;

use super::group_common::{authorize_group, check_group, error_code, result_code};
use crate::context::BrokerContext;
use crate::groups::CoordinatorError;
use crate::security::authorizer::Caller;
use crate::topics::TopicLookup;
use skiff_meta::acl::AclOperation;

/// Commits are answered only after the controller applied them. Unknown topics and
/// partitions fail on their own; a group-level problem (stale generation, unknown member,
/// rebalance) fails every other partition with the same code, as Kafka does.
pub async fn handle(
    ctx: &BrokerContext,
    caller: &Caller,
    request: OffsetCommitRequest,
    version: i16,
) -> OffsetCommitResponse {
    let group_id = request.group_id.0.as_str();
    // Kafka needs READ on the group (else every partition fails) and READ on each topic.
    let group_denied = authorize_group(ctx, caller, AclOperation::Read, group_id).err();
    // (topic index, partition index) of each partition sent to the coordinator.
    let mut positions: Vec<(usize, usize)> = Vec::new();
    let mut to_commit: Vec<PartitionOffset> = Vec::new();
    let mut topics: Vec<OffsetCommitResponseTopic> = Vec::with_capacity(request.topics.len());
    {
        let state = ctx.controller.state();
        let state = state.read();
        for (ti, t) in request.topics.iter().enumerate() {
            let resolved = TopicLookup::Name(t.name.0.as_str()).resolve(&state).ok();
            let topic_denied = group_denied.or_else(|| {
                (!ctx
                    .authorizer
                    .allows_topic(caller, AclOperation::Read, t.name.0.as_str()))
                .then_some(CoordinatorError::TopicAuthorizationFailed)
            });
            let mut topic = OffsetCommitResponseTopic::default();
            topic.name = t.name.clone();
            for (pi, p) in t.partitions.iter().enumerate() {
                let mut partition = OffsetCommitResponsePartition::default();
                partition.partition_index = p.partition_index;
                let known = resolved.filter(|topic| {
                    usize::try_from(p.partition_index).is_ok_and(|i| i < topic.partitions.len())
                });
                match known {
                    _ if topic_denied.is_some() => {
                        partition.error_code = topic_denied.map(error_code).unwrap_or_default()
                    }
                    None => {
                        partition.error_code = error_code(CoordinatorError::UnknownTopicOrPartition)
                    }
                    Some(found) => {
                        positions.push((ti, pi));
                        to_commit.push(PartitionOffset {
                            topic_id: found.id,
                            partition: u32::try_from(p.partition_index).unwrap_or_default(),
                            offset: p.committed_offset,
                            leader_epoch: if version >= 6 {
                                p.committed_leader_epoch
                            } else {
                                -1
                            },
                            metadata: p
                                .committed_metadata
                                .as_ref()
                                .map(|m| m.to_string())
                                .unwrap_or_default(),
                        });
                    }
                }
                topic.partitions.push(partition);
            }
            topics.push(topic);
        }
    }
    if !to_commit.is_empty() {
        let outcome = match check_group(ctx, group_id, false) {
            Err(error) => Err(error),
            Ok(()) => {
                ctx.groups
                    .commit_offsets(
                        group_id,
                        request.member_id.as_str(),
                        request.group_instance_id.as_deref(),
                        request.generation_id_or_member_epoch,
                        version,
                        to_commit,
                    )
                    .await
            }
        };
        let codes: Vec<i16> = match outcome {
            Err(error) => vec![error_code(error); positions.len()],
            Ok(results) => results.iter().map(result_code).collect(),
        };
        for ((ti, pi), code) in positions.into_iter().zip(codes) {
            if let Some(p) = topics.get_mut(ti).and_then(|t| t.partitions.get_mut(pi)) {
                p.error_code = code;
            }
        }
    }
    let mut response = OffsetCommitResponse::default();
    response.topics = topics;
    response
}
