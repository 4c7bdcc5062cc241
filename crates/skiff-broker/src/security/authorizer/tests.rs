use std::net::{IpAddr, Ipv4Addr};

use skiff_meta::acl::{AclBinding, AclPermission, PatternType, WILDCARD};
use skiff_meta::{ControllerState, CreateAcls};

use super::*;

const HOME: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
const AWAY: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));

fn caller(principal: &str) -> Caller {
    Caller {
        principal: Arc::from(principal),
        ip: HOME,
    }
}

fn acl(
    permission: AclPermission,
    principal: &str,
    operation: AclOperation,
    resource_type: ResourceType,
    name: &str,
    pattern_type: PatternType,
) -> AclBinding {
    AclBinding {
        resource_type,
        resource_name: name.into(),
        pattern_type,
        principal: principal.into(),
        host: WILDCARD.into(),
        operation,
        permission,
    }
}

fn allow(principal: &str, operation: AclOperation, topic: &str) -> AclBinding {
    acl(
        AclPermission::Allow,
        principal,
        operation,
        ResourceType::Topic,
        topic,
        PatternType::Literal,
    )
}

fn authorizer(bindings: Vec<AclBinding>, config: AuthorizerConfig) -> Authorizer {
    let mut state = ControllerState::default();
    let created = state.execute(CreateAcls(bindings)).expect("applies");
    assert!(created.iter().all(Result::is_ok), "{created:?}");
    Authorizer::new(config, &state)
}

fn enabled() -> AuthorizerConfig {
    AuthorizerConfig {
        enabled: true,
        ..AuthorizerConfig::default()
    }
}

#[test]
fn no_acl_means_deny_unless_configured() {
    let alice = caller("User:alice");
    let strict = authorizer(vec![], enabled());
    assert!(!strict.allows_topic(&alice, AclOperation::Read, "orders"));
    let lenient = authorizer(
        vec![allow("User:bob", AclOperation::Read, "payments")],
        AuthorizerConfig {
            allow_everyone_if_no_acl_found: true,
            ..enabled()
        },
    );
    assert!(
        lenient.allows_topic(&alice, AclOperation::Read, "orders"),
        "no ACL names orders"
    );
    assert!(
        !lenient.allows_topic(&alice, AclOperation::Read, "payments"),
        "an ACL names payments, none for alice"
    );
    let disabled = authorizer(vec![], AuthorizerConfig::default());
    assert!(disabled.allows_topic(&alice, AclOperation::Write, "orders"));
}

#[test]
fn literal_prefixed_and_wildcard_patterns_match() {
    let alice = caller("User:alice");
    let a = authorizer(
        vec![
            allow("User:alice", AclOperation::Write, "orders"),
            acl(
                AclPermission::Allow,
                "User:alice",
                AclOperation::Read,
                ResourceType::Topic,
                "logs-",
                PatternType::Prefixed,
            ),
            allow("User:*", AclOperation::Describe, WILDCARD),
        ],
        enabled(),
    );
    assert!(a.allows_topic(&alice, AclOperation::Write, "orders"));
    assert!(!a.allows_topic(&alice, AclOperation::Write, "orders2"));
    assert!(a.allows_topic(&alice, AclOperation::Read, "logs-app"));
    assert!(a.allows_topic(&alice, AclOperation::Read, "logs-"));
    assert!(!a.allows_topic(&alice, AclOperation::Read, "logs"));
    assert!(!a.allows_topic(&alice, AclOperation::Read, "app-logs-x"));
    assert!(a.allows_topic(&caller("User:bob"), AclOperation::Describe, "anything"));
    assert!(!a.allows_topic(&caller("User:bob"), AclOperation::Read, "logs-app"));
    assert!(
        !a.allows_group(&alice, AclOperation::Read, "orders"),
        "topic ACLs say nothing of groups"
    );
}

#[test]
fn deny_wins_over_allow() {
    let alice = caller("User:alice");
    let a = authorizer(
        vec![
            allow("User:alice", AclOperation::All, WILDCARD),
            acl(
                AclPermission::Deny,
                "User:alice",
                AclOperation::Write,
                ResourceType::Topic,
                "secret-",
                PatternType::Prefixed,
            ),
            acl(
                AclPermission::Deny,
                "User:*",
                AclOperation::All,
                ResourceType::Topic,
                "locked",
                PatternType::Literal,
            ),
        ],
        enabled(),
    );
    assert!(a.allows_topic(&alice, AclOperation::Write, "public"));
    assert!(!a.allows_topic(&alice, AclOperation::Write, "secret-plans"));
    assert!(
        a.allows_topic(&alice, AclOperation::Read, "secret-plans"),
        "a DENY of WRITE denies only WRITE"
    );
    assert!(
        a.allows_topic(&alice, AclOperation::Describe, "secret-plans"),
        "implications widen ALLOWs, not DENYs"
    );
    assert!(!a.allows_topic(&alice, AclOperation::Describe, "locked"));
}

