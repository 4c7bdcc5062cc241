//! SASL/SCRAM users: DescribeUserScramCredentials and AlterUserScramCredentials. The caller
//! salts and hashes the password (the protocol carries only the salted password).

use kafka_protocol::messages::alter_user_scram_credentials_request::{
    ScramCredentialDeletion, ScramCredentialUpsertion,
};
use kafka_protocol::messages::describe_user_scram_credentials_request::UserName;
use kafka_protocol::messages::{
    AlterUserScramCredentialsRequest, DescribeUserScramCredentialsRequest,
};

use super::str_bytes;
use super::topics::missing;
use crate::client::KafkaClient;
use crate::error::ClientError;

/// A user and its SCRAM credentials: Kafka's mechanism code (1 SCRAM-SHA-256, 2
/// SCRAM-SHA-512) and iteration count of each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserDescription {
    pub user: String,
    pub credentials: Vec<(i8, i32)>,
}

/// One credential to set: the salt, iterations and `Hi(password, salt, iterations)`.
#[derive(Clone, PartialEq, Eq)]
pub struct ScramUpsertion {
    pub user: String,
    pub mechanism: i8,
    pub iterations: i32,
    pub salt: Vec<u8>,
    pub salted_password: Vec<u8>,
}

impl KafkaClient {
    /// Every user (for `None`) or the named ones.
    pub async fn describe_users(
        &self,
        users: Option<&[String]>,
    ) -> Result<Vec<UserDescription>, ClientError> {
        let request = describe_users_request(users);
        let connection = self.any_broker().await?;
        let response = connection.send(&request).await?;
        if response.error_code != 0 {
            return Err(ClientError::kafka(
                response.error_code,
                "cannot describe users",
                response.error_message.as_deref(),
            ));
        }
        response
            .results
            .into_iter()
            .map(|r| {
                if r.error_code != 0 {
                    return Err(ClientError::kafka(
                        r.error_code,
                        format!("cannot describe user {}", r.user.as_str()),
                        r.error_message.as_deref(),
                    ));
                }
                Ok(UserDescription {
                    user: r.user.to_string(),
                    credentials: r
                        .credential_infos
                        .iter()
                        .map(|c| (c.mechanism, c.iterations))
                        .collect(),
                })
            })
            .collect()
    }

    /// Sets one user's credential for one mechanism.
    pub async fn upsert_scram_credential(
        &self,
        upsertion: &ScramUpsertion,
    ) -> Result<(), ClientError> {
        let request = alter_users_request(Some(upsertion), None);
        self.alter_user(&upsertion.user, &request).await
    }

    /// Deletes one user's credential for one mechanism.
    pub async fn delete_scram_credential(
        &self,
        user: &str,
        mechanism: i8,
    ) -> Result<(), ClientError> {
        let request = alter_users_request(None, Some((user, mechanism)));
        self.alter_user(user, &request).await
    }

    async fn alter_user(
        &self,
        user: &str,
        request: &AlterUserScramCredentialsRequest,
    ) -> Result<(), ClientError> {
        let context = format!("cannot change the credentials of user {user}");
        let connection = self.any_broker().await?;
        let response = connection.send(request).await?;
        let result = response
            .results
            .iter()
            .find(|r| r.user.as_str() == user)
            .ok_or_else(|| missing(&context))?;
        if result.error_code != 0 {
            return Err(ClientError::kafka(
                result.error_code,
                context,
                result.error_message.as_deref(),
            ));
        }
        Ok(())
    }
}

pub(crate) fn describe_users_request(
    users: Option<&[String]>,
) -> DescribeUserScramCredentialsRequest {
    DescribeUserScramCredentialsRequest::default().with_users(users.map(|users| {
        users
            .iter()
            .map(|u| UserName::default().with_name(str_bytes(u)))
            .collect()
    }))
}

pub(crate) fn alter_users_request(
    upsertion: Option<&ScramUpsertion>,
    deletion: Option<(&str, i8)>,
) -> AlterUserScramCredentialsRequest {
    AlterUserScramCredentialsRequest::default()
        .with_upsertions(
            upsertion
                .map(|u| {
                    ScramCredentialUpsertion::default()
                        .with_name(str_bytes(&u.user))
                        .with_mechanism(u.mechanism)
                        .with_iterations(u.iterations)
                        .with_salt(u.salt.clone().into())
                        .with_salted_password(u.salted_password.clone().into())
                })
                .into_iter()
                .collect(),
        )
        .with_deletions(
            deletion
                .map(|(user, mechanism)| {
                    ScramCredentialDeletion::default()
                        .with_name(str_bytes(user))
                        .with_mechanism(mechanism)
                })
                .into_iter()
                .collect(),
        )
}
