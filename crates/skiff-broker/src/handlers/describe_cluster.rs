use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
use kafka_protocol::messages::{BrokerId, DescribeClusterRequest, DescribeClusterResponse};

use super::str_bytes;
use crate::authorized;
use crate::context::BrokerContext;
use crate::security::authorizer::Caller;

pub fn handle(
    ctx: &BrokerContext,
    caller: &Caller,
    request: &DescribeClusterRequest,
    _version: i16,
) -> DescribeClusterResponse {
    let state = ctx.controller.state();
    let state = state.read();
    let mut response = DescribeClusterResponse::default();
    response.cluster_id = str_bytes(state.cluster_id().unwrap_or_default());
    // Any broker takes admin requests and proposes them to the controller.
    response.controller_id = BrokerId(ctx.config.broker_id);
    response.brokers = state
        .live_brokers()
        .map(|b| {
            let mut broker = DescribeClusterBroker::default();
            broker.broker_id = BrokerId(b.id);
            broker.host = str_bytes(&b.host);
            broker.port = i32::from(b.port);
            broker.rack = b.rack.as_deref().map(str_bytes);
            broker
        })
        .collect();
    if request.include_cluster_authorized_operations {
        response.cluster_authorized_operations =
            authorized::cluster_operations(&ctx.authorizer, caller);
    }
    response
}
