use kafka_protocol::messages::offset_delete_response::{
    OffsetDeleteResponsePartition, OffsetDeleteResponseTopic,
};
use kafka_protocol::messages::{OffsetDeleteRequest, OffsetDeleteResponse};

use super::group_common::{authorize_group, check_group, error_code, result_code};
use crate::context::BrokerContext;
use crate::groups::{CoordinatorError, TopicPartitions};
use crate::security::authorizer::Caller;
use crate::topics::TopicLookup;
use skiff_meta::acl::AclOperation;

/// Deletes committed offsets, except for topics a live member is still subscribed to.
pub async fn handle(
    ctx: &BrokerContext,
    caller: &Caller,
    request: OffsetDeleteRequest,
    _version: i16,
) -> OffsetDeleteResponse {
    let mut response = OffsetDeleteResponse::default();
    let group_id = request.group_id.0.as_str();
    if let Err(error) = authorize_group(ctx, caller, AclOperation::Delete, group_id)
        .and_then(|()| check_group(ctx, group_id, false))
    {
        response.error_code = error_code(error);
        return response;
    }
    // Kafka also needs READ on each topic whose offsets are deleted.
    let refused: Vec<bool> = request
        .topics
        .iter()
        .map(|t| {
            !ctx.authorizer
                .allows_topic(caller, AclOperation::Read, t.name.0.as_str())
        })
        .collect();
    // Per request topic: the resolved topic, or None when unknown or refused.
    let mut resolved: Vec<Option<TopicPartitions>> = Vec::with_capacity(request.topics.len());
    {
        let state = ctx.controller.state();
        let state = state.read();
        for (t, refused) in request.topics.iter().zip(&refused) {
            let topic = TopicLookup::Name(t.name.0.as_str())
                .resolve(&state)
                .ok()
                .filter(|_| !refused);
            resolved.push(topic.map(|topic| {
                TopicPartitions {
                    name: topic.name.clone(),
                    id: topic.id,
                    partitions: t
                        .partitions
                        .iter()
                        .filter_map(|p| u32::try_from(p.partition_index).ok())
                        .filter(|p| usize::try_from(*p).is_ok_and(|i| i < topic.partitions.len()))
                        .collect(),
                }
            }));
        }
    }
    let known: Vec<TopicPartitions> = resolved.iter().flatten().cloned().collect();
    let outcomes = match ctx.groups.delete_offsets(group_id, &known).await {
        Ok(outcomes) => outcomes,
        Err(error) => {
            response.error_code = error_code(error);
            return response;
        }
    };
    let mut outcomes = outcomes.into_iter();
    response.topics = request
        .topics
        .iter()
        .zip(&resolved)
        .zip(&refused)
        .map(|((t, found), refused)| {
            let topic_outcome = found.as_ref().and_then(|_| outcomes.next());
            let mut topic = OffsetDeleteResponseTopic::default();
            topic.name = t.name.clone();
            topic.partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let exists = found.as_ref().is_some_and(|f| {
                        u32::try_from(p.partition_index).is_ok_and(|i| f.partitions.contains(&i))
                    });
                    let mut partition = OffsetDeleteResponsePartition::default();
                    partition.partition_index = p.partition_index;
                    partition.error_code = match (&topic_outcome, exists) {
                        _ if *refused => error_code(CoordinatorError::TopicAuthorizationFailed),
                        (Some(outcome), true) => result_code(outcome),
                        _ => error_code(CoordinatorError::UnknownTopicOrPartition),
                    };
                    partition
                })
                .collect();
            topic
        })
        .collect();
    response
}
