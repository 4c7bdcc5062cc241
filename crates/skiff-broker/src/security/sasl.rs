//! One connection's SASL state (Kafka's SaslServerAuthenticator): handshake, the mechanism's
//! exchange, the authenticated principal, and KIP-368 session expiry.

use std::sync::Arc;
use std::time::{Duration, Instant};

use kafka_protocol::messages::ApiKey;
use skiff_meta::{ScramCredential, ScramMechanism};
use thiserror::Error;

use super::SaslMechanism;
use super::plain::{self, PlainError};
use super::scram_keys::password_matches;
use super::scram_server::{self, ScramError, ScramInProgress};

/// Why authentication failed; logged (never with a secret), and answered as
/// SASL_AUTHENTICATION_FAILED.
#[derive(Debug, Error)]
pub enum AuthFailure {
    #[error("{0}")]
    Plain(#[from] PlainError),
    #[error("{0}")]
    Scram(#[from] ScramError),
    #[error("unknown user or wrong password")]
    PlainPassword,
    #[error("re-authentication as {new:?} on a connection authenticated as {old:?}")]
    PrincipalChanged { old: String, new: String },
}

/// A request that does not fit the exchange's state (ILLEGAL_SASL_STATE).
#[derive(Debug, Error)]
#[error("{0} is not expected in this SASL state")]
pub struct IllegalState(pub &'static str);

/// What the connection does with a request while SASL is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Serve it.
    Serve,
    /// Close the connection unanswered: the client has not authenticated (Kafka closes the
    /// same way), or its session expired (KIP-368).
    Close(&'static str),
}

enum State {
    /// Waiting for SaslHandshake (first, or a re-authentication).
    Handshake,
    /// Handshake done; the first token comes next. `raw` after a v0 handshake: tokens then
    /// travel as bare frames instead of SaslAuthenticate requests.
    Token { mechanism: SaslMechanism, raw: bool },
    /// SCRAM's client-final comes next.
    ScramFinal {
        progress: Box<ScramInProgress>,
        raw: bool,
    },
}

/// A finished authentication step.
pub enum Step {
    /// Bytes for the client, and the exchange goes on.
    Challenge(Vec<u8>),
    /// Authenticated: the last bytes for the client (empty for PLAIN), and the session
    /// lifetime to report (0: no re-authentication required).
    Done { reply: Vec<u8>, lifetime_ms: i64 },
}

pub struct SaslSession {
    enabled: Arc<[SaslMechanism]>,
    reauth_after: Option<Duration>,
    state: State,
    /// `User:name` once authenticated (kept through a re-authentication).
    principal: Option<String>,
    expires_at: Option<Instant>,
}

impl SaslSession {
    pub fn new(enabled: Arc<[SaslMechanism]>, reauth_after: Option<Duration>) -> Self {
        SaslSession {
            enabled,
            reauth_after,
            state: State::Handshake,
            principal: None,
            expires_at: None,
        }
    }

    pub fn principal(&self) -> Option<&str> {
        self.principal.as_deref()
    }

    /// Whether the next frame is a bare SASL token (after a v0 handshake).
    pub fn expects_raw_token(&self) -> bool {
        matches!(
            self.state,
            State::Token { raw: true, .. } | State::ScramFinal { raw: true, .. }
        )
    }

    /// Whether a request of `api_key` may be served now.
    pub fn admit(&self, api_key: ApiKey, now: Instant) -> Admission {
        match api_key {
            ApiKey::ApiVersions | ApiKey::SaslHandshake | ApiKey::SaslAuthenticate => {
                Admission::Serve
            }
            _ if self.principal.is_none() => {
                Admission::Close("request before SASL authentication completed")
            }
            _ if self.expires_at.is_some_and(|at| now >= at) => {
                Admission::Close("SASL session expired (connections.max.reauth.ms)")
            }
            _ => Admission::Serve,
        }
    }

    /// The enabled mechanisms, for the handshake response.
    pub fn mechanism_names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.enabled.iter().map(|m| m.name())
    }

    /// SaslHandshake: picks the mechanism. `Ok(false)` when it is not enabled.
    pub fn handshake(&mut self, mechanism: &str, version: i16) -> Result<bool, IllegalState> {
        if !matches!(self.state, State::Handshake) {
            return Err(IllegalState("SaslHandshake"));
        }
        let Some(mechanism) = self.enabled.iter().copied().find(|m| m.name() == mechanism) else {
            return Ok(false);
        };
        self.state = State::Token {
            mechanism,
            raw: version == 0,
        };
        Ok(true)
    }

    /// SaslAuthenticate (or a bare token after a v0 handshake). `lookup` reads a user's
    /// credential from the controller state. Any failure ends the exchange: the connection
    /// then closes.
    pub fn authenticate(
        &mut self,
        token: &[u8],
        lookup: impl Fn(&str, ScramMechanism) -> Option<ScramCredential>,
        now: Instant,
    ) -> Result<Result<Step, AuthFailure>, IllegalState> {
        let state = std::mem::replace(&mut self.state, State::Handshake);
        let outcome = match state {
            State::Handshake => return Err(IllegalState("SaslAuthenticate")),
            State::Token {
                mechanism: SaslMechanism::Plain,
                ..
            } => authenticate_plain(token, &lookup).map(|user| (user, Vec::new())),
            State::Token {
                mechanism: SaslMechanism::Scram(mechanism),
                raw,
            } => match scram_server::first(mechanism, token, |user| lookup(user, mechanism)) {
                Ok((server_first, progress)) => {
                    self.state = State::ScramFinal {
                        progress: Box::new(progress),
                        raw,
                    };
                    return Ok(Ok(Step::Challenge(server_first.into_bytes())));
                }
                Err(e) => Err(e.into()),
            },
            State::ScramFinal { progress, .. } => scram_server::last(&progress, token)
                .map(|server_final| (progress.user().to_string(), server_final.into_bytes()))
                .map_err(AuthFailure::from),
        };
        Ok(outcome.and_then(|(user, reply)| self.complete(&user, reply, now)))
    }

    fn complete(&mut self, user: &str, reply: Vec<u8>, now: Instant) -> Result<Step, AuthFailure> {
        let principal = format!("User:{user}");
        if let Some(old) = &self.principal
            && *old != principal
        {
            return Err(AuthFailure::PrincipalChanged {
                old: old.clone(),
                new: principal,
            });
        }
        self.principal = Some(principal);
        self.expires_at = self.reauth_after.map(|after| now + after);
        let lifetime_ms = self.reauth_after.map_or(0, |after| {
            i64::try_from(after.as_millis()).unwrap_or(i64::MAX)
        });
        Ok(Step::Done { reply, lifetime_ms })
    }
}

/// PLAIN checks the password against the user's stored SCRAM credential (either mechanism).
fn authenticate_plain(
    token: &[u8],
    lookup: &impl Fn(&str, ScramMechanism) -> Option<ScramCredential>,
) -> Result<String, AuthFailure> {
    let (user, password) = plain::parse(token)?;
    let matches = ScramMechanism::ALL.into_iter().find_map(|mechanism| {
        lookup(user, mechanism).map(|credential| password_matches(mechanism, &credential, password))
    });
    match matches {
        Some(true) => Ok(user.to_string()),
        _ => Err(AuthFailure::PlainPassword),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::security::scram_keys::new_credential;
    use crate::security::scram_server::tests::client_final;

    fn session(reauth: Option<Duration>) -> SaslSession {
        SaslSession::new(SaslMechanism::ALL.to_vec().into(), reauth)
    }

    fn users() -> impl Fn(&str, ScramMechanism) -> Option<ScramCredential> {
        let alice = new_credential(ScramMechanism::Sha256, b"secret", 4096);
        move |user, mechanism| {
            (user == "alice" && mechanism == ScramMechanism::Sha256).then(|| alice.clone())
        }
    }

    #[test]
    fn requests_wait_for_authentication_and_expire_with_the_session() {
        let now = Instant::now();
        let mut s = session(Some(Duration::from_secs(10)));
        assert_eq!(s.admit(ApiKey::ApiVersions, now), Admission::Serve);
        assert!(matches!(s.admit(ApiKey::Produce, now), Admission::Close(_)));
        assert!(
            s.authenticate(b"x", users(), now).is_err(),
            "no handshake yet"
        );
        assert!(s.handshake("PLAIN", 1).unwrap());
        assert!(
            s.handshake("PLAIN", 1).is_err(),
            "one handshake per exchange"
        );
        let step = s
            .authenticate(b"\0alice\0secret", users(), now)
            .unwrap()
            .unwrap();
        assert!(matches!(
            step,
            Step::Done {
                lifetime_ms: 10_000,
                ..
            }
        ));
        assert_eq!(s.principal(), Some("User:alice"));
        assert_eq!(s.admit(ApiKey::Produce, now), Admission::Serve);
        let later = now + Duration::from_secs(11);
        assert!(matches!(
            s.admit(ApiKey::Produce, later),
            Admission::Close(_)
        ));
        // Re-authentication renews the session.
        assert!(s.handshake("PLAIN", 1).unwrap());
        s.authenticate(b"\0alice\0secret", users(), later)
            .unwrap()
            .unwrap();
        assert_eq!(s.admit(ApiKey::Produce, later), Admission::Serve);
    }

    #[test]
    fn plain_failures() {
        let now = Instant::now();
        for token in [&b"\0alice\0wrong"[..], b"\0mallory\0secret", b"garbage"] {
            let mut s = session(None);
            assert!(s.handshake("PLAIN", 1).unwrap());
            assert!(s.authenticate(token, users(), now).unwrap().is_err());
            assert!(s.principal().is_none());
        }
        assert!(!session(None).handshake("GSSAPI", 1).unwrap());
    }

    #[test]
    fn scram_exchange_over_the_session() {
        let now = Instant::now();
        let mut s = session(None);
        assert!(s.handshake("SCRAM-SHA-256", 0).unwrap());
        assert!(s.expects_raw_token());
        let Step::Challenge(server_first) = s
            .authenticate(b"n,,n=alice,r=nonce1", users(), now)
            .unwrap()
            .unwrap()
        else {
            panic!("expected the server-first message");
        };
        let server_first = String::from_utf8(server_first).unwrap();
        let last = client_final(b"secret", "n=alice,r=nonce1", &server_first, None);
        let step = s
            .authenticate(last.as_bytes(), users(), now)
            .unwrap()
            .unwrap();
        assert!(matches!(step, Step::Done { lifetime_ms: 0, .. }));
        assert_eq!(s.principal(), Some("User:alice"));
        assert!(!s.expects_raw_token());
    }
}
