//! ACLs at the wire: CreateAcls, DescribeAcls and DeleteAcls as a client sends them, and
//! their effect on the requests of a connection that is already open. Stock clients are
//! covered in tests/e2e/test_acls.py.

use crate::support;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::create_acls_request::AclCreation;
use kafka_protocol::messages::delete_acls_request::DeleteAclsFilter;
use kafka_protocol::messages::{
    CreateAclsRequest, DeleteAclsRequest, DescribeAclsRequest, MetadataRequest,
    SaslAuthenticateRequest, SaslHandshakeRequest,
};
use kafka_protocol::protocol::StrBytes;
use skiff_broker::security::SecurityProtocol;
use skiff_broker::security::scram_keys::new_credential;
use skiff_meta::{AlterScramCredentials, Propose, ScramChange, ScramMechanism};
use support::*;

const TOPIC: i8 = 2;
const LITERAL: i8 = 3;
const PREFIXED: i8 = 4;
const ANY: i8 = 1;
const WRITE: i8 = 4;
const ALLOW: i8 = 3;

fn s(text: &str) -> StrBytes {
    StrBytes::from_string(text.to_string())
}

async fn broker(authorizer: bool) -> TestBroker {
    let broker = TestBroker::start_with(|c| {
        c.security_protocol = SecurityProtocol::SaslPlaintext;
        c.acl_authorizer = authorizer;
        c.super_users = vec!["User:admin".into()];
    })
    .await;
    let changes = ["admin", "alice"]
        .into_iter()
        .map(|user| ScramChange::Upsert {
            user: user.into(),
            mechanism: ScramMechanism::Sha256,
            credential: new_credential(ScramMechanism::Sha256, b"secret", 4096),
            if_absent: false,
        })
        .collect();
    let answers = broker
        .controller()
        .propose(AlterScramCredentials { changes })
        .await
        .expect("proposal applies");
    assert!(answers.iter().all(Result::is_ok));
    broker
}

async fn login(broker: &TestBroker, user: &str) -> RawClient {
    let mut client = broker.client().await;
    let handshake = SaslHandshakeRequest::default().with_mechanism(s("PLAIN"));
    assert_eq!(client.call(1, &handshake).await.error_code, 0);
    let auth = SaslAuthenticateRequest::default()
        .with_auth_bytes(format!("\0{user}\0secret").into_bytes().into());
    assert_eq!(client.call(2, &auth).await.error_code, 0, "{user} logs in");
    client
}

fn allow_write(topic: &str, pattern_type: i8) -> AclCreation {
    AclCreation::default()
        .with_resource_type(TOPIC)
        .with_resource_name(s(topic))
        .with_resource_pattern_type(pattern_type)
        .with_principal(s("User:alice"))
        .with_host(s("*"))
        .with_operation(WRITE)
        .with_permission_type(ALLOW)
}

async fn produce(client: &mut RawClient, topic: &str) -> i16 {
    let request = produce_request(-1, &[(topic, 0, batch("v", 1, 1_000, NO_PRODUCER))]);
    produce_results(&client.call(9, &request).await)[0].0
}

