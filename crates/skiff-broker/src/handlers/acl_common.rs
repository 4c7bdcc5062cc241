//! What CreateAcls, DescribeAcls and DeleteAcls share: reading Kafka's ACL codes into the
//! model, and the answers when there is no authorizer or the caller may not manage ACLs.

use kafka_protocol::error::ResponseError;
use skiff_meta::acl::{AclFilter, AclOperation, AclPermission, PatternFilter, ResourceType};

/// Kafka's `ResourceType` codes for DELEGATION_TOKEN and USER: valid in filters, never stored.
const UNSERVED_RESOURCE_TYPES: [i8; 2] = [6, 7];
/// Kafka's ANY code in every ACL enum.
const ANY: i8 = 1;

/// Kafka's answer to the ACL APIs without an authorizer.
pub const SECURITY_DISABLED_MESSAGE: &str = "No Authorizer is configured.";

pub fn security_disabled() -> (i16, &'static str) {
    (
        ResponseError::SecurityDisabled.code(),
        SECURITY_DISABLED_MESSAGE,
    )
}

/// The wire fields of a DescribeAcls request or DeleteAcls filter.
pub struct WireFilter<'a> {
    pub resource_type: i8,
    pub resource_name: Option<&'a str>,
    pub pattern_type: i8,
    pub principal: Option<&'a str>,
    pub host: Option<&'a str>,
    pub operation: i8,
    pub permission: i8,
}

/// The filter, `Ok(None)` when it is valid but can match nothing stored (a resource type
/// Skiff does not serve), or the INVALID_REQUEST message Kafka gives an unknown field.
pub fn parse_filter(wire: &WireFilter<'_>) -> Result<Option<AclFilter>, String> {
    let resource_type = match wire.resource_type {
        ANY => None,
        code if UNSERVED_RESOURCE_TYPES.contains(&code) => return Ok(None),
        code => Some(
            ResourceType::from_code(code)
                .ok_or_else(|| format!("unknown resource type filter {code}"))?,
        ),
    };
    let pattern = PatternFilter::from_code(wire.pattern_type)
        .ok_or_else(|| format!("unknown pattern type filter {}", wire.pattern_type))?;
    let operation = match wire.operation {
        ANY => None,
        code => Some(
            AclOperation::from_code(code)
                .ok_or_else(|| format!("unknown operation filter {code}"))?,
        ),
    };
    let permission = match wire.permission {
        ANY => None,
        code => Some(
            permission_from_code(code)
                .ok_or_else(|| format!("unknown permission type filter {code}"))?,
        ),
    };
    Ok(Some(AclFilter {
        resource_type,
        resource_name: wire.resource_name.map(str::to_string),
        pattern,
        principal: wire.principal.map(str::to_string),
        host: wire.host.map(str::to_string),
        operation,
        permission,
    }))
}

pub fn permission_from_code(code: i8) -> Option<AclPermission> {
    [AclPermission::Deny, AclPermission::Allow]
        .into_iter()
        .find(|p| p.code() == code)
}
