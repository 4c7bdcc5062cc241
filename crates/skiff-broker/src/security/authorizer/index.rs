//! An immutable index of the ACL bindings, built once per ACL change and shared by every
//! request: Kafka's `StandardAuthorizerData` decision (super users aside) with no allocation
//! per check.

use std::collections::HashMap;
use std::net::IpAddr;

use skiff_meta::acl::{
    AclBinding, AclOperation, AclPermission, PatternType, ResourceType, WILDCARD,
    WILDCARD_PRINCIPAL,
};

/// What the bindings say about one request, before the no-ACL default applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    Deny,
    /// No binding names the resource at all (`allow.everyone.if.no.acl.found` decides).
    NoAcl,
    /// Bindings name the resource, none allows the caller.
    NotAllowed,
}

#[derive(Debug, Clone)]
struct Entry {
    principal: Box<str>,
    host: HostMatch,
    operation: AclOperation,
    permission: AclPermission,
}

#[derive(Debug, Clone, Copy)]
enum HostMatch {
    Any,
    Ip(IpAddr),
    /// A host that is no IP address (Kafka compares addresses, so it matches nothing).
    Never,
}

impl Entry {
    fn applies_to(&self, principal: &str, ip: IpAddr) -> bool {
        let host = match self.host {
            HostMatch::Any => true,
            HostMatch::Ip(allowed) => allowed == ip,
            HostMatch::Never => false,
        };
        host && (&*self.principal == principal || &*self.principal == WILDCARD_PRINCIPAL)
    }
}

/// Whether an ALLOW of `granted` covers `wanted`: ALL covers everything; READ, WRITE, DELETE
/// and ALTER imply DESCRIBE; ALTER_CONFIGS implies DESCRIBE_CONFIGS (Kafka's implications).
pub fn implies(granted: AclOperation, wanted: AclOperation) -> bool {
    use AclOperation::*;
    granted == All
        || granted == wanted
        || (wanted == Describe && matches!(granted, Read | Write | Delete | Alter))
        || (wanted == DescribeConfigs && granted == AlterConfigs)
}

#[derive(Debug, Default)]
struct ByType {
    /// Literal names, `*` included.
    literal: HashMap<Box<str>, Vec<Entry>>,
    prefixed: HashMap<Box<str>, Vec<Entry>>,
    /// Length of the longest prefix, so lookups stop early.
    longest_prefix: usize,
}

#[derive(Debug, Default)]
pub struct AclIndex {
    revision: u64,
    by_type: [ByType; 4],
}

fn slot(resource_type: ResourceType) -> usize {
    match resource_type {
        ResourceType::Topic => 0,
        ResourceType::Group => 1,
        ResourceType::Cluster => 2,
        ResourceType::TransactionalId => 3,
    }
}

impl AclIndex {
    pub fn build<'a>(revision: u64, bindings: impl Iterator<Item = &'a AclBinding>) -> AclIndex {
        let mut index = AclIndex {
            revision,
            ..AclIndex::default()
        };
        for b in bindings {
            let entry = Entry {
                principal: b.principal.as_str().into(),
                host: if b.host == WILDCARD {
                    HostMatch::Any
                } else {
                    b.host.parse().map_or(HostMatch::Never, HostMatch::Ip)
                },
                operation: b.operation,
                permission: b.permission,
            };
            let by_type = &mut index.by_type[slot(b.resource_type)];
            let name: Box<str> = b.resource_name.as_str().into();
            match b.pattern_type {
                PatternType::Literal => by_type.literal.entry(name).or_default().push(entry),
                PatternType::Prefixed => {
                    by_type.longest_prefix = by_type.longest_prefix.max(name.len());
                    by_type.prefixed.entry(name).or_default().push(entry);
                }
            }
        }
        index
    }

    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// DENY wins over ALLOW; a DENY applies to its own operation (or ALL) only, an ALLOW to
    /// what its operation implies.
    pub fn decide(
        &self,
        principal: &str,
        ip: IpAddr,
        operation: AclOperation,
        resource_type: ResourceType,
        name: &str,
    ) -> Decision {
        let by_type = &self.by_type[slot(resource_type)];
        let mut named = false;
        let mut allowed = false;
        let mut consider = |entries: &[Entry]| -> bool {
            named |= !entries.is_empty();
            for e in entries {
                if !e.applies_to(principal, ip) {
                    continue;
                }
                match e.permission {
                    AclPermission::Deny
                        if e.operation == AclOperation::All || e.operation == operation =>
                    {
                        return true;
                    }
                    AclPermission::Allow if implies(e.operation, operation) => allowed = true,
                    _ => {}
                }
            }
            false
        };
        if let Some(entries) = by_type.literal.get(name)
            && consider(entries)
        {
            return Decision::Deny;
        }
        if name != WILDCARD
            && let Some(entries) = by_type.literal.get(WILDCARD)
            && consider(entries)
        {
            return Decision::Deny;
        }
        if !by_type.prefixed.is_empty() {
            let longest = by_type.longest_prefix.min(name.len());
            for (end, _) in name
                .char_indices()
                .skip(1)
                .chain(std::iter::once((name.len(), ' ')))
            {
                if end > longest {
                    break;
                }
                if let Some(entries) = by_type.prefixed.get(&name[..end])
                    && consider(entries)
                {
                    return Decision::Deny;
                }
            }
        }
        match (allowed, named) {
            (true, _) => Decision::Allow,
            (false, true) => Decision::NotAllowed,
            (false, false) => Decision::NoAcl,
        }
    }

    /// Kafka's `authorizeByResourceType` (KIP-679): whether some resource of the type may be
    /// acted on, for InitProducerId's "WRITE on any topic". An ALLOW counts unless a DENY of
    /// the same operation covers the whole of its pattern (the literal `*`, the same literal,
    /// or a prefix of its name).
    pub fn allows_some(
        &self,
        principal: &str,
        ip: IpAddr,
        operation: AclOperation,
        resource_type: ResourceType,
    ) -> Decision {
        let by_type = &self.by_type[slot(resource_type)];
        let denies = |e: &Entry| {
            e.permission == AclPermission::Deny
                && (e.operation == AclOperation::All || e.operation == operation)
                && e.applies_to(principal, ip)
        };
        let denied_literal = |name: &str| {
            by_type
                .literal
                .get(name)
                .is_some_and(|es| es.iter().any(denies))
        };
        let denied_by_prefix = |name: &str| {
            by_type
                .prefixed
                .iter()
                .any(|(prefix, es)| name.starts_with(&**prefix) && es.iter().any(denies))
        };
        if denied_literal(WILDCARD) {
            return Decision::Deny;
        }
        let allows = |e: &Entry| {
            e.permission == AclPermission::Allow
                && implies(e.operation, operation)
                && e.applies_to(principal, ip)
        };
        let literal = by_type.literal.iter().any(|(name, es)| {
            es.iter().any(allows) && !denied_literal(name) && !denied_by_prefix(name)
        });
        let prefixed = by_type
            .prefixed
            .iter()
            .any(|(name, es)| es.iter().any(allows) && !denied_by_prefix(name));
        if literal || prefixed {
            Decision::Allow
        } else if by_type.literal.is_empty() && by_type.prefixed.is_empty() {
            Decision::NoAcl
        } else {
            Decision::NotAllowed
        }
    }
}
