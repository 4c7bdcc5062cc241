//! SCRAM credentials by user and mechanism (snapshot format 7).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::ControllerState;
use crate::command::{
    AlterScramCredentials, MAX_SCRAM_ITERATIONS, MAX_USER_NAME_LEN, MIN_SCRAM_ITERATIONS,
    ScramChange, ScramCredential, ScramMechanism, UserError,
};

/// Every user with at least one credential, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRegistry {
    users: BTreeMap<String, BTreeMap<ScramMechanism, ScramCredential>>,
}

impl UserRegistry {
    pub fn credential(&self, user: &str, mechanism: ScramMechanism) -> Option<&ScramCredential> {
        self.users.get(user)?.get(&mechanism)
    }

    /// Users ordered by name, each with its credentials.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &BTreeMap<ScramMechanism, ScramCredential>)> {
        self.users
            .iter()
            .map(|(name, creds)| (name.as_str(), creds))
    }

    pub fn get(&self, user: &str) -> Option<&BTreeMap<ScramMechanism, ScramCredential>> {
        self.users.get(user)
    }

    pub fn len(&self) -> usize {
        self.users.len()
    }

    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    fn apply(&mut self, change: &ScramChange) -> Result<(), UserError> {
        let user = change.user();
        if user.is_empty() || user.len() > MAX_USER_NAME_LEN {
            return Err(UserError::InvalidUserName);
        }
        match change {
            ScramChange::Upsert {
                mechanism,
                credential,
                if_absent,
                ..
            } => {
                if !(MIN_SCRAM_ITERATIONS..=MAX_SCRAM_ITERATIONS).contains(&credential.iterations) {
                    return Err(UserError::Iterations(credential.iterations));
                }
                let key_len = mechanism.key_len();
                if credential.salt.is_empty()
                    || credential.stored_key.len() != key_len
                    || credential.server_key.len() != key_len
                {
                    return Err(UserError::MalformedCredential);
                }
                let creds = self.users.entry(user.to_string()).or_default();
                if !(*if_absent && creds.contains_key(mechanism)) {
                    creds.insert(*mechanism, credential.clone());
                }
                Ok(())
            }
            ScramChange::Delete { mechanism, .. } => {
                let creds = self
                    .users
                    .get_mut(user)
                    .ok_or(UserError::NoCredential(*mechanism))?;
                creds
                    .remove(mechanism)
                    .ok_or(UserError::NoCredential(*mechanism))?;
                if creds.is_empty() {
                    self.users.remove(user);
                }
                Ok(())
            }
        }
    }
}

impl ControllerState {
    pub(super) fn alter_scram_credentials(
        &mut self,
        alter: &AlterScramCredentials,
    ) -> Vec<Result<(), UserError>> {
        alter.changes.iter().map(|c| self.users.apply(c)).collect()
    }

    /// SASL/SCRAM users and their credentials.
    pub fn users(&self) -> &UserRegistry {
        &self.users
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credential(len: usize, iterations: u32) -> ScramCredential {
        ScramCredential {
            salt: vec![1; 16],
            stored_key: vec![2; len],
            server_key: vec![3; len],
            iterations,
        }
    }

    fn upsert(user: &str, credential: ScramCredential, if_absent: bool) -> ScramChange {
        ScramChange::Upsert {
            user: user.to_string(),
            mechanism: ScramMechanism::Sha256,
            credential,
            if_absent,
        }
    }

    #[test]
    fn credentials_are_set_replaced_and_deleted() {
        let mut state = ControllerState::default();
        let answer = state.execute(AlterScramCredentials {
            changes: vec![upsert("alice", credential(32, 4096), false)],
        });
        assert_eq!(answer.unwrap(), vec![Ok(())]);
        let answer = state.execute(AlterScramCredentials {
            changes: vec![
                upsert("alice", credential(32, 8192), true),
                upsert("bob", credential(32, 5000), false),
            ],
        });
        assert_eq!(answer.unwrap(), vec![Ok(()), Ok(())]);
        let alice = state.users().credential("alice", ScramMechanism::Sha256);
        assert_eq!(alice.map(|c| c.iterations), Some(4096), "if_absent kept it");
        let answer = state.execute(AlterScramCredentials {
            changes: vec![
                ScramChange::Delete {
                    user: "alice".into(),
                    mechanism: ScramMechanism::Sha256,
                },
                ScramChange::Delete {
                    user: "alice".into(),
                    mechanism: ScramMechanism::Sha256,
                },
            ],
        });
        assert_eq!(
            answer.unwrap(),
            vec![Ok(()), Err(UserError::NoCredential(ScramMechanism::Sha256))]
        );
        assert!(state.users().get("alice").is_none());
        assert_eq!(state.users().len(), 1);
    }

    #[test]
    fn weak_or_malformed_credentials_are_refused() {
        let mut state = ControllerState::default();
        let answer = state.execute(AlterScramCredentials {
            changes: vec![
                upsert("a", credential(32, 4095), false),
                upsert("a", credential(64, 4096), false),
                upsert("", credential(32, 4096), false),
                upsert("a", credential(32, 16385), false),
            ],
        });
        assert_eq!(
            answer.unwrap(),
            vec![
                Err(UserError::Iterations(4095)),
                Err(UserError::MalformedCredential),
                Err(UserError::InvalidUserName),
                Err(UserError::Iterations(16385)),
            ]
        );
        assert!(state.users().is_empty());
    }
}
