//! DeleteAcls: removes what each filter selects, all filters in one proposal, and reports
//! the removed bindings per filter. Needs ALTER on the cluster.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::delete_acls_response::{
    DeleteAclsFilterResult, DeleteAclsMatchingAcl,
};
use kafka_protocol::messages::{DeleteAclsRequest, DeleteAclsResponse};
use skiff_meta::acl::AclOperation;
use skiff_meta::{DeleteAcls, Propose};

use super::acl_common::{WireFilter, parse_filter, security_disabled};
use super::str_bytes;
use crate::context::BrokerContext;
use crate::kafka_error::propose_error_code;
use crate::security::authorizer::Caller;

pub async fn handle(
    ctx: &BrokerContext,
    caller: &Caller,
    req: DeleteAclsRequest,
    _version: i16,
) -> DeleteAclsResponse {
    let fail_all = |code: i16, message: &str| {
        DeleteAclsResponse::default()
            .with_filter_results(req.filters.iter().map(|_| failed(code, message)).collect())
    };
    if !ctx.authorizer.is_enabled() {
        let (code, message) = security_disabled();
        return fail_all(code, message);
    }
    if !ctx.authorizer.allows_cluster(caller, AclOperation::Alter) {
        return fail_all(
            ResponseError::ClusterAuthorizationFailed.code(),
            "not authorized to delete ACLs (ALTER on the cluster)",
        );
    }
    // Per filter: refused here, matches nothing stored, or the index of the filter proposed.
    let mut outcomes: Vec<Result<Option<usize>, String>> = Vec::new();
    let mut filters = Vec::new();
    for f in &req.filters {
        let parsed = parse_filter(&WireFilter {
            resource_type: f.resource_type_filter,
            resource_name: f.resource_name_filter.as_deref(),
            pattern_type: f.pattern_type_filter,
            principal: f.principal_filter.as_deref(),
            host: f.host_filter.as_deref(),
            operation: f.operation,
            permission: f.permission_type,
        });
        outcomes.push(parsed.map(|filter| {
            filter.map(|filter| {
                filters.push(filter);
                filters.len() - 1
            })
        }));
    }
    let answers = if filters.is_empty() {
        Ok(Vec::new())
    } else {
        ctx.controller.propose(DeleteAcls(filters)).await
    };
    ctx.authorizer.refresh(&ctx.controller.state().read());
    let results = outcomes
        .into_iter()
        .map(|outcome| match (outcome, &answers) {
            (Err(message), _) => failed(ResponseError::InvalidRequest.code(), &message),
            (Ok(None), _) => DeleteAclsFilterResult::default(),
            (Ok(Some(i)), Ok(answers)) => DeleteAclsFilterResult::default().with_matching_acls(
                answers
                    .get(i)
                    .into_iter()
                    .flatten()
                    .map(|b| {
                        DeleteAclsMatchingAcl::default()
                            .with_resource_type(b.resource_type.code())
                            .with_resource_name(str_bytes(&b.resource_name))
                            .with_pattern_type(b.pattern_type.code())
                            .with_principal(str_bytes(&b.principal))
                            .with_host(str_bytes(&b.host))
                            .with_operation(b.operation.code())
                            .with_permission_type(b.permission.code())
                    })
                    .collect(),
            ),
            (Ok(Some(_)), Err(e)) => failed(propose_error_code(e), &e.to_string()),
        })
        .collect();
    DeleteAclsResponse::default().with_filter_results(results)
}

fn failed(code: i16, message: &str) -> DeleteAclsFilterResult {
    DeleteAclsFilterResult::default()
        .with_error_code(code)
        .with_error_message(Some(str_bytes(message)))
}
