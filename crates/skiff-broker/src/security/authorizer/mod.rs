//! The ACL authorizer (Kafka's `StandardAuthorizer`): decides whether a caller may perform an
//! operation on a resource from the ACL bindings in the controller state.
//!
//! The bindings are indexed into an immutable [`AclIndex`] behind an `ArcSwap`: a check is one
//! atomic load and a few hash lookups, with no lock and no allocation. The index is rebuilt
//! when the replicated ACL revision changes ([`refresh`] follows the broker's view of the
//! controller state), so a deleted ACL applies to the next request of every connection.

mod index;
pub mod refresh;

use std::net::IpAddr;
use std::sync::Arc;

use arc_swap::ArcSwap;
use skiff_meta::ControllerState;
use skiff_meta::acl::{AclOperation, CLUSTER_RESOURCE_NAME, ResourceType};

pub use index::{AclIndex, Decision, implies};

/// Kafka's principal for a client that did not authenticate.
pub const ANONYMOUS: &str = "User:ANONYMOUS";

/// Who sent a request: the connection's principal and address. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: Arc<str>,
    pub ip: IpAddr,
}

impl Caller {
    pub fn anonymous(ip: IpAddr) -> Caller {
        Caller {
            principal: Arc::from(ANONYMOUS),
            ip,
        }
    }
}

/// What the operator chose: Kafka's `authorizer.class.name`, `super.users` and
/// `allow.everyone.if.no.acl.found`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthorizerConfig {
    pub enabled: bool,
    pub super_users: Vec<String>,
    pub allow_everyone_if_no_acl_found: bool,
}

pub struct Authorizer {
    config: AuthorizerConfig,
    acls: ArcSwap<AclIndex>,
}

impl Authorizer {
    pub fn new(config: AuthorizerConfig, state: &ControllerState) -> Authorizer {
        let authorizer = Authorizer {
            config,
            acls: ArcSwap::from_pointee(AclIndex::default()),
        };
        authorizer.rebuild(state);
        authorizer
    }

    /// Without an authorizer (Kafka without `authorizer.class.name`) every request is allowed
    /// and the ACL APIs answer SECURITY_DISABLED.
    pub fn is_enabled(&self) -> bool {
        self.config.enabled
    }

    /// Rebuilds the index when the state's ACLs changed since it was built.
    pub fn refresh(&self, state: &ControllerState) {
        if self.config.enabled && state.acls().revision() != self.acls.load().revision() {
            self.rebuild(state);
        }
    }

    fn rebuild(&self, state: &ControllerState) {
        if !self.config.enabled {
            return;
        }
        let acls = state.acls();
        self.acls
            .store(Arc::new(AclIndex::build(acls.revision(), acls.iter())));
    }

    fn is_super_user(&self, caller: &Caller) -> bool {
        self.config
            .super_users
            .iter()
            .any(|s| **s == *caller.principal)
    }

    fn verdict(&self, decision: Decision) -> bool {
        match decision {
            Decision::Allow => true,
            Decision::Deny | Decision::NotAllowed => false,
            Decision::NoAcl => self.config.allow_everyone_if_no_acl_found,
        }
    }

    /// Whether `caller` may perform `operation` on the named resource.
    pub fn allows(
        &self,
        caller: &Caller,
        operation: AclOperation,
        resource_type: ResourceType,
        name: &str,
    ) -> bool {
        if !self.config.enabled || self.is_super_user(caller) {
            return true;
        }
        let decision =
            self.acls
                .load()
                .decide(&caller.principal, caller.ip, operation, resource_type, name);
        self.verdict(decision)
    }

    pub fn allows_topic(&self, caller: &Caller, operation: AclOperation, topic: &str) -> bool {
        self.allows(caller, operation, ResourceType::Topic, topic)
    }

    pub fn allows_group(&self, caller: &Caller, operation: AclOperation, group: &str) -> bool {
        self.allows(caller, operation, ResourceType::Group, group)
    }

    pub fn allows_cluster(&self, caller: &Caller, operation: AclOperation) -> bool {
        self.allows(
            caller,
            operation,
            ResourceType::Cluster,
            CLUSTER_RESOURCE_NAME,
        )
    }

    /// Whether `caller` may perform `operation` on at least one resource of the type
    /// (Kafka's `authorizeByResourceType`).
    pub fn allows_some(
        &self,
        caller: &Caller,
        operation: AclOperation,
        resource_type: ResourceType,
    ) -> bool {
        if !self.config.enabled || self.is_super_user(caller) {
            return true;
        }
        let decision =
            self.acls
                .load()
                .allows_some(&caller.principal, caller.ip, operation, resource_type);
        self.verdict(decision)
    }

    /// KIP-430: the bit set of `candidates` (Kafka's operation codes) the caller may perform
    /// on the resource.
    pub fn authorized_operations(
        &self,
        caller: &Caller,
        resource_type: ResourceType,
        name: &str,
        candidates: &[AclOperation],
    ) -> i32 {
        candidates
            .iter()
            .filter(|op| self.allows(caller, **op, resource_type, name))
            .fold(0, |set, op| set | (1 << op.code()))
    }
}

#[cfg(test)]
mod tests;
