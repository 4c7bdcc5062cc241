use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::txn_offset_commit_response::{
    TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};
use kafka_protocol::messages::{TxnOffsetCommitRequest, TxnOffsetCommitResponse};
use skiff_meta::{GroupOffsets, PartitionOffset, Propose, TxnOffsetCommit};

use super::group_common::{authorize_group, check_group, error_code};
use super::txn_common::{may_write, producer};
use crate::clock::now_ms;
use crate::context::BrokerContext;
use crate::kafka_error::{NONE, propose_error_code, txn_error_code};
use crate::security::authorizer::Caller;
use crate::topics::TopicLookup;
use skiff_meta::acl::AclOperation;

/// Offsets a transaction will commit for a group, sent to the group's coordinator: checked
/// against the group's members and generation (KIP-447, v3+), then held in the transaction by
/// the controller and applied to the group only if the transaction commits.
pub async fn handle(
    ctx: &BrokerContext,
    caller: &Caller,
    request: TxnOffsetCommitRequest,
    _version: i16,
) -> TxnOffsetCommitResponse {
    let transactional_id = request.transactional_id.0.as_str();
    let group_id = request.group_id.0.as_str();
    let request_denied = if !may_write(ctx, caller, transactional_id) {
        Some(ResponseError::TransactionalIdAuthorizationFailed.code())
    } else {
        authorize_group(ctx, caller, AclOperation::Read, group_id)
            .err()
            .map(error_code)
    };
    let max_metadata = ctx.config.offset_metadata_max_bytes;
    // (topic index, partition index) of each partition committed.
    let mut positions: Vec<(usize, usize)> = Vec::new();
    let mut to_commit: Vec<PartitionOffset> = Vec::new();
    let mut topics: Vec<TxnOffsetCommitResponseTopic> = Vec::with_capacity(request.topics.len());
    {
        let state = ctx.controller.state();
        let state = state.read();
        for (ti, t) in request.topics.iter().enumerate() {
            let name = t.name.0.as_str();
            let resolved = TopicLookup::Name(name).resolve(&state).ok();
            let topic_denied = request_denied.or_else(|| {
                (!ctx
                    .authorizer
                    .allows_topic(caller, AclOperation::Read, name))
                .then_some(ResponseError::TopicAuthorizationFailed.code())
            });
            let mut topic = TxnOffsetCommitResponseTopic::default();
            topic.name = t.name.clone();
            for (pi, p) in t.partitions.iter().enumerate() {
                let mut partition = TxnOffsetCommitResponsePartition::default();
                partition.partition_index = p.partition_index;
                let known = resolved.filter(|topic| {
                    usize::try_from(p.partition_index).is_ok_and(|i| i < topic.partitions.len())
                });
                let metadata = p.committed_metadata.as_deref().unwrap_or_default();
                partition.error_code = match (topic_denied, known) {
                    (Some(code), _) => code,
                    (None, None) => ResponseError::UnknownTopicOrPartition.code(),
                    (None, Some(_)) if metadata.len() > max_metadata => {
                        ResponseError::OffsetMetadataTooLarge.code()
                    }
                    (None, Some(found)) => {
                        positions.push((ti, pi));
                        to_commit.push(PartitionOffset {
                            topic_id: found.id,
                            partition: u32::try_from(p.partition_index).unwrap_or_default(),
                            offset: p.committed_offset,
                            leader_epoch: p.committed_leader_epoch,
                            metadata: metadata.to_string(),
                        });
                        NONE
                    }
                };
                topic.partitions.push(partition);
            }
            topics.push(topic);
        }
    }
    if !to_commit.is_empty() {
        let code = commit(ctx, &request, to_commit).await;
        for (ti, pi) in positions {
            if let Some(p) = topics.get_mut(ti).and_then(|t| t.partitions.get_mut(pi)) {
                p.error_code = code;
            }
        }
    }
    let mut response = TxnOffsetCommitResponse::default();
    response.topics = topics;
    response
}

/// The group checks, then one proposal; one code for every partition.
async fn commit(
    ctx: &BrokerContext,
    request: &TxnOffsetCommitRequest,
    partitions: Vec<PartitionOffset>,
) -> i16 {
    let group_id = request.group_id.0.as_str();
    let checked = check_group(ctx, group_id, false).and_then(|()| {
        ctx.groups.check_txn_offset_commit(
            group_id,
            request.member_id.as_str(),
            request.group_instance_id.as_deref(),
            request.generation_id,
        )
    });
    if let Err(e) = checked {
        return error_code(e);
    }
    let commit = TxnOffsetCommit {
        producer: producer(
            request.transactional_id.0.as_str(),
            request.producer_id.0,
            request.producer_epoch,
        ),
        offsets: GroupOffsets {
            group_id: group_id.to_string(),
            commit_time_ms: now_ms(),
            partitions,
        },
    };
    match ctx.controller.propose(commit).await {
        Ok(Ok(())) => NONE,
        // Kafka's group coordinator learns of a fence from the offsets log's producer state,
        // as INVALID_PRODUCER_EPOCH, at every version; clients treat it as fenced.
        Ok(Err(e)) => txn_error_code(&e, true),
        Err(e) => propose_error_code(&e),
    }
}
