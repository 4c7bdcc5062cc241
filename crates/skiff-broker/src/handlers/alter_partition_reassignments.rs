//! AlterPartitionReassignments (KIP-455). A Skiff partition has no replicas to move: its data
//! is in the object store and its leader is whichever live broker hashing picks, so moving
//! load means adding or removing brokers, not reassigning partitions. Each partition asked to
//! move is refused with INVALID_REPLICA_ASSIGNMENT and a message that says so; cancelling
//! (no replica list) gets NO_REASSIGNMENT_IN_PROGRESS, as Kafka answers when none runs. Nothing
//! changes either way.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::alter_partition_reassignments_response::{
    ReassignablePartitionResponse, ReassignableTopicResponse,
};
use kafka_protocol::messages::{
    AlterPartitionReassignmentsRequest, AlterPartitionReassignmentsResponse,
};
use skiff_meta::ControllerState;

use super::{str_bytes, topic_with_partition};
use crate::context::BrokerContext;
use crate::security::authorizer::Caller;
use skiff_meta::acl::AclOperation;

const CANNOT_MOVE: &str = "Skiff partitions have no replicas to move: the data is in the object store and any live broker can lead a partition; add or remove brokers to move load";

pub fn handle(
    ctx: &BrokerContext,
    caller: &Caller,
    request: &AlterPartitionReassignmentsRequest,
    _version: i16,
) -> AlterPartitionReassignmentsResponse {
    if !ctx.authorizer.allows_cluster(caller, AclOperation::Alter) {
        return AlterPartitionReassignmentsResponse::default().with_error_code(
            kafka_protocol::error::ResponseError::ClusterAuthorizationFailed.code(),
        );
    }
    let state = ctx.controller.state();
    let state = state.read();
    let mut response = AlterPartitionReassignmentsResponse::default();
    response.allow_replication_factor_change = request.allow_replication_factor_change;
    response.responses = request
        .topics
        .iter()
        .map(|t| {
            let mut result = ReassignableTopicResponse::default();
            result.name = t.name.clone();
            result.partitions = t
                .partitions
                .iter()
                .map(|p| {
                    partition_result(
                        &state,
                        t.name.as_str(),
                        p.partition_index,
                        p.replicas.is_some(),
                    )
                })
                .collect();
            result
        })
        .collect();
    response
}

fn partition_result(
    state: &ControllerState,
    topic: &str,
    partition: i32,
    moving: bool,
) -> ReassignablePartitionResponse {
    let mut result = ReassignablePartitionResponse::default();
    result.partition_index = partition;
    let (code, message) = match topic_with_partition(state, topic, partition).map(|_| ()) {
        Err(code) => (code, format!("{topic}-{partition} does not exist")),
        Ok(()) if moving => (
            ResponseError::InvalidReplicaAssignment.code(),
            CANNOT_MOVE.to_string(),
        ),
        Ok(()) => (
            ResponseError::NoReassignmentInProgress.code(),
            format!("no reassignment of {topic}-{partition} is in progress"),
        ),
    };
    result.error_code = code;
    result.error_message = Some(str_bytes(&message));
    result
}
