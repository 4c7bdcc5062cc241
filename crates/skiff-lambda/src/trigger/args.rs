//! The flags of `skiff trigger`, named after the event source mapping's settings.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

use super::config_file::{self, ConfigFileError};
use super::settings::{Naming, SettingsError, TriggerSettings, TriggerSpec};

pub const EXAMPLES: &str = "Examples:\n  \
    skiff trigger --topic orders --group orders-fn --function-name orders \\\n    \
    --lambda-endpoint http://127.0.0.1:9000 --batch-size 500 --report-batch-item-failures\n  \
    skiff trigger --topic orders --group orders-fn --region eu-west-1 \\\n    \
    --function-name arn:aws:lambda:eu-west-1:123456789012:function:orders --on-failure-topic orders-failed\n  \
    skiff trigger --config triggers.toml --metrics-addr 127.0.0.1:9464\n\n\
    Credentials and region come from the usual AWS variables and profiles (AWS_ACCESS_KEY_ID,\n\
    AWS_SECRET_ACCESS_KEY, AWS_PROFILE, AWS_REGION); any values do for a local emulator such as\n\
    `cargo lambda watch`.";

/// Flags that would set one trigger; with `--config` they belong in the file instead.
const PER_TRIGGER: [&str; 12] = [
    "topics",
    "group",
    "function_name",
    "batch_size",
    "batching_window_ms",
    "starting_position",
    "starting_timestamp",
    "maximum_retry_attempts",
    "maximum_record_age_s",
    "bisect_batch_on_function_error",
    "report_batch_item_failures",
    "on_failure_topic",
];

#[derive(Debug, Clone, Args)]
pub struct TriggerArgs {
    /// TOML file with several triggers ([[trigger]] sections; the other flags here are then
    /// defaults for them, or not allowed).
    #[arg(long, value_name = "FILE", conflicts_with_all = PER_TRIGGER)]
    pub config: Option<PathBuf>,

    /// Kafka bootstrap addresses, comma-separated (any Kafka cluster, not only Skiff).
    #[arg(
        long,
        short = 'b',
        env = "SKIFF_BOOTSTRAP",
        value_name = "HOST:PORT[,HOST:PORT...]"
    )]
    pub bootstrap: Option<String>,

    /// Topic to read; repeat for several.
    #[arg(long = "topic", value_name = "TOPIC")]
    pub topics: Vec<String>,

    /// Consumer group the trigger joins and commits to (several triggers with one group share
    /// the partitions).
    #[arg(long, value_name = "GROUP")]
    pub group: Option<String>,

    /// The function: a name, a partial ARN or a full ARN (with an optional version or alias).
    #[arg(long, value_name = "NAME_OR_ARN")]
    pub function_name: Option<String>,

    /// Lambda API endpoint, e.g. a local emulator http://127.0.0.1:9000 [default: AWS's for the
    /// region].
    #[arg(long, env = "SKIFF_LAMBDA_ENDPOINT", value_name = "URL")]
    pub lambda_endpoint: Option<String>,

    /// AWS region [default: AWS_REGION, the profile's, or us-east-1 with --lambda-endpoint].
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,

    /// Most records per invocation, 1 to 10000 [default: 100]; a batch is also cut before its
    /// event would exceed Lambda's 6 MB payload limit.
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub batch_size: Option<i64>,

    /// Longest a batch waits to fill, 0 to 300000 ms [default: 500].
    #[arg(long, value_name = "MS", allow_negative_numbers = true)]
    pub batching_window_ms: Option<i64>,

    /// Where a partition with no committed offset starts: TRIM_HORIZON (oldest), LATEST or
    /// AT_TIMESTAMP [default: TRIM_HORIZON].
    #[arg(long, value_name = "POSITION")]
    pub starting_position: Option<String>,

    /// For AT_TIMESTAMP: an RFC 3339 time or milliseconds since the epoch.
    #[arg(long, value_name = "TIME")]
    pub starting_timestamp: Option<String>,

    /// Retries of a failed batch: -1 until the records expire, or 0 to 10000 [default: -1;
    /// with --on-failure-topic, -1 means 10].
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub maximum_retry_attempts: Option<i64>,

    /// Records older than this are not invoked again: -1 (no limit) or 60 to 604800 s
    /// [default: -1].
    #[arg(long, value_name = "SECONDS", allow_negative_numbers = true)]
    pub maximum_record_age_s: Option<i64>,

    /// On a function error, split the batch in two and retry each half.
    #[arg(long)]
    pub bisect_batch_on_function_error: bool,

    /// Read {"batchItemFailures":[...]} answers and retry a partition from its lowest failed
    /// offset only.
    #[arg(long)]
    pub report_batch_item_failures: bool,

    /// Kafka topic on the same cluster for records that exhausted their retries (with headers
    /// saying why); it must exist.
    #[arg(long, value_name = "TOPIC")]
    pub on_failure_topic: Option<String>,

    /// librdkafka property for the consumer and the failure-topic producer, e.g.
    /// session.timeout.ms=30000; repeatable.
    #[arg(long = "kafka-property", value_name = "KEY=VALUE", value_parser = parse_property)]
    pub kafka_properties: Vec<(String, String)>,

    /// Serve Prometheus metrics on http://HOST:PORT/metrics [default: off].
    #[arg(long, env = "SKIFF_METRICS_ADDR", value_name = "HOST:PORT")]
    pub metrics_addr: Option<SocketAddr>,
}

#[derive(Debug, thiserror::Error)]
pub enum ArgsError {
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error(transparent)]
    File(#[from] ConfigFileError),
}

impl TriggerArgs {
    /// The triggers these flags describe: one from the flags, or every one in `--config`.
    pub fn triggers(&self) -> Result<Vec<TriggerSettings>, ArgsError> {
        let given = TriggerSpec {
            bootstrap: self.bootstrap.clone(),
            lambda_endpoint: self.lambda_endpoint.clone(),
            region: self.region.clone(),
            kafka_properties: self.kafka_properties.iter().cloned().collect(),
            ..TriggerSpec::default()
        };
        let builtin = TriggerSpec {
            bootstrap: Some(super::DEFAULT_BOOTSTRAP.to_owned()),
            ..TriggerSpec::default()
        };
        if let Some(path) = &self.config {
            return Ok(config_file::load(path, &given, &builtin)?);
        }
        let shared = given.with_defaults(&builtin);
        let spec = TriggerSpec {
            topics: (!self.topics.is_empty()).then(|| self.topics.clone()),
            group: self.group.clone(),
            function_name: self.function_name.clone(),
            batch_size: self.batch_size,
            batching_window_ms: self.batching_window_ms,
            starting_position: self.starting_position.clone(),
            starting_timestamp: self.starting_timestamp.clone(),
            maximum_retry_attempts: self.maximum_retry_attempts,
            maximum_record_age_s: self.maximum_record_age_s,
            bisect_batch_on_function_error: Some(self.bisect_batch_on_function_error),
            report_batch_item_failures: Some(self.report_batch_item_failures),
            on_failure_topic: self.on_failure_topic.clone(),
            ..shared
        };
        Ok(vec![spec.validate(Naming::Flags)?])
    }
}

fn parse_property(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => {
            Ok((key.trim().to_owned(), value.to_owned()))
        }
        _ => Err(format!("{text:?} is not KEY=VALUE")),
    }
}
