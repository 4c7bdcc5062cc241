//! KIP-430 authorized operations: what a caller may do with a topic, group or the cluster, as
//! bit sets of Kafka's ACL operation codes, computed from the ACLs (every operation Kafka
//! defines for the resource when no authorizer is configured).

use skiff_meta::acl::{AclOperation, CLUSTER_RESOURCE_NAME, ResourceType};

use crate::security::authorizer::{Authorizer, Caller};

use AclOperation::*;

/// What Kafka lists for a TOPIC resource.
pub const TOPIC_OPERATIONS: &[AclOperation] = &[
    Read,
    Write,
    Create,
    Delete,
    Alter,
    Describe,
    DescribeConfigs,
    AlterConfigs,
];

/// What Kafka lists for a GROUP resource.
pub const GROUP_OPERATIONS: &[AclOperation] = &[Read, Delete, Describe];

/// What Kafka lists for the CLUSTER resource.
pub const CLUSTER_OPERATIONS: &[AclOperation] = &[
    Create,
    Alter,
    Describe,
    ClusterAction,
    DescribeConfigs,
    AlterConfigs,
    IdempotentWrite,
];

pub fn topic_operations(authorizer: &Authorizer, caller: &Caller, topic: &str) -> i32 {
    authorizer.authorized_operations(caller, ResourceType::Topic, topic, TOPIC_OPERATIONS)
}

pub fn group_operations(authorizer: &Authorizer, caller: &Caller, group: &str) -> i32 {
    authorizer.authorized_operations(caller, ResourceType::Group, group, GROUP_OPERATIONS)
}

pub fn cluster_operations(authorizer: &Authorizer, caller: &Caller) -> i32 {
    authorizer.authorized_operations(
        caller,
        ResourceType::Cluster,
        CLUSTER_RESOURCE_NAME,
        CLUSTER_OPERATIONS,
    )
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};

    use skiff_meta::ControllerState;

    use super::*;
    use crate::security::authorizer::AuthorizerConfig;

    #[test]
    fn without_an_authorizer_every_operation_kafka_defines_is_granted() {
        let open = Authorizer::new(AuthorizerConfig::default(), &ControllerState::default());
        let caller = Caller::anonymous(IpAddr::V4(Ipv4Addr::LOCALHOST));
        // DescribeGroups answered this value before ACLs existed; clients decode it to READ,
        // DELETE, DESCRIBE.
        assert_eq!(
            group_operations(&open, &caller, "g"),
            (1 << 3) | (1 << 6) | (1 << 8)
        );
        assert_eq!(topic_operations(&open, &caller, "t").count_ones(), 8);
        assert_eq!(cluster_operations(&open, &caller).count_ones(), 7);
        assert_eq!(
            topic_operations(&open, &caller, "t") & 0b111,
            0,
            "UNKNOWN, ANY and ALL are never granted bits"
        );
        let closed = Authorizer::new(
            AuthorizerConfig {
                enabled: true,
                ..AuthorizerConfig::default()
            },
            &ControllerState::default(),
        );
        assert_eq!(topic_operations(&closed, &caller, "t"), 0);
    }
}
