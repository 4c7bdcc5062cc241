//! DescribeAcls: the bindings a filter selects, grouped by resource pattern. Needs DESCRIBE
//! on the cluster.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::describe_acls_response::{AclDescription, DescribeAclsResource};
use kafka_protocol::messages::{DescribeAclsRequest, DescribeAclsResponse};
use skiff_meta::acl::AclOperation;

use super::acl_common::{WireFilter, parse_filter, security_disabled};
use super::str_bytes;
use crate::context::BrokerContext;
use crate::security::authorizer::Caller;

pub fn handle(
    ctx: &BrokerContext,
    caller: &Caller,
    req: &DescribeAclsRequest,
    _version: i16,
) -> DescribeAclsResponse {
    let fail = |code: i16, message: &str| {
        DescribeAclsResponse::default()
            .with_error_code(code)
            .with_error_message(Some(str_bytes(message)))
    };
    if !ctx.authorizer.is_enabled() {
        let (code, message) = security_disabled();
        return fail(code, message);
    }
    if !ctx
        .authorizer
        .allows_cluster(caller, AclOperation::Describe)
    {
        return fail(
            ResponseError::ClusterAuthorizationFailed.code(),
            "not authorized to describe ACLs (DESCRIBE on the cluster)",
        );
    }
    let filter = match parse_filter(&WireFilter {
        resource_type: req.resource_type_filter,
        resource_name: req.resource_name_filter.as_deref(),
        pattern_type: req.pattern_type_filter,
        principal: req.principal_filter.as_deref(),
        host: req.host_filter.as_deref(),
        operation: req.operation,
        permission: req.permission_type,
    }) {
        Ok(Some(filter)) => filter,
        Ok(None) => return DescribeAclsResponse::default(),
        Err(message) => return fail(ResponseError::InvalidRequest.code(), &message),
    };
    let state = ctx.controller.state();
    let state = state.read();
    // The registry is ordered by resource pattern first, so equal patterns are adjacent.
    let mut resources: Vec<DescribeAclsResource> = Vec::new();
    let mut last = None;
    for b in state.acls().matching(&filter) {
        let pattern = (b.resource_type, b.resource_name.as_str(), b.pattern_type);
        if last != Some(pattern) {
            resources.push(
                DescribeAclsResource::default()
                    .with_resource_type(b.resource_type.code())
                    .with_resource_name(str_bytes(&b.resource_name))
                    .with_pattern_type(b.pattern_type.code()),
            );
            last = Some(pattern);
        }
        if let Some(resource) = resources.last_mut() {
            resource.acls.push(
                AclDescription::default()
                    .with_principal(str_bytes(&b.principal))
                    .with_host(str_bytes(&b.host))
                    .with_operation(b.operation.code())
                    .with_permission_type(b.permission.code()),
            );
        }
    }
    DescribeAclsResponse::default().with_resources(resources)
}
