use kafka_protocol::messages::list_groups_response::ListedGroup;
use kafka_protocol::messages::{GroupId, ListGroupsRequest, ListGroupsResponse};

use super::str_bytes;
use crate::context::BrokerContext;
use crate::groups::GroupState;
use crate::security::authorizer::Caller;
use skiff_meta::acl::AclOperation;

/// Every group Skiff runs uses the classic protocol.
const CLASSIC_GROUP_TYPE: &str = "classic";

pub fn handle(
    ctx: &BrokerContext,
    caller: &Caller,
    request: &ListGroupsRequest,
    version: i16,
) -> ListGroupsResponse {
    // Filters match case-insensitively; an empty filter lets everything through.
    let states: Vec<Option<GroupState>> = if version >= 4 {
        request
            .states_filter
            .iter()
            .map(|s| GroupState::parse(s.as_str()))
            .collect()
    } else {
        Vec::new()
    };
    let classic_wanted = version < 5
        || request.types_filter.is_empty()
        || request
            .types_filter
            .iter()
            .any(|t| t.as_str().eq_ignore_ascii_case(CLASSIC_GROUP_TYPE));
    let mut response = ListGroupsResponse::default();
    if !classic_wanted {
        return response;
    }
    let may_describe_all = ctx
        .authorizer
        .allows_cluster(caller, AclOperation::Describe);
    response.groups = ctx
        .groups
        .list()
        .into_iter()
        // Groups this broker lists are the ones it coordinates (with several brokers, a
        // client asks each one).
        .filter(|g| ctx.groups.check_coordinator(&g.group_id).is_ok())
        .filter(|g| states.is_empty() || states.contains(&Some(g.state)))
        // DESCRIBE on the cluster lists every group; otherwise only those the caller may
        // describe, as Kafka does.
        .filter(|g| {
            may_describe_all
                || ctx
                    .authorizer
                    .allows_group(caller, AclOperation::Describe, &g.group_id)
        })
        .map(|g| {
            let mut listed = ListedGroup::default();
            listed.group_id = GroupId(str_bytes(&g.group_id));
            listed.protocol_type = str_bytes(&g.protocol_type);
            listed.group_state = str_bytes(g.state.name());
            listed.group_type = str_bytes(CLASSIC_GROUP_TYPE);
            listed
        })
        .collect();
    response
}
