//! ListPartitionReassignments (KIP-455). Skiff never moves replicas (a partition's data is in
//! the object store and any live broker can lead it), so no reassignment is ever in progress:
//! the answer lists none, as Kafka's does for a cluster at rest. Tools that draw a cluster
//! (`kafka-reassign-partitions --list`, UIs) show that instead of failing.

use kafka_protocol::messages::{
    ListPartitionReassignmentsRequest, ListPartitionReassignmentsResponse,
};
use skiff_meta::acl::AclOperation;

use crate::context::BrokerContext;
use crate::security::authorizer::Caller;

pub fn handle(
    ctx: &BrokerContext,
    caller: &Caller,
    _request: &ListPartitionReassignmentsRequest,
    _version: i16,
) -> ListPartitionReassignmentsResponse {
    if !ctx
        .authorizer
        .allows_cluster(caller, AclOperation::Describe)
    {
        return ListPartitionReassignmentsResponse::default().with_error_code(
            kafka_protocol::error::ResponseError::ClusterAuthorizationFailed.code(),
        );
    }
    ListPartitionReassignmentsResponse::default()
}
