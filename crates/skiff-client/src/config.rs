use std::sync::Arc;
use std::time::Duration;

use crate::security::SaslCredentials;

/// Where `skiff` looks for a cluster when no bootstrap address is given.
pub const DEFAULT_BOOTSTRAP: &str = "127.0.0.1:9092";

/// Connection settings shared by every broker connection of a [`crate::KafkaClient`].
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// `host:port` addresses tried in order until one answers.
    pub bootstrap: Vec<String>,
    /// Sent as the request header's client id.
    pub client_id: String,
    pub connect_timeout: Duration,
    /// How long a request may wait for its response. Fetch adds its own `max_wait` on top.
    pub request_timeout: Duration,
    /// Requests written to one connection but not yet answered; senders wait beyond it.
    pub max_in_flight_per_connection: usize,
    /// Largest response frame accepted; a larger one closes the connection.
    pub max_response_bytes: usize,
    /// TLS on every connection (`SSL`, `SASL_SSL`); see [`crate::security::tls_config`].
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// SASL login on every connection (`SASL_PLAINTEXT`, `SASL_SSL`).
    pub sasl: Option<SaslCredentials>,
}

impl ClientConfig {
    /// Settings for a comma-separated bootstrap list such as `"a:9092,b:9092"`.
    pub fn new(bootstrap: &str) -> Self {
        ClientConfig {
            bootstrap: bootstrap
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            ..ClientConfig::default()
        }
    }
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            bootstrap: vec![DEFAULT_BOOTSTRAP.to_owned()],
            client_id: "skiff".to_owned(),
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            max_in_flight_per_connection: 32,
            max_response_bytes: 256 * 1024 * 1024,
            tls: None,
            sasl: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bootstrap_lists_split_on_commas_and_ignore_blanks() {
        let config = ClientConfig::new(" a:1, b:2 ,,");
        assert_eq!(config.bootstrap, ["a:1", "b:2"]);
    }
}
