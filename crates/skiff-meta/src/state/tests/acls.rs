use super::*;
use crate::acl::*;
use crate::state::ControllerStateV8;

fn allow(principal: &str, name: &str, pattern_type: PatternType, op: AclOperation) -> AclBinding {
    AclBinding {
        resource_type: ResourceType::Topic,
        resource_name: name.into(),
        pattern_type,
        principal: principal.into(),
        host: WILDCARD.into(),
        operation: op,
        permission: AclPermission::Allow,
    }
}

#[test]
fn acls_are_created_once_and_deleted_by_filter() {
    let mut state = ControllerState::default();
    let a = allow(
        "User:alice",
        "orders",
        PatternType::Literal,
        AclOperation::Write,
    );
    let b = allow("User:bob", "ord", PatternType::Prefixed, AclOperation::Read);
    let bad = allow("alice", "orders", PatternType::Literal, AclOperation::Read);
    let answer = run(
        &mut state,
        CreateAcls(vec![a.clone(), b.clone(), bad, a.clone()]),
    );
    assert_eq!(answer.len(), 4);
    assert!(answer[0].is_ok() && answer[1].is_ok() && answer[3].is_ok());
    assert!(matches!(answer[2], Err(AclError::InvalidPrincipal(_))));
    assert_eq!(state.acls().len(), 2, "the duplicate is stored once");
    let revision = state.acls().revision();
    assert!(revision > 0);

    let by_bob = AclFilter {
        principal: Some("User:bob".into()),
        ..AclFilter::ANY
    };
    let matching_orders = AclFilter {
        resource_name: Some("orders".into()),
        pattern: PatternFilter::Match,
        ..AclFilter::ANY
    };
    let nothing = AclFilter {
        principal: Some("User:carol".into()),
        ..AclFilter::ANY
    };
    let answer = run(
        &mut state,
        DeleteAcls(vec![by_bob, matching_orders, nothing.clone()]),
    );
    assert_eq!(answer, vec![vec![b], vec![a], vec![]]);
    assert!(state.acls().is_empty());
    assert!(state.acls().revision() > revision);

    let revision = state.acls().revision();
    run(&mut state, DeleteAcls(vec![nothing]));
    assert_eq!(
        state.acls().revision(),
        revision,
        "nothing changed, nothing to rebuild"
    );
}

#[test]
fn format_8_snapshot_loads_without_acls() {
    let (state, _) = state_with_topic(2);
    // Format 9 appended the ACLs (an empty set and revision 0, one byte each) to format 8.
    let bytes = postcard::to_allocvec(&state).expect("encodes");
    let (v8_bytes, tail) = bytes.split_at(bytes.len() - 2);
    assert_eq!(tail, [0, 0]);
    let v8: ControllerStateV8 = postcard::from_bytes(v8_bytes).expect("decodes as format 8");
    let loaded = ControllerState::from(v8);
    assert_eq!(loaded, state);
    assert!(loaded.acls().is_empty());
}
