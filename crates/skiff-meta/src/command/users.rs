//! SASL/SCRAM users: salted, iterated credentials only (RFC 5802's StoredKey and ServerKey),
//! never a password. The broker derives the keys; the controller only checks their shape.

use serde::{Deserialize, Serialize};

/// Fewest PBKDF2 iterations a credential may use (Kafka's minimum).
pub const MIN_SCRAM_ITERATIONS: u32 = 4096;
/// Most PBKDF2 iterations a credential may use (Kafka's maximum): bounds the work one login
/// costs the broker.
pub const MAX_SCRAM_ITERATIONS: u32 = 16384;
/// Longest user name accepted.
pub const MAX_USER_NAME_LEN: usize = 255;

/// The SCRAM hash functions Kafka defines, with Kafka's wire codes (1 and 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ScramMechanism {
    Sha256,
    Sha512,
}

impl ScramMechanism {
    pub const ALL: [ScramMechanism; 2] = [ScramMechanism::Sha256, ScramMechanism::Sha512];

    /// The SASL mechanism name (`SCRAM-SHA-256`).
    pub fn name(self) -> &'static str {
        match self {
            ScramMechanism::Sha256 => "SCRAM-SHA-256",
            ScramMechanism::Sha512 => "SCRAM-SHA-512",
        }
    }

    pub fn from_name(name: &str) -> Option<ScramMechanism> {
        ScramMechanism::ALL.into_iter().find(|m| m.name() == name)
    }

    /// Kafka's code in DescribeUserScramCredentials and AlterUserScramCredentials.
    pub fn code(self) -> i8 {
        match self {
            ScramMechanism::Sha256 => 1,
            ScramMechanism::Sha512 => 2,
        }
    }

    pub fn from_code(code: i8) -> Option<ScramMechanism> {
        ScramMechanism::ALL.into_iter().find(|m| m.code() == code)
    }

    /// Bytes of the hash, so of StoredKey and ServerKey.
    pub fn key_len(self) -> usize {
        match self {
            ScramMechanism::Sha256 => 32,
            ScramMechanism::Sha512 => 64,
        }
    }
}

/// What the server keeps for one user and mechanism (RFC 5802 section 3).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScramCredential {
    pub salt: Vec<u8>,
    pub stored_key: Vec<u8>,
    pub server_key: Vec<u8>,
    pub iterations: u32,
}

// Never print key material, not even in debug logs.
impl std::fmt::Debug for ScramCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScramCredential")
            .field("iterations", &self.iterations)
            .finish_non_exhaustive()
    }
}

/// One change to a user's credentials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ScramChange {
    /// Sets the user's credential for the mechanism; with `if_absent`, only when it has none
    /// (the first super user given at start-up never overwrites a changed password).
    Upsert {
        user: String,
        mechanism: ScramMechanism,
        credential: ScramCredential,
        if_absent: bool,
    },
    Delete {
        user: String,
        mechanism: ScramMechanism,
    },
}

impl ScramChange {
    pub fn user(&self) -> &str {
        match self {
            ScramChange::Upsert { user, .. } | ScramChange::Delete { user, .. } => user,
        }
    }
}

/// Applies credential changes in order, each on its own: one refused change leaves the others.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlterScramCredentials {
    pub changes: Vec<ScramChange>,
}

/// Why a credential change was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum UserError {
    #[error("user names must be 1 to {MAX_USER_NAME_LEN} bytes")]
    InvalidUserName,
    #[error(
        "iterations must be between {MIN_SCRAM_ITERATIONS} and {MAX_SCRAM_ITERATIONS}, not {0}"
    )]
    Iterations(u32),
    #[error("the salt is empty or the keys do not have the mechanism's length")]
    MalformedCredential,
    #[error("the user has no {} credential", .0.name())]
    NoCredential(ScramMechanism),
}
