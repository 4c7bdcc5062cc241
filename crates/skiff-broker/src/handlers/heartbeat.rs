use kafka_protocol::messages::{HeartbeatRequest, HeartbeatResponse};

use super::group_common::{check_group, result_code};
use crate::context::BrokerContext;

pub fn handle(ctx: &BrokerContext, request: &HeartbeatRequest, _version: i16) -> HeartbeatResponse {
    let group_id = request.group_id.0.as_str();
    let outcome = check_group(ctx, group_id, true).and_then(|()| {
        ctx.groups.heartbeat(
            group_id,
            request.member_id.as_str(),
            request.group_instance_id.as_deref(),
            request.generation_id,
        )
    });
    let mut response = HeartbeatResponse::default();
    response.error_code = result_code(&outcome);
    response
}
