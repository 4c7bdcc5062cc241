//! DescribeUserScramCredentials: each user's SCRAM mechanisms and iteration counts (never a
//! salt or key).

use std::collections::HashSet;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::describe_user_scram_credentials_response::{
    CredentialInfo, DescribeUserScramCredentialsResult,
};
use kafka_protocol::messages::{
    DescribeUserScramCredentialsRequest, DescribeUserScramCredentialsResponse,
};
use skiff_meta::ScramCredential;
use skiff_meta::ScramMechanism;
use std::collections::BTreeMap;

use super::str_bytes;
use crate::context::BrokerContext;
use crate::security::authorizer::Caller;
use skiff_meta::acl::AclOperation;

/// All users when the request names none (null or empty, as Kafka does).
pub fn handle(
    ctx: &BrokerContext,
    caller: &Caller,
    req: &DescribeUserScramCredentialsRequest,
    _version: i16,
) -> DescribeUserScramCredentialsResponse {
    if !ctx
        .authorizer
        .allows_cluster(caller, AclOperation::Describe)
    {
        return DescribeUserScramCredentialsResponse::default().with_error_code(
            kafka_protocol::error::ResponseError::ClusterAuthorizationFailed.code(),
        );
    }
    let state = ctx.controller.state();
    let state = state.read();
    let users = state.users();
    let results = match req.users.as_deref() {
        None | Some([]) => users
            .iter()
            .map(|(name, creds)| found(name, creds))
            .collect(),
        Some(asked) => {
            let mut seen = HashSet::new();
            let duplicated: HashSet<&str> = asked
                .iter()
                .map(|u| u.name.as_str())
                .filter(|name| !seen.insert(*name))
                .collect();
            let mut reported = HashSet::new();
            asked
                .iter()
                .map(|u| u.name.as_str())
                .filter(|name| reported.insert(*name))
                .map(|name| {
                    if duplicated.contains(name) {
                        failed(name, ResponseError::DuplicateResource, "user listed twice")
                    } else {
                        match users.get(name) {
                            Some(creds) => found(name, creds),
                            None => failed(
                                name,
                                ResponseError::ResourceNotFound,
                                "attempt to describe a user credential that does not exist",
                            ),
                        }
                    }
                })
                .collect()
        }
    };
    DescribeUserScramCredentialsResponse::default().with_results(results)
}

fn found(
    name: &str,
    creds: &BTreeMap<ScramMechanism, ScramCredential>,
) -> DescribeUserScramCredentialsResult {
    DescribeUserScramCredentialsResult::default()
        .with_user(str_bytes(name))
        .with_credential_infos(
            creds
                .iter()
                .map(|(mechanism, credential)| {
                    CredentialInfo::default()
                        .with_mechanism(mechanism.code())
                        .with_iterations(i32::try_from(credential.iterations).unwrap_or(i32::MAX))
                })
                .collect(),
        )
}

fn failed(name: &str, error: ResponseError, message: &str) -> DescribeUserScramCredentialsResult {
    DescribeUserScramCredentialsResult::default()
        .with_user(str_bytes(name))
        .with_error_code(error.code())
        .with_error_message(Some(str_bytes(message)))
}
