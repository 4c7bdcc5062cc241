//! Kafka's ACL model (KIP-290 resource patterns, `StandardAuthorizer` bindings) with Kafka's
//! wire codes: what CreateAcls stores, what DescribeAcls and DeleteAcls filters select. The
//! broker's authorizer decides requests from these bindings; this module only holds them and
//! matches filters, so the controller applies DeleteAcls deterministically.
//!
//! The enums are stored (postcard writes the variant index), so their variant order is part
//! of the snapshot format: append only.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The only name Kafka accepts for the CLUSTER resource.
pub const CLUSTER_RESOURCE_NAME: &str = "kafka-cluster";
/// A literal resource name matching every resource of its type, and the host matching every
/// host.
pub const WILDCARD: &str = "*";
/// The principal matching every user.
pub const WILDCARD_PRINCIPAL: &str = "User:*";

/// Resource types an ACL can name (Kafka's codes 2 to 5; DELEGATION_TOKEN and USER are not
/// served).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ResourceType {
    Topic,
    Group,
    Cluster,
    TransactionalId,
}

impl ResourceType {
    pub const ALL: [ResourceType; 4] = [
        ResourceType::Topic,
        ResourceType::Group,
        ResourceType::Cluster,
        ResourceType::TransactionalId,
    ];

    pub fn code(self) -> i8 {
        match self {
            ResourceType::Topic => 2,
            ResourceType::Group => 3,
            ResourceType::Cluster => 4,
            ResourceType::TransactionalId => 5,
        }
    }

    pub fn from_code(code: i8) -> Option<ResourceType> {
        ResourceType::ALL.into_iter().find(|t| t.code() == code)
    }

    pub fn name(self) -> &'static str {
        match self {
            ResourceType::Topic => "TOPIC",
            ResourceType::Group => "GROUP",
            ResourceType::Cluster => "CLUSTER",
            ResourceType::TransactionalId => "TRANSACTIONAL_ID",
        }
    }
}

/// How a binding's resource name matches resource names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum PatternType {
    /// The exact name, or every name when it is `*`.
    Literal,
    /// Every name starting with it.
    Prefixed,
}

impl PatternType {
    pub fn code(self) -> i8 {
        match self {
            PatternType::Literal => 3,
            PatternType::Prefixed => 4,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            PatternType::Literal => "LITERAL",
            PatternType::Prefixed => "PREFIXED",
        }
    }
}

/// Kafka's ACL operations (codes 2 to 14).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum AclOperation {
    All,
    Read,
    Write,
    Create,
    Delete,
    Alter,
    Describe,
    ClusterAction,
    DescribeConfigs,
    AlterConfigs,
    IdempotentWrite,
    CreateTokens,
    DescribeTokens,
}

impl AclOperation {
    pub const ALL: [AclOperation; 13] = [
        AclOperation::All,
        AclOperation::Read,
        AclOperation::Write,
        AclOperation::Create,
        AclOperation::Delete,
        AclOperation::Alter,
        AclOperation::Describe,
        AclOperation::ClusterAction,
        AclOperation::DescribeConfigs,
        AclOperation::AlterConfigs,
        AclOperation::IdempotentWrite,
        AclOperation::CreateTokens,
        AclOperation::DescribeTokens,
    ];

    pub fn code(self) -> i8 {
        match self {
            AclOperation::All => 2,
            AclOperation::Read => 3,
            AclOperation::Write => 4,
            AclOperation::Create => 5,
            AclOperation::Delete => 6,
            AclOperation::Alter => 7,
            AclOperation::Describe => 8,
            AclOperation::ClusterAction => 9,
            AclOperation::DescribeConfigs => 10,
            AclOperation::AlterConfigs => 11,
            AclOperation::IdempotentWrite => 12,
            AclOperation::CreateTokens => 13,
            AclOperation::DescribeTokens => 14,
        }
    }

    pub fn from_code(code: i8) -> Option<AclOperation> {
        AclOperation::ALL.into_iter().find(|o| o.code() == code)
    }

