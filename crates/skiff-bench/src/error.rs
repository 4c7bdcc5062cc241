//! Why a bench run failed, in words a person at a terminal can act on.

use std::time::Duration;

use rdkafka::error::KafkaError;

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error(
        "no Kafka broker answered at {bootstrap} within {}s ({source}); is the broker running \
         there? (--bootstrap or SKIFF_BOOTSTRAP)",
        timeout.as_secs_f64()
    )]
    Unreachable {
        bootstrap: String,
        timeout: Duration,
        source: KafkaError,
    },

    #[error("topic {topic:?} does not exist; produce to it first (skiff bench produce)")]
    TopicMissing { topic: String },

    #[error("topic {topic:?} has no partitions")]
    NoPartitions { topic: String },

    #[error("cannot create topic {topic:?}: {reason}")]
    TopicCreate { topic: String, reason: String },

    #[error("cannot {action}: {source}")]
    Kafka {
        action: &'static str,
        source: KafkaError,
    },

    #[error("invalid setting: {0}")]
    InvalidSetting(String),

    #[error(
        "no record arrived for {}s after {consumed} of {expected} records; is something still \
         writing, or were fewer records there than expected?",
        idle.as_secs_f64()
    )]
    Idle {
        consumed: u64,
        expected: u64,
        idle: Duration,
    },

    #[error("cannot start the {name} thread: {source}")]
    Spawn {
        name: &'static str,
        source: std::io::Error,
    },

    #[error("the {name} thread stopped unexpectedly")]
    WorkerLost { name: &'static str },

    #[error("cannot print the summary: {0}")]
    Output(#[from] std::io::Error),
}

/// What librdkafka's own "not in this build" messages mean for a user of `skiff bench`.
const NO_TLS: &str = "skiff bench's librdkafka is built without OpenSSL, so it connects with \
                      security.protocol PLAINTEXT, or SASL_PLAINTEXT with sasl.mechanism PLAIN; \
                      use another Kafka load generator for SSL, SASL_SSL or SCRAM";

impl BenchError {
    /// A client could not be created: a setting librdkafka refused is named with librdkafka's
    /// reason but without its value, which may be a password from --command-config.
    pub fn client_creation(action: &'static str, source: KafkaError) -> BenchError {
        let error = match source {
            KafkaError::ClientConfig(_, reason, key, _) => {
                BenchError::InvalidSetting(format!("{key}: {reason}"))
            }
            source => BenchError::Kafka { action, source },
        };
        let text = error.to_string();
        if text.contains("OpenSSL not available") || text.contains("recompile librdkafka") {
            return BenchError::InvalidSetting(format!("{text} ({NO_TLS})"));
        }
        error
    }
}
