//! CreateAcls: stores the request's bindings in one proposal; each creation gets its own
//! result (INVALID_REQUEST for a binding Kafka would refuse). Needs ALTER on the cluster.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::create_acls_request::AclCreation;
use kafka_protocol::messages::create_acls_response::AclCreationResult;
use kafka_protocol::messages::{CreateAclsRequest, CreateAclsResponse};
use skiff_meta::acl::{AclBinding, AclOperation, PatternType, ResourceType};
use skiff_meta::{CreateAcls, Propose};

use super::acl_common::{permission_from_code, security_disabled};
use super::str_bytes;
use crate::context::BrokerContext;
use crate::kafka_error::propose_error_code;
use crate::security::authorizer::Caller;

pub async fn handle(
    ctx: &BrokerContext,
    caller: &Caller,
    req: CreateAclsRequest,
    _version: i16,
) -> CreateAclsResponse {
    let fail_all = |code: i16, message: &str| {
        CreateAclsResponse::default().with_results(
            req.creations
                .iter()
                .map(|_| failed(code, message))
                .collect(),
        )
    };
    if !ctx.authorizer.is_enabled() {
        let (code, message) = security_disabled();
        return fail_all(code, message);
    }
    if !ctx.authorizer.allows_cluster(caller, AclOperation::Alter) {
        return fail_all(
            ResponseError::ClusterAuthorizationFailed.code(),
            "not authorized to create ACLs (ALTER on the cluster)",
        );
    }
    // Results in request order: refused here, or the index of the binding proposed.
    let mut outcomes: Vec<Result<usize, String>> = Vec::with_capacity(req.creations.len());
    let mut bindings = Vec::new();
    for creation in &req.creations {
        outcomes.push(binding(creation).map(|b| {
            bindings.push(b);
            bindings.len() - 1
        }));
    }
    let answers = if bindings.is_empty() {
        Ok(Vec::new())
    } else {
        ctx.controller.propose(CreateAcls(bindings)).await
    };
    // This broker applies its own change before answering; others follow the watch.
    ctx.authorizer.refresh(&ctx.controller.state().read());
    let invalid = ResponseError::InvalidRequest.code();
    let results = outcomes
        .into_iter()
        .map(|outcome| match (outcome, &answers) {
            (Err(message), _) => failed(invalid, &message),
            (Ok(i), Ok(answers)) => match answers.get(i) {
                Some(Ok(())) => AclCreationResult::default(),
                Some(Err(e)) => failed(invalid, &e.to_string()),
                None => failed(ResponseError::UnknownServerError.code(), "no answer"),
            },
            (Ok(_), Err(e)) => failed(propose_error_code(e), &e.to_string()),
        })
        .collect();
    CreateAclsResponse::default().with_results(results)
}

/// The binding a creation asks for, or why Kafka refuses it.
fn binding(creation: &AclCreation) -> Result<AclBinding, String> {
    let resource_type = ResourceType::from_code(creation.resource_type).ok_or_else(|| {
        format!(
            "invalid resource type {}: use TOPIC, GROUP, CLUSTER or TRANSACTIONAL_ID",
            creation.resource_type
        )
    })?;
    let pattern_type = [PatternType::Literal, PatternType::Prefixed]
        .into_iter()
        .find(|p| p.code() == creation.resource_pattern_type)
        .ok_or_else(|| {
            format!(
                "invalid pattern type {}: use LITERAL or PREFIXED",
                creation.resource_pattern_type
            )
        })?;
    let operation = AclOperation::from_code(creation.operation)
        .ok_or_else(|| format!("invalid operation {}", creation.operation))?;
    let permission = permission_from_code(creation.permission_type).ok_or_else(|| {
        format!(
            "invalid permission type {}: use ALLOW or DENY",
            creation.permission_type
        )
    })?;
    let binding = AclBinding {
        resource_type,
        resource_name: creation.resource_name.to_string(),
        pattern_type,
        principal: creation.principal.to_string(),
        host: creation.host.to_string(),
        operation,
        permission,
    };
    binding.validate().map_err(|e| e.to_string())?;
    Ok(binding)
}

fn failed(code: i16, message: &str) -> AclCreationResult {
    AclCreationResult::default()
        .with_error_code(code)
        .with_error_message(Some(str_bytes(message)))
}
