//! ListPartitionReassignments (KIP-455). Skiff never moves replicas (a partition's data is in
//! the object store and any live broker can lead it), so no reassignment is ever in progress:
//! the answer lists none, as Kafka's does for a cluster at rest. Tools that draw a cluster
//! (`kafka-reassign-partitions --list`, UIs) show that instead of failing.

use kafka_protocol::messages::{
    ListPartitionReassignmentsRequest, ListPartitionReassignmentsResponse,
};

pub fn handle(
    _request: &ListPartitionReassignmentsRequest,
    _version: i16,
) -> ListPartitionReassignmentsResponse {
    ListPartitionReassignmentsResponse::default()
}
