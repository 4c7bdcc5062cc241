use kafka_protocol::messages::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use kafka_protocol::messages::{DescribeGroupsRequest, DescribeGroupsResponse};

use super::group_common::{check_group, error_code};
use super::str_bytes;
use kafka_protocol::error::ResponseError;
use skiff_meta::acl::AclOperation;

use crate::authorized;
use crate::context::BrokerContext;
use crate::security::authorizer::Caller;

pub fn handle(
    ctx: &BrokerContext,
    caller: &Caller,
    request: &DescribeGroupsRequest,
    version: i16,
) -> DescribeGroupsResponse {
    let mut response = DescribeGroupsResponse::default();
    response.groups = request
        .groups
        .iter()
        .map(|group_id| {
            let mut group = DescribedGroup::default();
            group.group_id = group_id.clone();
            if !ctx
                .authorizer
                .allows_group(caller, AclOperation::Describe, group_id.0.as_str())
            {
                group.error_code = ResponseError::GroupAuthorizationFailed.code();
                return group;
            }
            let described = check_group(ctx, group_id.0.as_str(), false)
                .map(|()| ctx.groups.describe(group_id.0.as_str()));
            match described {
                Err(error) => group.error_code = error_code(error),
                Ok(description) => {
                    group.group_state = str_bytes(description.state.name());
                    group.protocol_type = str_bytes(&description.protocol_type);
                    group.protocol_data = str_bytes(&description.protocol);
                    group.members = description
                        .members
                        .into_iter()
                        .map(|m| {
                            let mut member = DescribedGroupMember::default();
                            member.member_id = str_bytes(&m.member_id);
                            member.group_instance_id =
                                m.group_instance_id.as_deref().map(str_bytes);
                            member.client_id = str_bytes(&m.client_id);
                            member.client_host = str_bytes(&m.client_host);
                            member.member_metadata = m.metadata;
                            member.member_assignment = m.assignment;
                            member
                        })
                        .collect();
                }
            }
            if version >= 3 && request.include_authorized_operations {
                group.authorized_operations =
                    authorized::group_operations(&ctx.authorizer, caller, group_id.0.as_str());
            }
            group
        })
        .collect();
    response
}
