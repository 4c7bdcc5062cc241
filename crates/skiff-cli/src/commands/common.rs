//! What every client command shares: where the cluster is, and how output is shaped.

use std::time::Duration;

use anyhow::Context;
use clap::Args;
use serde_json::{Map, Value};
use skiff_bench::properties::Properties;
use skiff_client::{AlterConfigOp, ClientConfig, DEFAULT_BOOTSTRAP, KafkaClient};

#[derive(Debug, Clone, Args)]
pub struct ClientArgs {
    /// Kafka bootstrap addresses, comma-separated.
    #[arg(
        long,
        short = 'b',
        env = "SKIFF_BOOTSTRAP",
        default_value = DEFAULT_BOOTSTRAP,
        value_name = "HOST:PORT[,HOST:PORT...]"
    )]
    pub bootstrap: String,

    /// Print JSON for scripts instead of text for people.
    #[arg(long)]
    pub json: bool,

    /// Give up on a broker request after this many milliseconds.
    #[arg(long, default_value_t = 30_000, value_name = "MS")]
    pub timeout_ms: u64,

    /// Kafka client properties for TLS and SASL, as Kafka's tools take them:
    /// security.protocol, sasl.mechanism, sasl.username, sasl.password (or sasl.jaas.config),
    /// ssl.ca.location, ssl.certificate.location, ssl.key.location.
    #[arg(long, env = "SKIFF_COMMAND_CONFIG", value_name = "FILE", value_parser = skiff_bench::properties::parse_properties_file)]
    pub command_config: Option<Properties>,
}

impl ClientArgs {
    pub async fn connect(&self) -> anyhow::Result<KafkaClient> {
        let mut config = ClientConfig::new(&self.bootstrap);
        config.client_id = "skiff-cli".to_owned();
        config.request_timeout = Duration::from_millis(self.timeout_ms.max(1));
        if let Some(props) = &self.command_config {
            super::command_config::apply(props, &mut config).context("--command-config")?;
        }
        Ok(KafkaClient::connect(config).await?)
    }
}

/// Parses `key=value` (the value may contain `=`).
pub fn parse_key_value(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
        _ => Err(format!("{text:?} is not key=value")),
    }
}

/// The IncrementalAlterConfigs operations of `--set K=V` and `--delete K` flags.
pub fn config_ops(set: &[(String, String)], delete: &[String]) -> Vec<AlterConfigOp> {
    set.iter()
        .map(|(k, v)| AlterConfigOp::Set(k.clone(), v.clone()))
        .chain(delete.iter().map(|k| AlterConfigOp::Delete(k.clone())))
        .collect()
}

/// `--set K=V` flags as a JSON object, for `--json` answers.
pub fn config_set_json(set: &[(String, String)]) -> Map<String, Value> {
    set.iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_values_split_at_the_first_equals_sign() {
        assert_eq!(
            parse_key_value("a=b=c").unwrap(),
            ("a".to_owned(), "b=c".to_owned())
        );
        assert_eq!(
            parse_key_value("a=").unwrap(),
            ("a".to_owned(), String::new())
        );
        assert!(parse_key_value("=b").is_err());
        assert!(parse_key_value("ab").is_err());
    }
}
