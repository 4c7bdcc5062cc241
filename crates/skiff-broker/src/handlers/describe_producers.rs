//! DescribeProducers (KIP-664): the idempotent producers a partition remembers, with their
//! epoch and last sequence, as `kafka-transactions describe-producers` shows them. Skiff keeps
//! this state in the controller, so any broker answers for any partition. A transactional
//! producer with a transaction open on the partition shows its first offset there
//! (`current_txn_start_offset`, coordinator epoch 0: Skiff's coordinator never changes epoch);
//! others show -1. `last_timestamp` is when the producer's last batch was appended (the
//! controller's command time), which is what Skiff records.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::describe_producers_response::{
    PartitionResponse, ProducerState, TopicResponse,
};
use kafka_protocol::messages::{DescribeProducersRequest, DescribeProducersResponse, ProducerId};
use skiff_meta::{ControllerState, Topic, TxnStatus};

use super::str_bytes;
use crate::context::BrokerContext;
use crate::kafka_error::lookup_error_code;
use crate::security::authorizer::Caller;
use crate::topics::TopicLookup;
use skiff_meta::acl::AclOperation;

pub fn handle(
    ctx: &BrokerContext,
    caller: &Caller,
    request: &DescribeProducersRequest,
    _version: i16,
) -> DescribeProducersResponse {
    let state = ctx.controller.state();
    let state = state.read();
    let mut response = DescribeProducersResponse::default();
    response.topics = request
        .topics
        .iter()
        .map(|t| {
            let topic = if ctx
                .authorizer
                .allows_topic(caller, AclOperation::Read, t.name.as_str())
            {
                TopicLookup::Name(t.name.as_str())
                    .resolve(&state)
                    .map_err(lookup_error_code)
            } else {
                Err(kafka_protocol::error::ResponseError::TopicAuthorizationFailed.code())
            };
            let mut result = TopicResponse::default();
            result.name = t.name.clone();
            result.partitions = t
                .partition_indexes
                .iter()
                .map(|p| partition_response(&state, topic, *p))
                .collect();
            result
        })
        .collect();
    response
}

fn partition_response(
    state: &ControllerState,
    topic: Result<&Topic, i16>,
    partition: i32,
) -> PartitionResponse {
    let mut result = PartitionResponse::default();
    result.partition_index = partition;
    let log = topic.and_then(|t| {
        usize::try_from(partition)
            .ok()
            .and_then(|p| t.partitions.get(p))
            .ok_or(ResponseError::UnknownTopicOrPartition.code())
    });
    match log {
        Err(code) => {
            result.error_code = code;
            result.error_message = Some(str_bytes("unknown topic or partition"));
        }
        Ok(log) => {
            let at = topic
                .ok()
                .zip(u32::try_from(partition).ok())
                .map(|(t, p)| (t.id, p));
            result.active_producers = log
                .producers()
                .map(|(id, producer)| {
                    let mut entry = ProducerState::default();
                    entry.producer_id = ProducerId(id);
                    entry.producer_epoch = i32::from(producer.epoch());
                    entry.last_sequence = producer.last_sequence();
                    entry.last_timestamp = producer.last_update_ms();
                    let open = at.and_then(|at| open_transaction_start(state, id, at));
                    entry.coordinator_epoch = if open.is_some() { 0 } else { -1 };
                    entry.current_txn_start_offset = open.unwrap_or(-1);
                    entry
                })
                .collect();
        }
    }
    result
}

/// The first offset the producer's open transaction wrote on the partition, if any.
fn open_transaction_start(
    state: &ControllerState,
    producer_id: i64,
    at: (skiff_meta::TopicId, u32),
) -> Option<i64> {
    let txns = state.txns();
    let txn = txns.get(txns.transactional_id_of(producer_id)?)?;
    if txn.status() != TxnStatus::Ongoing {
        return None;
    }
    txn.partitions()
        .find(|(partition, _)| *partition == at)
        .and_then(|(_, first)| first)
}