fn everything() -> DescribeAclsRequest {
    DescribeAclsRequest::default()
        .with_resource_type_filter(ANY)
        .with_resource_name_filter(None)
        .with_principal_filter(None)
        .with_host_filter(None)
        .with_pattern_type_filter(ANY)
        .with_operation(ANY)
        .with_permission_type(ANY)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acls_decide_requests_and_a_deletion_applies_to_an_open_connection() {
    let broker = broker(true).await;
    let mut admin = login(&broker, "admin").await;
    for topic in ["orders", "payments", "logs-app"] {
        let created = create_topic(&mut admin, topic, 1, &[]).await;
        assert_eq!(
            created.topics[0].error_code, 0,
            "the super user creates {topic}"
        );
    }
    let mut alice = login(&broker, "alice").await;
    assert_eq!(
        produce(&mut alice, "orders").await,
        ResponseError::TopicAuthorizationFailed.code(),
        "no ACL, no access"
    );

    let created = admin
        .call(
            3,
            &CreateAclsRequest::default().with_creations(vec![
                allow_write("orders", LITERAL),
                allow_write("logs-", PREFIXED),
                allow_write("", LITERAL),
            ]),
        )
        .await;
    let codes: Vec<i16> = created.results.iter().map(|r| r.error_code).collect();
    assert_eq!(
        codes,
        vec![0, 0, ResponseError::InvalidRequest.code()],
        "an empty resource name is refused on its own"
    );

    assert_eq!(produce(&mut alice, "orders").await, 0);
    assert_eq!(produce(&mut alice, "logs-app").await, 0, "prefixed ACL");
    assert_eq!(
        produce(&mut alice, "payments").await,
        ResponseError::TopicAuthorizationFailed.code()
    );
    // Fetch needs READ; a refused caller is not told whether the topic exists.
    for topic in ["orders", "no-such-topic"] {
        let request = fetch_request(topic, uuid::Uuid::nil(), 0, 0, 0, 0);
        let response = alice.call(12, &request).await;
        assert_eq!(
            response.responses[0].partitions[0].error_code,
            ResponseError::TopicAuthorizationFailed.code(),
            "{topic}"
        );
    }
    // WRITE implies DESCRIBE: Metadata shows alice the topics she may write, and no other.
    let metadata = alice
        .call(12, &MetadataRequest::default().with_topics(None))
        .await;
    let mut names: Vec<String> = metadata
        .topics
        .iter()
        .filter_map(|t| t.name.as_ref().map(|n| n.to_string()))
        .collect();
    names.sort();
    assert_eq!(names, vec!["logs-app", "orders"]);
    assert_eq!(
        alice.call(3, &everything()).await.error_code,
        ResponseError::ClusterAuthorizationFailed.code(),
        "describing ACLs needs DESCRIBE on the cluster"
    );

    let described = admin.call(3, &everything()).await;
    assert_eq!(described.error_code, 0);
    assert_eq!(described.resources.len(), 2);
    let invalid = admin
        .call(3, &everything().with_pattern_type_filter(0))
        .await;
    assert_eq!(invalid.error_code, ResponseError::InvalidRequest.code());

    let deleted = admin
        .call(
            3,
            &DeleteAclsRequest::default().with_filters(vec![
                DeleteAclsFilter::default()
                    .with_resource_type_filter(TOPIC)
                    .with_resource_name_filter(Some(s("orders")))
                    .with_pattern_type_filter(2) // MATCH
                    .with_principal_filter(Some(s("User:alice")))
                    .with_host_filter(None)
                    .with_operation(ANY)
                    .with_permission_type(ANY),
            ]),
        )
        .await;
    assert_eq!(deleted.filter_results[0].error_code, 0);
    let removed: Vec<String> = deleted.filter_results[0]
        .matching_acls
        .iter()
        .map(|a| a.resource_name.to_string())
        .collect();
    assert_eq!(
        removed,
        vec!["orders"],
        "MATCH selects what applies to the name"
    );
    assert_eq!(
        produce(&mut alice, "orders").await,
        ResponseError::TopicAuthorizationFailed.code(),
        "the same connection is refused right after the deletion"
    );
    assert_eq!(produce(&mut alice, "logs-app").await, 0);
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_authorizer_acl_apis_answer_security_disabled() {
    let broker = broker(false).await;
    let mut alice = login(&broker, "alice").await;
    let described = alice.call(3, &everything()).await;
    assert_eq!(described.error_code, ResponseError::SecurityDisabled.code());
    let created = alice
        .call(
            3,
            &CreateAclsRequest::default().with_creations(vec![allow_write("orders", LITERAL)]),
        )
        .await;
    assert_eq!(
        created.results[0].error_code,
        ResponseError::SecurityDisabled.code()
    );
    let created = create_topic(&mut alice, "open", 1, &[]).await;
    assert_eq!(
        created.topics[0].error_code, 0,
        "everything else stays open"
    );
    assert_eq!(produce(&mut alice, "open").await, 0);
    broker.stop().await;
}
