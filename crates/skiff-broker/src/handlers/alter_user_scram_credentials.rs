//! AlterUserScramCredentials: upserts (the client sends salt, iterations and the salted
//! password; the broker keeps only the derived StoredKey and ServerKey) and deletions, one
//! result per user. A user's changes apply together or not at all when one is invalid.

use std::collections::HashSet;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::alter_user_scram_credentials_response::AlterUserScramCredentialsResult;
use kafka_protocol::messages::{
    AlterUserScramCredentialsRequest, AlterUserScramCredentialsResponse,
};
use skiff_meta::{
    AlterScramCredentials, MAX_SCRAM_ITERATIONS, MIN_SCRAM_ITERATIONS, Propose, ScramChange,
    ScramMechanism,
};

use super::str_bytes;
use crate::context::BrokerContext;
use crate::kafka_error::{propose_error_code, user_error_code};
use crate::security::authorizer::Caller;
use crate::security::scram_keys::credential_from_salted;
use skiff_meta::acl::AclOperation;

/// A user's outcome, in the order users first appear in the request.
struct UserResult {
    user: String,
    error: Option<(i16, String)>,
    /// Indexes of this user's changes in the proposal.
    changes: Vec<usize>,
}

pub async fn handle(
    ctx: &BrokerContext,
    caller: &Caller,
    req: AlterUserScramCredentialsRequest,
    _version: i16,
) -> AlterUserScramCredentialsResponse {
    // Kafka needs ALTER on the cluster; each user named gets the error.
    if !ctx.authorizer.allows_cluster(caller, AclOperation::Alter) {
        let mut users: Vec<&str> = Vec::new();
        for name in req
            .deletions
            .iter()
            .map(|d| d.name.as_str())
            .chain(req.upsertions.iter().map(|u| u.name.as_str()))
        {
            if !users.contains(&name) {
                users.push(name);
            }
        }
        return AlterUserScramCredentialsResponse::default().with_results(
            users
                .into_iter()
                .map(|user| {
                    AlterUserScramCredentialsResult::default()
                        .with_user(str_bytes(user))
                        .with_error_code(ResponseError::ClusterAuthorizationFailed.code())
                        .with_error_message(Some(str_bytes(
                            "not authorized to alter users (ALTER on the cluster)",
                        )))
                })
                .collect(),
        );
    }
    let mut results: Vec<UserResult> = Vec::new();
    let mut pending: Vec<(String, ScramChange)> = Vec::new();
    let mut seen: HashSet<(String, i8)> = HashSet::new();
    let deletions = req
        .deletions
        .iter()
        .map(|d| (d.name.to_string(), d.mechanism, None));
    let upsertions = req.upsertions.iter().map(|u| {
        (
            u.name.to_string(),
            u.mechanism,
            Some((u.iterations, u.salt.to_vec(), u.salted_password.to_vec())),
        )
    });
    for (user, code, upsert) in deletions.chain(upsertions) {
        let position = match results.iter().position(|r| r.user == user) {
            Some(position) => position,
            None => {
                results.push(UserResult {
                    user: user.clone(),
                    error: None,
                    changes: Vec::new(),
                });
                results.len() - 1
            }
        };
        let checked = check(&user, code, upsert, &mut seen);
        let Some(result) = results.get_mut(position) else {
            continue;
        };
        match checked {
            Err(error) => {
                result.error.get_or_insert(error);
            }
            Ok(change) => pending.push((user, change)),
        }
    }
    // Only users whose every change is valid reach the controller.
    let mut changes = Vec::new();
    for (user, change) in pending {
        if let Some(result) = results
            .iter_mut()
            .find(|r| r.user == user && r.error.is_none())
        {
            result.changes.push(changes.len());
            changes.push(change);
        }
    }
    if !changes.is_empty() {
        match ctx
            .controller
            .propose(AlterScramCredentials { changes })
            .await
        {
            Ok(answers) => {
                for result in &mut results {
                    let failure = result
                        .changes
                        .iter()
                        .find_map(|&i| answers.get(i).and_then(|a| a.as_ref().err()));
                    if let Some(e) = failure {
                        result.error = Some((user_error_code(e), e.to_string()));
                    }
                }
            }
            Err(e) => {
                let code = propose_error_code(&e);
                for result in results.iter_mut().filter(|r| !r.changes.is_empty()) {
                    result.error = Some((code, e.to_string()));
                }
            }
        }
    }
    AlterUserScramCredentialsResponse::default().with_results(
        results
            .into_iter()
            .map(|r| {
                let mut out =
                    AlterUserScramCredentialsResult::default().with_user(str_bytes(&r.user));
                if let Some((code, message)) = r.error {
                    out = out
                        .with_error_code(code)
                        .with_error_message(Some(str_bytes(&message)));
                }
                out
            })
            .collect(),
    )
}

/// Validates one deletion or upsertion as Kafka does, before anything is proposed.
fn check(
    user: &str,
    code: i8,
    upsert: Option<(i32, Vec<u8>, Vec<u8>)>,
    seen: &mut HashSet<(String, i8)>,
) -> Result<ScramChange, (i16, String)> {
    let fail = |error: ResponseError, message: &str| Err((error.code(), message.to_string()));
    if user.is_empty() {
        return fail(
            ResponseError::UnacceptableCredential,
            "username must not be empty",
        );
    }
    let Some(mechanism) = ScramMechanism::from_code(code) else {
        return fail(
            ResponseError::UnsupportedSaslMechanism,
            "unknown SCRAM mechanism",
        );
    };
    if !seen.insert((user.to_string(), code)) {
        return fail(
            ResponseError::DuplicateResource,
            "a user credential cannot be altered twice in the same request",
        );
    }
    let Some((iterations, salt, salted_password)) = upsert else {
        return Ok(ScramChange::Delete {
            user: user.to_string(),
            mechanism,
        });
    };
    let iterations = u32::try_from(iterations).unwrap_or(0);
    if !(MIN_SCRAM_ITERATIONS..=MAX_SCRAM_ITERATIONS).contains(&iterations) {
        return fail(
            ResponseError::UnacceptableCredential,
            "iterations must be between 4096 and 16384",
        );
    }
    if salt.is_empty() || salted_password.len() != mechanism.key_len() {
        return fail(
            ResponseError::UnacceptableCredential,
            "the salt is empty or the salted password does not have the mechanism's length",
        );
    }
    Ok(ScramChange::Upsert {
        user: user.to_string(),
        mechanism,
        credential: credential_from_salted(mechanism, &salted_password, salt, iterations),
        if_absent: false,
    })
}