    /// Kafka's name (`DESCRIBE_CONFIGS`), as kafka-acls prints it.
    pub fn name(self) -> &'static str {
        match self {
            AclOperation::All => "ALL",
            AclOperation::Read => "READ",
            AclOperation::Write => "WRITE",
            AclOperation::Create => "CREATE",
            AclOperation::Delete => "DELETE",
            AclOperation::Alter => "ALTER",
            AclOperation::Describe => "DESCRIBE",
            AclOperation::ClusterAction => "CLUSTER_ACTION",
            AclOperation::DescribeConfigs => "DESCRIBE_CONFIGS",
            AclOperation::AlterConfigs => "ALTER_CONFIGS",
            AclOperation::IdempotentWrite => "IDEMPOTENT_WRITE",
            AclOperation::CreateTokens => "CREATE_TOKENS",
            AclOperation::DescribeTokens => "DESCRIBE_TOKENS",
        }
    }

    /// Accepts Kafka's names and kafka-acls' spellings (`DescribeConfigs`, `describe-configs`).
    pub fn from_name(name: &str) -> Option<AclOperation> {
        let wanted: String = name
            .chars()
            .filter(|c| *c != '_' && *c != '-')
            .map(|c| c.to_ascii_uppercase())
            .collect();
        AclOperation::ALL
            .into_iter()
            .find(|o| o.name().replace('_', "") == wanted)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum AclPermission {
    Deny,
    Allow,
}

impl AclPermission {
    pub fn code(self) -> i8 {
        match self {
            AclPermission::Deny => 2,
            AclPermission::Allow => 3,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            AclPermission::Deny => "DENY",
            AclPermission::Allow => "ALLOW",
        }
    }
}

/// One ACL: `permission` for `principal` from `host` to do `operation` on the resources
/// `resource_name` matches under `pattern_type`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AclBinding {
    pub resource_type: ResourceType,
    pub resource_name: String,
    pub pattern_type: PatternType,
    /// `User:name`, or `User:*`.
    pub principal: String,
    /// A client IP address as Kafka prints it, or `*`.
    pub host: String,
    pub operation: AclOperation,
    pub permission: AclPermission,
}

impl fmt::Display for AclBinding {
    /// As kafka-acls prints a binding.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "(principal={}, host={}, operation={}, permissionType={}) on ResourcePattern(resourceType={}, name={}, patternType={})",
            self.principal,
            self.host,
            self.operation.name(),
            self.permission.name(),
            self.resource_type.name(),
            self.resource_name,
            self.pattern_type.name(),
        )
    }
}

/// Which pattern types a filter selects (Kafka's ANY, MATCH, LITERAL, PREFIXED).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PatternFilter {
    /// Every pattern type; a name must then equal the binding's name.
    Any,
    /// Every binding that would apply to the named resource: the literal name, the literal
    /// `*`, and every prefix of the name.
    Match,
    Exactly(PatternType),
}

impl PatternFilter {
    pub fn from_code(code: i8) -> Option<PatternFilter> {
        match code {
            1 => Some(PatternFilter::Any),
            2 => Some(PatternFilter::Match),
            3 => Some(PatternFilter::Exactly(PatternType::Literal)),
            4 => Some(PatternFilter::Exactly(PatternType::Prefixed)),
            _ => None,
        }
    }
}

/// A DescribeAcls or DeleteAcls filter; `None` is Kafka's ANY (or a null string).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AclFilter {
    pub resource_type: Option<ResourceType>,
    pub resource_name: Option<String>,
    pub pattern: PatternFilter,
    pub principal: Option<String>,
    pub host: Option<String>,
    pub operation: Option<AclOperation>,
    pub permission: Option<AclPermission>,
}

impl AclFilter {
    /// Selects every binding.
    pub const ANY: AclFilter = AclFilter {
        resource_type: None,
        resource_name: None,
        pattern: PatternFilter::Any,
        principal: None,
        host: None,
        operation: None,
        permission: None,
    };

    /// Kafka's `AclBindingFilter.matches`.
    pub fn matches(&self, binding: &AclBinding) -> bool {
        self.resource_type
            .is_none_or(|t| t == binding.resource_type)
            && self.matches_pattern(binding)
            && self
                .principal
                .as_deref()
                .is_none_or(|p| p == binding.principal)
            && self.host.as_deref().is_none_or(|h| h == binding.host)
            && self.operation.is_none_or(|o| o == binding.operation)
            && self.permission.is_none_or(|p| p == binding.permission)
    }

    fn matches_pattern(&self, binding: &AclBinding) -> bool {
        if let PatternFilter::Exactly(kind) = self.pattern
            && kind != binding.pattern_type
        {
            return false;
        }
        let Some(name) = self.resource_name.as_deref() else {
            return true;
        };
        match self.pattern {
            PatternFilter::Any | PatternFilter::Exactly(_) => name == binding.resource_name,
            PatternFilter::Match => match binding.pattern_type {
                PatternType::Literal => {
                    name == binding.resource_name || binding.resource_name == WILDCARD
                }
                PatternType::Prefixed => name.starts_with(binding.resource_name.as_str()),
            },
        }
    }
}

/// Why a binding cannot be created (Kafka answers each with INVALID_REQUEST).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum AclError {
    #[error("resource name should not be empty")]
    EmptyResourceName,
    #[error("the only valid name for the CLUSTER resource is kafka-cluster")]
    ClusterResourceName,
    #[error("invalid principal {0:?}: use User:name or User:*")]
    InvalidPrincipal(String),
    #[error("invalid host: use an IP address or *")]
    InvalidHost,
    #[error("the cluster holds the most ACLs it may ({0})")]
    TooManyAcls(usize),
}

