use kafka_protocol::messages::list_groups_response::ListedGroup;
use kafka_protocol::messages::{GroupId, ListGroupsRequest, ListGroupsResponse};

use super::str_bytes;
use crate::context::BrokerContext;
use crate::groups::GroupState;

/// Every group Skiff runs uses the classic protocol.
const CLASSIC_GROUP_TYPE: &str = "classic";

pub fn handle(
    ctx: &BrokerContext,
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
    response.groups = ctx
        .groups
        .list()
        .into_iter()
        // Groups this broker lists are the ones it coordinates (with several brokers, a
        // client asks each one).
        .filter(|g| ctx.groups.check_coordinator(&g.group_id).is_ok())
        .filter(|g| states.is_empty() || states.contains(&Some(g.state)))
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
