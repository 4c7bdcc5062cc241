use kafka_protocol::messages::leave_group_response::MemberResponse;
use kafka_protocol::messages::{LeaveGroupRequest, LeaveGroupResponse};

use super::group_common::{authorize_group, check_group, error_code, result_code};
use crate::context::BrokerContext;
use crate::groups::LeavingMember;
use crate::security::authorizer::Caller;
use skiff_meta::acl::AclOperation;

pub fn handle(
    ctx: &BrokerContext,
    caller: &Caller,
    request: &LeaveGroupRequest,
    version: i16,
) -> LeaveGroupResponse {
    let group_id = request.group_id.0.as_str();
    // v3 batched the members (an admin can remove static members by instance id); before
    // that a member could only remove itself.
    let leaving: Vec<LeavingMember> = if version >= 3 {
        request
            .members
            .iter()
            .map(|m| LeavingMember {
                member_id: m.member_id.to_string(),
                instance_id: m.group_instance_id.as_ref().map(|i| i.to_string()),
            })
            .collect()
    } else {
        vec![LeavingMember {
            member_id: request.member_id.to_string(),
            instance_id: None,
        }]
    };
    let outcome = authorize_group(ctx, caller, AclOperation::Read, group_id)
        .and_then(|()| check_group(ctx, group_id, true))
        .and_then(|()| ctx.groups.leave(group_id, &leaving));
    let mut response = LeaveGroupResponse::default();
    match outcome {
        Err(error) => response.error_code = error_code(error),
        Ok(results) if version >= 3 => {
            response.members = request
                .members
                .iter()
                .zip(&results)
                .map(|(m, result)| {
                    let mut member = MemberResponse::default();
                    member.member_id = m.member_id.clone();
                    member.group_instance_id = m.group_instance_id.clone();
                    member.error_code = result_code(result);
                    member
                })
                .collect();
        }
        // One member: its result is the request's.
        Ok(results) => {
            response.error_code = results.first().map_or(0, result_code);
        }
    }
    response
}
