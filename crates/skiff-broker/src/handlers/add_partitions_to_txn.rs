use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::add_partitions_to_txn_response::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnTopicResult,
};
use kafka_protocol::messages::{AddPartitionsToTxnRequest, AddPartitionsToTxnResponse};
use skiff_meta::{AddPartitionsToTxn, Propose, TopicId, TxnError};

use super::txn_common::{PRODUCER_FENCED_VERSION, may_write, producer};
use crate::clock::now_ms;
use crate::context::BrokerContext;
use crate::kafka_error::{NONE, propose_error_code, txn_error_code};
use crate::security::authorizer::Caller;
use crate::topics::TopicLookup;
use skiff_meta::acl::AclOperation;

/// One partition of the request: where it goes in the answer, and what is known before
/// proposing (its topic id, or the code it already failed with).
struct Item {
    topic: usize,
    partition: i32,
    resolved: Result<(TopicId, u32), i16>,
}

/// The client form (v0-3): one transaction, all of its partitions added in one proposal or
/// none. As in Kafka, when some partitions fail on their own (unknown, unauthorized), the
/// others are answered OPERATION_NOT_ATTEMPTED.
pub async fn handle(
    ctx: &BrokerContext,
    caller: &Caller,
    request: AddPartitionsToTxnRequest,
    version: i16,
) -> AddPartitionsToTxnResponse {
    let transactional_id = request.v3_and_below_transactional_id.0.as_str();
    let mut results: Vec<AddPartitionsToTxnTopicResult> = Vec::new();
    let mut items: Vec<Item> = Vec::new();
    let authorized = may_write(ctx, caller, transactional_id);
    {
        let state = ctx.controller.state();
        let state = state.read();
        for topic in &request.v3_and_below_topics {
            let at = results.len();
            let mut result = AddPartitionsToTxnTopicResult::default();
            result.name = topic.name.clone();
            results.push(result);
            let name = topic.name.0.as_str();
            let may_write_topic = ctx
                .authorizer
                .allows_topic(caller, AclOperation::Write, name);
            let found = TopicLookup::Name(name).resolve(&state).ok();
            for &partition in &topic.partitions {
                let resolved = if !authorized {
                    Err(ResponseError::TransactionalIdAuthorizationFailed.code())
                } else if !may_write_topic {
                    Err(ResponseError::TopicAuthorizationFailed.code())
                } else {
                    found
                        .and_then(|t| {
                            let p = u32::try_from(partition).ok()?;
                            ((p as usize) < t.partitions.len()).then_some((t.id, p))
                        })
                        .ok_or(ResponseError::UnknownTopicOrPartition.code())
                };
                items.push(Item {
                    topic: at,
                    partition,
                    resolved,
                });
            }
        }
    }
    let codes: Vec<i16> = if items.iter().any(|i| i.resolved.is_err()) {
        let skipped = ResponseError::OperationNotAttempted.code();
        items
            .iter()
            .map(|i| i.resolved.err().unwrap_or(skipped))
            .collect()
    } else {
        let add = AddPartitionsToTxn {
            producer: producer(
                transactional_id,
                request.v3_and_below_producer_id.0,
                request.v3_and_below_producer_epoch,
            ),
            partitions: items.iter().filter_map(|i| i.resolved.ok()).collect(),
            now_ms: now_ms(),
        };
        match ctx.controller.propose(add).await {
            Ok(Ok(())) => vec![NONE; items.len()],
            Ok(Err(TxnError::UnknownTopicOrPartition(unknown))) => {
                // Deleted between the lookup and the apply.
                let skipped = ResponseError::OperationNotAttempted.code();
                let missing = ResponseError::UnknownTopicOrPartition.code();
                items
                    .iter()
                    .map(|i| match i.resolved {
                        Ok(at) if unknown.contains(&at) => missing,
                        _ => skipped,
                    })
                    .collect()
            }
            Ok(Err(e)) => {
                let code = txn_error_code(&e, version < PRODUCER_FENCED_VERSION);
                vec![code; items.len()]
            }
            Err(e) => vec![propose_error_code(&e); items.len()],
        }
    };
    for (item, code) in items.iter().zip(codes) {
        let mut p = AddPartitionsToTxnPartitionResult::default();
        p.partition_index = item.partition;
        p.partition_error_code = code;
        results[item.topic].results_by_partition.push(p);
    }
    let mut response = AddPartitionsToTxnResponse::default();
    response.results_by_topic_v3_and_below = results;
    response
}
