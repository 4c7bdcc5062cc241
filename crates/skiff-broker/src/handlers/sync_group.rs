use kafka_protocol::messages::{SyncGroupRequest, SyncGroupResponse};

use super::group_common::{authorize_group, await_parked, check_group, error_code};
use super::str_bytes;
use crate::context::BrokerContext;
use crate::groups::{CoordinatorError, SyncReply, SyncRequest, SyncResult};
use crate::security::authorizer::Caller;
use skiff_meta::acl::AclOperation;

pub async fn handle(
    ctx: &BrokerContext,
    caller: &Caller,
    request: SyncGroupRequest,
    version: i16,
) -> SyncGroupResponse {
    let group_id = request.group_id.0.as_str();
    if let Err(error) = authorize_group(ctx, caller, AclOperation::Read, group_id)
        .and_then(|()| check_group(ctx, group_id, true))
    {
        return response(SyncResult::failed(error), version);
    }
    let Some(_permit) = ctx.groups.reserve_waiter() else {
        tracing::warn!(group = %group_id, "too many parked group requests; asking the client to retry");
        return response(
            SyncResult::failed(CoordinatorError::CoordinatorNotAvailable),
            version,
        );
    };
    let sync = SyncRequest {
        member_id: request.member_id.to_string(),
        instance_id: request.group_instance_id.as_ref().map(|i| i.to_string()),
        generation: request.generation_id,
        protocol_type: request.protocol_type.as_ref().map(|t| t.to_string()),
        protocol_name: request.protocol_name.as_ref().map(|n| n.to_string()),
        assignments: request
            .assignments
            .into_iter()
            .map(|a| (a.member_id.to_string(), a.assignment))
            .collect(),
    };
    let result = match ctx.groups.sync(group_id, sync) {
        SyncReply::Ready(result) => result,
        SyncReply::Parked(answer) => {
            // The sync phase is bounded by the group's rebalance timeout, at most the longest
            // session timeout the broker allows.
            let bound = u64::try_from(ctx.groups.config().max_session_timeout_ms).unwrap_or(0);
            await_parked(answer, bound, &ctx.shutdown)
                .await
                .unwrap_or_else(SyncResult::failed)
        }
    };
    response(result, version)
}

fn response(result: SyncResult, version: i16) -> SyncGroupResponse {
    let mut response = SyncGroupResponse::default();
    response.error_code = result.error.map_or(0, error_code);
    if version >= 5 {
        response.protocol_type = result.protocol_type.as_deref().map(str_bytes);
        response.protocol_name = result.protocol_name.as_deref().map(str_bytes);
    }
    response.assignment = result.assignment;
    response
}
