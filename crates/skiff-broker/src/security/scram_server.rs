//! The server side of one SCRAM exchange: client-first → server-first, client-final →
//! server-final (RFC 5802 section 5), against a credential from the controller state.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;
use skiff_meta::{ScramCredential, ScramMechanism};
use thiserror::Error;

use super::scram_keys::verify_proof;
use super::scram_messages::{self, ScramMessageError};

/// Random bytes of the server's part of the nonce.
const SERVER_NONCE_BYTES: usize = 24;

/// Why a SCRAM exchange failed. Never carries what the client sent as a secret.
#[derive(Debug, Error)]
pub enum ScramError {
    #[error("malformed SCRAM message: {0}")]
    Message(#[from] ScramMessageError),
    #[error("unknown user or no {0} credential")]
    UnknownUser(&'static str),
    #[error("the authorization id differs from the user name")]
    Authzid,
    #[error("SCRAM extensions (delegation tokens) are not supported")]
    Extension,
    #[error("the final message's nonce is not the one the server sent")]
    Nonce,
    #[error("the channel binding does not repeat the first message's GS2 header")]
    ChannelBinding,
    #[error("wrong password (the client proof does not verify)")]
    Proof,
}

/// After the server-first message: what the final step needs.
pub struct ScramInProgress {
    mechanism: ScramMechanism,
    user: String,
    credential: ScramCredential,
    gs2_header: String,
    nonce: String,
    /// `client-first-message-bare , server-first-message`: the start of the AuthMessage.
    auth_message_start: String,
}

impl ScramInProgress {
    pub fn user(&self) -> &str {
        &self.user
    }
}

/// Reads client-first; `lookup` finds the user's credential. Returns the server-first
/// message and the state for the final step.
pub fn first(
    mechanism: ScramMechanism,
    message: &[u8],
    lookup: impl FnOnce(&str) -> Option<ScramCredential>,
) -> Result<(String, ScramInProgress), ScramError> {
    let client = scram_messages::parse_client_first(message)?;
    if client.authzid.as_deref().is_some_and(|a| a != client.user) {
        return Err(ScramError::Authzid);
    }
    if !client.extensions.is_empty() {
        return Err(ScramError::Extension);
    }
    let credential = lookup(&client.user).ok_or(ScramError::UnknownUser(mechanism.name()))?;
    let mut random = [0u8; SERVER_NONCE_BYTES];
    rand::rng().fill_bytes(&mut random);
    let nonce = format!("{}{}", client.nonce, STANDARD.encode(random));
    let server_first =
        scram_messages::server_first(&nonce, &credential.salt, credential.iterations);
    let auth_message_start = format!("{},{server_first}", client.bare);
    Ok((
        server_first,
        ScramInProgress {
            mechanism,
            user: client.user,
            credential,
            gs2_header: client.gs2_header.to_string(),
            nonce,
            auth_message_start,
        },
    ))
}

/// Reads client-final and checks the proof; returns server-final.
pub fn last(progress: &ScramInProgress, message: &[u8]) -> Result<String, ScramError> {
    let client = scram_messages::parse_client_final(message)?;
    if client.nonce != progress.nonce {
        return Err(ScramError::Nonce);
    }
    if client.channel_binding != progress.gs2_header.as_bytes() {
        return Err(ScramError::ChannelBinding);
    }
    let auth_message = format!("{},{}", progress.auth_message_start, client.without_proof);
    let signature = verify_proof(
        progress.mechanism,
        &progress.credential,
        auth_message.as_bytes(),
        &client.proof,
    )
    .ok_or(ScramError::Proof)?;
    Ok(scram_messages::server_final(&signature))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::security::scram_keys::{credential_from_salted, new_credential, salted_password};
    use hmac::{Hmac, KeyInit, Mac};
    use sha2::{Digest, Sha256};

    /// A SCRAM-SHA-256 client, written from the RFC for these tests only.
    pub fn client_final(
        password: &[u8],
        client_first_bare: &str,
        server_first: &str,
        nonce_override: Option<&str>,
    ) -> String {
        let attrs: Vec<&str> = server_first.split(',').collect();
        let nonce = attrs[0].strip_prefix("r=").unwrap();
        let salt = STANDARD
            .decode(attrs[1].strip_prefix("s=").unwrap())
            .unwrap();
        let iterations: u32 = attrs[2].strip_prefix("i=").unwrap().parse().unwrap();
        let salted = salted_password(ScramMechanism::Sha256, password, &salt, iterations);
        let mac = |key: &[u8], msg: &[u8]| {
            let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(key).unwrap();
            m.update(msg);
            m.finalize().into_bytes().to_vec()
        };
        let client_key = mac(&salted, b"Client Key");
        let stored_key = Sha256::digest(&client_key).to_vec();
        let without_proof = format!("c=biws,r={}", nonce_override.unwrap_or(nonce));
        let auth = format!("{client_first_bare},{server_first},{without_proof}");
        let signature = mac(&stored_key, auth.as_bytes());
        let proof: Vec<u8> = client_key
            .iter()
            .zip(&signature)
            .map(|(a, b)| a ^ b)
            .collect();
        format!("{without_proof},p={}", STANDARD.encode(proof))
    }

    fn exchange(password: &[u8], nonce_override: Option<&str>) -> Result<String, ScramError> {
        let stored = new_credential(ScramMechanism::Sha256, b"secret", 4096);
        let (server_first, progress) = first(ScramMechanism::Sha256, b"n,,n=alice,r=abc", |u| {
            (u == "alice").then(|| stored.clone())
        })?;
        assert!(server_first.starts_with("r=abc"));
        let message = client_final(password, "n=alice,r=abc", &server_first, nonce_override);
        last(&progress, message.as_bytes())
    }

    #[test]
    fn right_password_verifies_and_wrong_ones_do_not() {
        assert!(exchange(b"secret", None).unwrap().starts_with("v="));
        assert!(matches!(exchange(b"Secret", None), Err(ScramError::Proof)));
        assert!(matches!(
            exchange(b"secret", Some("abcforged")),
            Err(ScramError::Nonce)
        ));
    }

    #[test]
    fn unknown_users_and_authzids_fail() {
        let none = |_: &str| None;
        assert!(matches!(
            first(ScramMechanism::Sha512, b"n,,n=bob,r=x", none),
            Err(ScramError::UnknownUser("SCRAM-SHA-512"))
        ));
        let salted = salted_password(ScramMechanism::Sha256, b"p", b"s", 4096);
        let c = credential_from_salted(ScramMechanism::Sha256, &salted, b"s".to_vec(), 4096);
        assert!(matches!(
            first(ScramMechanism::Sha256, b"n,a=root,n=bob,r=x", |_| Some(
                c.clone()
            )),
            Err(ScramError::Authzid)
        ));
        assert!(matches!(
            first(
                ScramMechanism::Sha256,
                b"n,,n=bob,r=x,tokenauth=true",
                |_| Some(c.clone())
            ),
            Err(ScramError::Extension)
        ));
    }
}
