//! The first SCRAM users, given at start-up with Kafka's `kafka-storage format --add-scram`
//! syntax: `SCRAM-SHA-256=[name=admin,password=admin-secret]` (optionally `iterations=N`).

use skiff_meta::{
    AlterScramCredentials, ControllerClient, MIN_SCRAM_ITERATIONS, Propose, ScramChange,
    ScramMechanism,
};

use super::scram_keys::new_credential;
use crate::error::BrokerError;

/// Kafka's default SCRAM iteration count.
pub const DEFAULT_SCRAM_ITERATIONS: u32 = MIN_SCRAM_ITERATIONS;

/// One `--add-scram` value.
#[derive(Clone, PartialEq, Eq)]
pub struct AddScram {
    pub mechanism: ScramMechanism,
    pub user: String,
    pub password: String,
    pub iterations: u32,
}

// The password stays out of logs and error messages.
impl std::fmt::Debug for AddScram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AddScram")
            .field("mechanism", &self.mechanism.name())
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

impl std::str::FromStr for AddScram {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let shape = || {
            "expected MECHANISM=[name=USER,password=PASSWORD], e.g. \
             SCRAM-SHA-256=[name=admin,password=admin-secret]"
                .to_string()
        };
        let (mechanism, rest) = text.split_once('=').ok_or_else(shape)?;
        let mechanism = ScramMechanism::from_name(mechanism.trim()).ok_or_else(|| {
            format!("unknown SCRAM mechanism {mechanism:?}: use SCRAM-SHA-256 or SCRAM-SHA-512")
        })?;
        let fields = rest
            .trim()
            .strip_prefix('[')
            .and_then(|r| r.strip_suffix(']'))
            .ok_or_else(shape)?;
        let (mut user, mut password, mut iterations) = (None, None, DEFAULT_SCRAM_ITERATIONS);
        for field in fields.split(',') {
            match field.split_once('=') {
                Some(("name", v)) => user = Some(v.trim_matches('"').to_string()),
                Some(("password", v)) => password = Some(v.trim_matches('"').to_string()),
                Some(("iterations", v)) => {
                    iterations = v
                        .parse()
                        .map_err(|_| format!("iterations {v:?} is not a number"))?
                }
                _ => return Err(shape()),
            }
        }
        match (user, password) {
            (Some(user), Some(password)) if !user.is_empty() => Ok(AddScram {
                mechanism,
                user,
                password,
                iterations,
            }),
            _ => Err(shape()),
        }
    }
}

/// Creates each user that has no credential for its mechanism yet; an existing credential
/// (a password changed since) is left alone, so restarting with the same flags is harmless.
pub async fn create_first_users(
    controller: &dyn ControllerClient,
    users: &[AddScram],
) -> Result<(), BrokerError> {
    if users.is_empty() {
        return Ok(());
    }
    let changes = users
        .iter()
        .map(|u| ScramChange::Upsert {
            user: u.user.clone(),
            mechanism: u.mechanism,
            credential: new_credential(u.mechanism, u.password.as_bytes(), u.iterations),
            if_absent: true,
        })
        .collect();
    let answers = controller
        .propose(AlterScramCredentials { changes })
        .await?;
    for (user, answer) in users.iter().zip(answers) {
        answer.map_err(|e| {
            BrokerError::InvalidConfig(format!("--add-scram for user {:?}: {e}", user.user))
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafka_add_scram_syntax() {
        let a: AddScram = "SCRAM-SHA-256=[name=admin,password=admin-secret]"
            .parse()
            .unwrap();
        assert_eq!(a.user, "admin");
        assert_eq!(a.password, "admin-secret");
        assert_eq!(a.mechanism, ScramMechanism::Sha256);
        assert_eq!(a.iterations, 4096);
        let b: AddScram = "SCRAM-SHA-512=[name=\"ops\",password=\"hunter2\",iterations=8192]"
            .parse()
            .unwrap();
        assert_eq!((b.user.as_str(), b.iterations), ("ops", 8192));
        assert!(
            !format!("{b:?}").contains("hunter2"),
            "Debug hides the password"
        );
        assert!(
            "SCRAM-SHA-1=[name=a,password=b]"
                .parse::<AddScram>()
                .is_err()
        );
        assert!("SCRAM-SHA-256=[name=a]".parse::<AddScram>().is_err());
        assert!(
            "SCRAM-SHA-256=name=a,password=b"
                .parse::<AddScram>()
                .is_err()
        );
    }
}
