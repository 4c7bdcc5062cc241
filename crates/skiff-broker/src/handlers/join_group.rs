use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use kafka_protocol::messages::{JoinGroupRequest, JoinGroupResponse};

use super::group_common::{authorize_group, await_parked, check_group, error_code};
use super::str_bytes;
use crate::context::BrokerContext;
use crate::groups::{CoordinatorError, JoinReply, JoinRequest, JoinResult};
use crate::reply::ClientInfo;
use crate::security::authorizer::Caller;
use skiff_meta::acl::AclOperation;

pub async fn handle(
    ctx: &BrokerContext,
    caller: &Caller,
    request: JoinGroupRequest,
    version: i16,
    client: &ClientInfo,
) -> JoinGroupResponse {
    let member_id = request.member_id.to_string();
    let group_id = request.group_id.0.as_str();
    if let Err(error) = authorize_group(ctx, caller, AclOperation::Read, group_id)
        .and_then(|()| check_group(ctx, group_id, true))
    {
        return response(JoinResult::failed(error, &member_id), version);
    }
    // Held while parked: bounds how many JoinGroups wait across all groups.
    let Some(_permit) = ctx.groups.reserve_waiter() else {
        tracing::warn!(group = %group_id, "too many parked group requests; asking the client to retry");
        return response(
            JoinResult::failed(CoordinatorError::CoordinatorNotAvailable, &member_id),
            version,
        );
    };
    let session_timeout_ms = u64::try_from(request.session_timeout_ms).unwrap_or(0);
    // v0 has no rebalance timeout: the session timeout bounds the join phase.
    let rebalance_timeout_ms = if version >= 1 && request.rebalance_timeout_ms > 0 {
        u64::try_from(request.rebalance_timeout_ms).unwrap_or(session_timeout_ms)
    } else {
        session_timeout_ms
    };
    let join = JoinRequest {
        member_id: member_id.clone(),
        instance_id: request.group_instance_id.as_ref().map(|i| i.to_string()),
        client_id: client.client_id.clone(),
        client_host: client.host.clone(),
        session_timeout_ms,
        rebalance_timeout_ms,
        protocol_type: request.protocol_type.to_string(),
        protocols: request
            .protocols
            .into_iter()
            .map(|p| (p.name.to_string(), p.metadata))
            .collect(),
        require_known_member_id: version >= 4,
        supports_skip_assignment: version >= 9,
    };
    let result = match ctx.groups.join(group_id, join) {
        JoinReply::Ready(result) => result,
        JoinReply::Parked(answer) => {
            let bound = rebalance_timeout_ms
                .max(session_timeout_ms)
                .saturating_add(ctx.groups.config().initial_rebalance_delay_ms);
            match await_parked(answer, bound, &ctx.shutdown).await {
                Ok(result) => result,
                Err(error) => JoinResult::failed(error, &member_id),
            }
        }
    };
    response(result, version)
}

fn response(result: JoinResult, version: i16) -> JoinGroupResponse {
    let mut response = JoinGroupResponse::default();
    response.error_code = result.error.map_or(0, error_code);
    response.generation_id = result.generation_id;
    response.protocol_type = result.protocol_type.as_deref().map(str_bytes);
    // Before v7 the protocol name is not nullable; Kafka sends an empty one.
    response.protocol_name = match (result.protocol_name.as_deref(), version >= 7) {
        (Some(name), _) => Some(str_bytes(name)),
        (None, true) => None,
        (None, false) => Some(str_bytes("")),
    };
    response.leader = str_bytes(&result.leader);
    response.skip_assignment = version >= 9 && result.skip_assignment;
    response.member_id = str_bytes(&result.member_id);
    response.members = result
        .members
        .into_iter()
        .map(|m| {
            let mut member = JoinGroupResponseMember::default();
            member.member_id = str_bytes(&m.member_id);
            member.group_instance_id = m.group_instance_id.as_deref().map(str_bytes);
            member.metadata = m.metadata;
            member
        })
        .collect();
    response
}
