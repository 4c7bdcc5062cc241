use kafka_protocol::messages::{HeartbeatRequest, HeartbeatResponse};

use super::group_common::{authorize_group, check_group, result_code};
use crate::context::BrokerContext;
use crate::security::authorizer::Caller;
use skiff_meta::acl::AclOperation;

pub fn handle(
    ctx: &BrokerContext,
    caller: &Caller,
    request: &HeartbeatRequest,
    _version: i16,
) -> HeartbeatResponse {
    let group_id = request.group_id.0.as_str();
    let outcome = authorize_group(ctx, caller, AclOperation::Read, group_id)
        .and_then(|()| check_group(ctx, group_id, true))
        .and_then(|()| {
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
