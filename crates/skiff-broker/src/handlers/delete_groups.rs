use kafka_protocol::messages::delete_groups_response::DeletableGroupResult;
use kafka_protocol::messages::{DeleteGroupsRequest, DeleteGroupsResponse};

use super::group_common::{authorize_group, check_group, error_code, result_code};
use crate::context::BrokerContext;
use crate::security::authorizer::Caller;
use skiff_meta::acl::AclOperation;

/// Deletes groups without members, with every committed offset; one proposal for all of them.
pub async fn handle(
    ctx: &BrokerContext,
    caller: &Caller,
    request: DeleteGroupsRequest,
    _version: i16,
) -> DeleteGroupsResponse {
    let mut results: Vec<DeletableGroupResult> = Vec::with_capacity(request.groups_names.len());
    let mut positions = Vec::new();
    let mut ours = Vec::new();
    for group_id in request.groups_names {
        let mut result = DeletableGroupResult::default();
        let checked = authorize_group(ctx, caller, AclOperation::Delete, group_id.0.as_str())
            .and_then(|()| check_group(ctx, group_id.0.as_str(), false));
        match checked {
            Err(error) => result.error_code = error_code(error),
            Ok(()) => {
                positions.push(results.len());
                ours.push(group_id.0.to_string());
            }
        }
        result.group_id = group_id;
        results.push(result);
    }
    let outcomes = ctx.groups.delete_groups(&ours).await;
    for (position, outcome) in positions.into_iter().zip(outcomes) {
        if let Some(result) = results.get_mut(position) {
            result.error_code = result_code(&outcome);
        }
    }
    let mut response = DeleteGroupsResponse::default();
    response.results = results;
    response
}
