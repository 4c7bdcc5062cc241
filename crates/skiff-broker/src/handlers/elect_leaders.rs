//! ElectLeaders (KIP-460). A Skiff partition has no replicas to choose between: its leader is
//! whichever live broker rendezvous hashing picks, which is by construction the preferred one,
//! and any broker can take over at once because the data is in the object store. So every
//! election is "not needed" while a broker is live, and impossible while none is; nothing is
//! ever changed. Tools that rebalance leadership (`kafka-leader-election`) therefore succeed
//! without moving anything, as they do on a Kafka cluster that is already balanced.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::elect_leaders_response::{PartitionResult, ReplicaElectionResult};
use kafka_protocol::messages::{ElectLeadersRequest, ElectLeadersResponse};
use skiff_meta::ControllerState;

use super::{str_bytes, topic_with_partition};
use crate::context::BrokerContext;
use crate::security::authorizer::Caller;
use skiff_meta::acl::AclOperation;

pub fn handle(
    ctx: &BrokerContext,
    caller: &Caller,
    request: &ElectLeadersRequest,
    _version: i16,
) -> ElectLeadersResponse {
    if !ctx.authorizer.allows_cluster(caller, AclOperation::Alter) {
        return ElectLeadersResponse::default().with_error_code(
            kafka_protocol::error::ResponseError::ClusterAuthorizationFailed.code(),
        );
    }
    let state = ctx.controller.state();
    let state = state.read();
    let mut response = ElectLeadersResponse::default();
    // A null list asks for every partition; Kafka then lists only the partitions it elected
    // a leader for, which in Skiff is none.
    let Some(requested) = &request.topic_partitions else {
        return response;
    };
    response.replica_election_results = requested
        .iter()
        .map(|t| {
            let mut result = ReplicaElectionResult::default();
            result.topic = t.topic.clone();
            result.partition_result = t
                .partitions
                .iter()
                .map(|p| partition_result(&state, t.topic.as_str(), *p))
                .collect();
            result
        })
        .collect();
    response
}

fn partition_result(state: &ControllerState, topic: &str, partition: i32) -> PartitionResult {
    let mut result = PartitionResult::default();
    result.partition_id = partition;
    let (code, message) = match topic_with_partition(state, topic, partition).map(|_| ()) {
        Err(code) => (code, format!("{topic}-{partition} does not exist")),
        Ok(()) if state.live_brokers().next().is_none() => (
            ResponseError::EligibleLeadersNotAvailable.code(),
            "no broker is live to lead the partition".to_string(),
        ),
        Ok(()) => (
            ResponseError::ElectionNotNeeded.code(),
            "the partition is led by its preferred broker: Skiff places leaders by hashing over the live brokers".to_string(),
        ),
    };
    result.error_code = code;
    result.error_message = Some(str_bytes(&message));
    result
}
