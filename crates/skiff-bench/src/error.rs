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
