//! An ACL created through one broker holds on another: both follow the controllers' state
//! (three controllers over HTTP), and each rebuilds its authorizer from its own replica.

use crate::cluster_support;
use crate::support;

use std::net::SocketAddr;
use std::time::Instant;

use cluster_support::{ClusterBroker, Controllers, memory_store};
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::create_acls_request::AclCreation;
use kafka_protocol::messages::delete_acls_request::DeleteAclsFilter;
use kafka_protocol::messages::{
    CreateAclsRequest, DeleteAclsRequest, SaslAuthenticateRequest, SaslHandshakeRequest,
};
use kafka_protocol::protocol::StrBytes;
use skiff_broker::BrokerConfig;
use skiff_broker::security::SecurityProtocol;
use skiff_broker::security::scram_keys::new_credential;
use skiff_meta::{AlterScramCredentials, Propose, ScramChange, ScramMechanism};
use support::*;

fn s(text: &str) -> StrBytes {
    StrBytes::from_string(text.to_string())
}

fn secured(c: &mut BrokerConfig) {
    c.security_protocol = SecurityProtocol::SaslPlaintext;
    c.acl_authorizer = true;
    c.super_users = vec!["User:admin".into()];
}

async fn login(addr: SocketAddr, user: &str) -> RawClient {
    let mut client = RawClient::connect(addr).await;
    let handshake = SaslHandshakeRequest::default().with_mechanism(s("PLAIN"));
    assert_eq!(client.call(1, &handshake).await.error_code, 0);
    let auth = SaslAuthenticateRequest::default()
        .with_auth_bytes(format!("\0{user}\0secret").into_bytes().into());
    assert_eq!(client.call(2, &auth).await.error_code, 0, "{user} logs in");
    client
}

async fn produce(client: &mut RawClient) -> i16 {
    let request = produce_request(-1, &[("orders", 0, batch("v", 1, 1_000, NO_PRODUCER))]);
    produce_results(&client.call(9, &request).await)[0].0
}

/// Produces until the answer is `wanted`: broker b learns of the change when its replica of
/// the controller state does, a moment after broker a answered.
async fn produce_until(client: &mut RawClient, wanted: i16) {
    let started = Instant::now();
    loop {
        let code = produce(client).await;
        if code == wanted {
            return;
        }
        assert!(
            started.elapsed() < DEADLINE,
            "still {code}, wanted {wanted}"
        );
        tokio::task::yield_now().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acl_created_through_one_broker_holds_on_the_other() {
    let controllers = Controllers::start(|_| {}).await;
    let store = memory_store();
    let a = ClusterBroker::start(1, controllers.addrs.clone(), store.clone(), secured).await;
    let b = ClusterBroker::start(2, controllers.addrs.clone(), store, secured).await;
    let changes = ["admin", "alice"]
        .into_iter()
        .map(|user| ScramChange::Upsert {
            user: user.into(),
            mechanism: ScramMechanism::Sha256,
            credential: new_credential(ScramMechanism::Sha256, b"secret", 4096),
            if_absent: false,
        })
        .collect();
    let answers = a
        .remote
        .propose(AlterScramCredentials { changes })
        .await
        .expect("users stored");
    assert!(answers.iter().all(Result::is_ok));

    let mut admin = login(a.addr(), "admin").await;
    assert_eq!(
        create_topic(&mut admin, "orders", 1, &[]).await.topics[0].error_code,
        0
    );
    let mut alice = login(b.addr(), "alice").await;
    assert_eq!(
        produce(&mut alice).await,
        ResponseError::TopicAuthorizationFailed.code()
    );

    let creation = AclCreation::default()
        .with_resource_type(2)
        .with_resource_name(s("orders"))
        .with_resource_pattern_type(3)
        .with_principal(s("User:alice"))
        .with_host(s("*"))
        .with_operation(4)
        .with_permission_type(3);
    let created = admin
        .call(
            3,
            &CreateAclsRequest::default().with_creations(vec![creation]),
        )
        .await;
    assert_eq!(created.results[0].error_code, 0);
    produce_until(&mut alice, 0).await;

    let filter = DeleteAclsFilter::default()
        .with_resource_type_filter(1)
        .with_resource_name_filter(None)
        .with_pattern_type_filter(1)
        .with_principal_filter(Some(s("User:alice")))
        .with_host_filter(None)
        .with_operation(1)
        .with_permission_type(1);
    let deleted = admin
        .call(3, &DeleteAclsRequest::default().with_filters(vec![filter]))
        .await;
    assert_eq!(deleted.filter_results[0].matching_acls.len(), 1);
    produce_until(&mut alice, ResponseError::TopicAuthorizationFailed.code()).await;

    a.stop().await;
    b.stop().await;
    controllers.stop().await;
}