#[test]
fn operations_imply_describe_as_in_kafka() {
    let alice = caller("User:alice");
    for granted in [
        AclOperation::Read,
        AclOperation::Write,
        AclOperation::Delete,
        AclOperation::Alter,
    ] {
        let a = authorizer(vec![allow("User:alice", granted, "t")], enabled());
        assert!(
            a.allows_topic(&alice, AclOperation::Describe, "t"),
            "{granted:?}"
        );
        assert!(!a.allows_topic(&alice, AclOperation::DescribeConfigs, "t"));
    }
    let a = authorizer(
        vec![allow("User:alice", AclOperation::AlterConfigs, "t")],
        enabled(),
    );
    assert!(a.allows_topic(&alice, AclOperation::DescribeConfigs, "t"));
    assert!(!a.allows_topic(&alice, AclOperation::Describe, "t"));
    let a = authorizer(
        vec![allow("User:alice", AclOperation::Read, "t")],
        enabled(),
    );
    assert!(!a.allows_topic(&alice, AclOperation::Write, "t"));
}

#[test]
fn hosts_are_matched_by_address() {
    let mut binding = allow("User:alice", AclOperation::Read, "t");
    binding.host = HOME.to_string();
    let a = authorizer(vec![binding], enabled());
    assert!(a.allows_topic(&caller("User:alice"), AclOperation::Read, "t"));
    let away = Caller {
        ip: AWAY,
        ..caller("User:alice")
    };
    assert!(!a.allows_topic(&away, AclOperation::Read, "t"));
}

#[test]
fn super_users_bypass_every_acl() {
    let a = authorizer(
        vec![acl(
            AclPermission::Deny,
            "User:*",
            AclOperation::All,
            ResourceType::Cluster,
            skiff_meta::acl::CLUSTER_RESOURCE_NAME,
            PatternType::Literal,
        )],
        AuthorizerConfig {
            super_users: vec!["User:admin".into()],
            ..enabled()
        },
    );
    assert!(a.allows_cluster(&caller("User:admin"), AclOperation::Alter));
    assert!(!a.allows_cluster(&caller("User:alice"), AclOperation::Alter));
}

#[test]
fn write_on_some_topic_follows_kafkas_resource_type_check() {
    let alice = caller("User:alice");
    let a = authorizer(
        vec![allow("User:alice", AclOperation::Write, "a")],
        enabled(),
    );
    assert!(a.allows_some(&alice, AclOperation::Write, ResourceType::Topic));
    assert!(!a.allows_some(
        &caller("User:bob"),
        AclOperation::Write,
        ResourceType::Topic
    ));
    let a = authorizer(
        vec![
            allow("User:alice", AclOperation::Write, "a"),
            acl(
                AclPermission::Deny,
                "User:alice",
                AclOperation::Write,
                ResourceType::Topic,
                "",
                PatternType::Prefixed,
            )
            .with_name("a"),
        ],
        enabled(),
    );
    assert!(!a.allows_some(&alice, AclOperation::Write, ResourceType::Topic));
}

#[test]
fn authorized_operations_list_what_the_caller_may_do() {
    let a = authorizer(
        vec![allow("User:alice", AclOperation::Write, "t")],
        enabled(),
    );
    let set = a.authorized_operations(
        &caller("User:alice"),
        ResourceType::Topic,
        "t",
        &[
            AclOperation::Read,
            AclOperation::Write,
            AclOperation::Describe,
        ],
    );
    assert_eq!(
        set,
        (1 << AclOperation::Write.code()) | (1 << AclOperation::Describe.code())
    );
}

#[test]
fn refresh_follows_the_replicated_acls() {
    let mut state = ControllerState::default();
    state
        .execute(CreateAcls(vec![allow(
            "User:alice",
            AclOperation::Read,
            "t",
        )]))
        .expect("applies");
    let a = Authorizer::new(enabled(), &state);
    let alice = caller("User:alice");
    assert!(a.allows_topic(&alice, AclOperation::Read, "t"));
    state
        .execute(skiff_meta::DeleteAcls(vec![
            skiff_meta::acl::AclFilter::ANY,
        ]))
        .expect("applies");
    a.refresh(&state);
    assert!(!a.allows_topic(&alice, AclOperation::Read, "t"));
}

trait WithName {
    fn with_name(self, name: &str) -> Self;
}

impl WithName for AclBinding {
    fn with_name(mut self, name: &str) -> Self {
        self.resource_name = name.into();
        self
    }
}