/// Most bindings the cluster stores: bounds the state and every broker's authorizer.
pub const MAX_ACLS: usize = 100_000;
/// Longest resource name, principal or host a binding may hold.
pub const MAX_ACL_FIELD_LEN: usize = 1024;

impl AclBinding {
    /// What Kafka's controller checks before storing a binding (the enums are already valid
    /// by construction).
    pub fn validate(&self) -> Result<(), AclError> {
        if self.resource_name.is_empty() || self.resource_name.len() > MAX_ACL_FIELD_LEN {
            return Err(AclError::EmptyResourceName);
        }
        if self.resource_type == ResourceType::Cluster
            && self.resource_name != CLUSTER_RESOURCE_NAME
        {
            return Err(AclError::ClusterResourceName);
        }
        match self.principal.split_once(':') {
            Some((kind, name))
                if !kind.is_empty()
                    && !name.is_empty()
                    && self.principal.len() <= MAX_ACL_FIELD_LEN => {}
            _ => return Err(AclError::InvalidPrincipal(self.principal.clone())),
        }
        if self.host.is_empty() || self.host.len() > MAX_ACL_FIELD_LEN {
            return Err(AclError::InvalidHost);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding(name: &str, pattern_type: PatternType) -> AclBinding {
        AclBinding {
            resource_type: ResourceType::Topic,
            resource_name: name.into(),
            pattern_type,
            principal: "User:alice".into(),
            host: "*".into(),
            operation: AclOperation::Read,
            permission: AclPermission::Allow,
        }
    }

    fn filter(name: Option<&str>, pattern: PatternFilter) -> AclFilter {
        AclFilter {
            resource_name: name.map(str::to_string),
            pattern,
            ..AclFilter::ANY
        }
    }

    #[test]
    fn match_filters_select_what_applies_to_a_name() {
        let literal = binding("orders", PatternType::Literal);
        let wildcard = binding("*", PatternType::Literal);
        let prefixed = binding("ord", PatternType::Prefixed);
        let other = binding("payments", PatternType::Literal);
        let matching = filter(Some("orders"), PatternFilter::Match);
        for b in [&literal, &wildcard, &prefixed] {
            assert!(matching.matches(b), "{b}");
        }
        assert!(!matching.matches(&other));
        let exact = filter(Some("orders"), PatternFilter::Any);
        assert!(exact.matches(&literal));
        assert!(!exact.matches(&wildcard));
        assert!(!exact.matches(&prefixed));
        let prefixed_only = filter(None, PatternFilter::Exactly(PatternType::Prefixed));
        assert!(prefixed_only.matches(&prefixed));
        assert!(!prefixed_only.matches(&literal));
    }

    #[test]
    fn entry_fields_filter_exactly() {
        let b = binding("orders", PatternType::Literal);
        let by = |f: AclFilter| f.matches(&b);
        assert!(by(AclFilter {
            principal: Some("User:alice".into()),
            operation: Some(AclOperation::Read),
            ..AclFilter::ANY
        }));
        assert!(!by(AclFilter {
            principal: Some("User:bob".into()),
            ..AclFilter::ANY
        }));
        assert!(!by(AclFilter {
            permission: Some(AclPermission::Deny),
            ..AclFilter::ANY
        }));
        assert!(!by(AclFilter {
            resource_type: Some(ResourceType::Group),
            ..AclFilter::ANY
        }));
    }

    #[test]
    fn bindings_are_validated_as_kafka_does() {
        let mut b = binding("orders", PatternType::Literal);
        assert_eq!(b.validate(), Ok(()));
        b.principal = "alice".into();
        assert!(matches!(b.validate(), Err(AclError::InvalidPrincipal(_))));
        let mut c = binding("x", PatternType::Literal);
        c.resource_type = ResourceType::Cluster;
        assert_eq!(c.validate(), Err(AclError::ClusterResourceName));
        c.resource_name = CLUSTER_RESOURCE_NAME.into();
        assert_eq!(c.validate(), Ok(()));
        assert_eq!(
            binding("", PatternType::Literal).validate(),
            Err(AclError::EmptyResourceName)
        );
    }

    #[test]
    fn codes_and_names_round_trip() {
        for op in AclOperation::ALL {
            assert_eq!(AclOperation::from_code(op.code()), Some(op));
            assert_eq!(AclOperation::from_name(op.name()), Some(op));
        }
        assert_eq!(
            AclOperation::from_name("DescribeConfigs"),
            Some(AclOperation::DescribeConfigs)
        );
        for t in ResourceType::ALL {
            assert_eq!(ResourceType::from_code(t.code()), Some(t));
        }
        assert_eq!(AclOperation::from_code(1), None, "ANY is a filter only");
    }
}
