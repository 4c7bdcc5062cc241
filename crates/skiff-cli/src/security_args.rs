//! The listener security flags of `skiff dev` and `skiff broker`, with Kafka's names: the
//! security protocol, TLS files, SASL mechanisms, re-authentication, and the first users.

use std::path::PathBuf;

use clap::Args;
use skiff_broker::BrokerConfig;
use skiff_broker::security::SecurityProtocol;
use skiff_broker::security::bootstrap::AddScram;
use skiff_broker::security::parse_super_users;

#[derive(Debug, Default, Args)]
pub struct SecurityArgs {
    /// Listener protocol: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL (security.protocol)
    /// [default: PLAINTEXT].
    #[arg(long, env = "SKIFF_SECURITY_PROTOCOL", value_name = "PROTOCOL")]
    pub security_protocol: Option<SecurityProtocol>,

    /// PEM certificate chain of the listener (SSL, SASL_SSL).
    #[arg(long, env = "SKIFF_TLS_CERT_FILE", value_name = "FILE")]
    pub tls_cert_file: Option<PathBuf>,

    /// PEM private key of the listener (SSL, SASL_SSL).
    #[arg(long, env = "SKIFF_TLS_KEY_FILE", value_name = "FILE")]
    pub tls_key_file: Option<PathBuf>,

    /// PEM CA certificates for mutual TLS: clients must present a certificate signed by one
    /// (ssl.client.auth=required); the principal is its subject.
    #[arg(long, env = "SKIFF_TLS_CLIENT_CA_FILE", value_name = "FILE")]
    pub tls_client_ca_file: Option<PathBuf>,

    /// SASL mechanisms offered (sasl.enabled.mechanisms)
    /// [default: PLAIN,SCRAM-SHA-256,SCRAM-SHA-512].
    #[arg(
        long,
        env = "SKIFF_SASL_MECHANISMS",
        value_name = "MECHANISM[,MECHANISM...]",
        value_delimiter = ','
    )]
    pub sasl_mechanisms: Option<Vec<String>>,

    /// Authenticated sessions last this long; clients re-authenticate on the connection
    /// (connections.max.reauth.ms, KIP-368; 0: never) [default: 0].
    #[arg(long, env = "SKIFF_CONNECTIONS_MAX_REAUTH_MS", value_name = "MS")]
    pub connections_max_reauth_ms: Option<u64>,

    /// A SCRAM user created at start-up if it has no credential for the mechanism yet, in
    /// Kafka's syntax: 'SCRAM-SHA-256=[name=admin,password=admin-secret]'. Repeatable.
    #[arg(long, value_name = "MECHANISM=[name=USER,password=PASSWORD]")]
    pub add_scram: Vec<AddScram>,

    /// Principals that bypass the ACLs, ';'-separated: 'User:admin;User:ops' (super.users).
    #[arg(
        long,
        env = "SKIFF_SUPER_USERS",
        value_name = "User:NAME[;User:NAME...]"
    )]
    pub super_users: Option<String>,

    /// Check every request against the ACLs: 'acl' is Kafka's StandardAuthorizer
    /// (authorizer.class.name). Without it every client may do everything and the ACL APIs
    /// answer SECURITY_DISABLED, as in Kafka.
    #[arg(long, env = "SKIFF_AUTHORIZER", value_name = "acl")]
    pub authorizer: Option<AuthorizerKind>,

    /// With --authorizer acl: a resource no ACL names is open to everyone
    /// (allow.everyone.if.no.acl.found) [default: false: no ACL, no access].
    #[arg(long, env = "SKIFF_ALLOW_EVERYONE_IF_NO_ACL_FOUND")]
    pub allow_everyone_if_no_acl_found: bool,
}

/// The authorizers `--authorizer` accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AuthorizerKind {
    /// ACLs in the controller state, with Kafka's StandardAuthorizer rules.
    Acl,
}

impl SecurityArgs {
    pub fn apply_to(&self, broker: &mut BrokerConfig) -> Result<(), String> {
        if let Some(protocol) = self.security_protocol {
            broker.security_protocol = protocol;
        }
        if let Some(file) = &self.tls_cert_file {
            broker.tls_cert_file = Some(file.clone());
        }
        if let Some(file) = &self.tls_key_file {
            broker.tls_key_file = Some(file.clone());
        }
        if let Some(file) = &self.tls_client_ca_file {
            broker.tls_client_ca_file = Some(file.clone());
        }
        if let Some(mechanisms) = &self.sasl_mechanisms {
            broker.sasl_mechanisms = mechanisms.clone();
        }
        if let Some(ms) = self.connections_max_reauth_ms {
            broker.connections_max_reauth_ms = ms;
        }
        if let Some(list) = &self.super_users {
            broker.super_users = parse_super_users(list)?;
        }
        // Flags only switch on: a config file's `acl_authorizer = true` stays.
        if self.authorizer == Some(AuthorizerKind::Acl) {
            broker.acl_authorizer = true;
        }
        if self.allow_everyone_if_no_acl_found {
            if !broker.acl_authorizer {
                return Err(
                    "--allow-everyone-if-no-acl-found needs --authorizer acl (without an authorizer everyone is allowed already)"
                        .to_string(),
                );
            }
            broker.allow_everyone_if_no_acl_found = true;
        }
        Ok(())
    }
}
