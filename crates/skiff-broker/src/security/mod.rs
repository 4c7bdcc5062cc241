//! Who may talk to the broker: the listener's security protocol (Kafka's names), TLS, and
//! SASL (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512) against the SCRAM users of the controller state.
//!
//! - [`tls`]: the rustls acceptor built from PEM files (`skiff-tls`, which also rebuilds it when
//!   they change) and a client certificate's principal.
//! - [`sasl`]: one connection's authentication state (handshake, exchange, session expiry).
//! - [`scram_messages`]: RFC 5802 message parsing (ours, fuzzed); [`scram_keys`]: the
//!   cryptography, on RustCrypto's HMAC, SHA-2 and PBKDF2.
//! - [`bootstrap`]: the first users from `--add-scram`, and `--super-users`.
//! - [`authorizer`]: ACLs (Kafka's StandardAuthorizer), enforced by the handlers.

pub mod authorizer;
pub mod bootstrap;
mod plain;
pub mod sasl;
pub mod scram_keys;
mod scram_messages;
mod scram_server;
pub mod tls;

use std::fmt;
use std::str::FromStr;

use serde::Deserialize;

/// Kafka's `security.protocol` names for a listener.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum SecurityProtocol {
    #[default]
    #[serde(rename = "PLAINTEXT")]
    Plaintext,
    #[serde(rename = "SSL")]
    Ssl,
    #[serde(rename = "SASL_PLAINTEXT")]
    SaslPlaintext,
    #[serde(rename = "SASL_SSL")]
    SaslSsl,
}

impl SecurityProtocol {
    pub const ALL: [SecurityProtocol; 4] = [
        SecurityProtocol::Plaintext,
        SecurityProtocol::Ssl,
        SecurityProtocol::SaslPlaintext,
        SecurityProtocol::SaslSsl,
    ];

    pub fn name(self) -> &'static str {
        match self {
            SecurityProtocol::Plaintext => "PLAINTEXT",
            SecurityProtocol::Ssl => "SSL",
            SecurityProtocol::SaslPlaintext => "SASL_PLAINTEXT",
            SecurityProtocol::SaslSsl => "SASL_SSL",
        }
    }

    pub fn uses_tls(self) -> bool {
        matches!(self, SecurityProtocol::Ssl | SecurityProtocol::SaslSsl)
    }

    pub fn uses_sasl(self) -> bool {
        matches!(
            self,
            SecurityProtocol::SaslPlaintext | SecurityProtocol::SaslSsl
        )
    }
}

impl fmt::Display for SecurityProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for SecurityProtocol {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SecurityProtocol::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                format!("unknown security protocol {s:?}: use PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL")
            })
    }
}

/// A SASL mechanism the broker can serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaslMechanism {
    Plain,
    Scram(skiff_meta::ScramMechanism),
}

impl SaslMechanism {
    pub const ALL: [SaslMechanism; 3] = [
        SaslMechanism::Plain,
        SaslMechanism::Scram(skiff_meta::ScramMechanism::Sha256),
        SaslMechanism::Scram(skiff_meta::ScramMechanism::Sha512),
    ];

    pub fn name(self) -> &'static str {
        match self {
            SaslMechanism::Plain => "PLAIN",
            SaslMechanism::Scram(m) => m.name(),
        }
    }

    pub fn from_name(name: &str) -> Option<SaslMechanism> {
        SaslMechanism::ALL.into_iter().find(|m| m.name() == name)
    }
}

/// A Kafka principal (`User:name`) as `--super-users` lists them, `;`-separated.
pub fn parse_super_users(list: &str) -> Result<Vec<String>, String> {
    list.split(';')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|principal| match principal.split_once(':') {
            Some((kind, name)) if !kind.is_empty() && !name.is_empty() => Ok(principal.to_string()),
            _ => Err(format!(
                "super user {principal:?} is not a principal like User:admin"
            )),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocols_and_mechanisms_have_kafkas_names() {
        for p in SecurityProtocol::ALL {
            assert_eq!(p.name().parse::<SecurityProtocol>(), Ok(p));
        }
        assert!("TLS".parse::<SecurityProtocol>().is_err());
        for m in SaslMechanism::ALL {
            assert_eq!(SaslMechanism::from_name(m.name()), Some(m));
        }
        assert_eq!(SaslMechanism::from_name("GSSAPI"), None);
    }

    #[test]
    fn super_users_parse_as_kafka_lists_them() {
        assert_eq!(
            parse_super_users("User:admin;User:ops").unwrap(),
            vec!["User:admin", "User:ops"]
        );
        assert!(parse_super_users("admin").is_err());
        assert!(parse_super_users("User:").is_err());
        assert_eq!(parse_super_users("").unwrap(), Vec::<String>::new());
    }
}
