//! Why a trigger could not start, in words a person at a terminal can act on.

use rdkafka::error::KafkaError;

use super::args::ArgsError;

#[derive(Debug, thiserror::Error)]
pub enum TriggerError {
    #[error(transparent)]
    Args(#[from] ArgsError),

    #[error(
        "trigger {group}: no Kafka broker answered at {bootstrap} ({source}); is the cluster running there? (--bootstrap or SKIFF_BOOTSTRAP)"
    )]
    Unreachable {
        group: String,
        bootstrap: String,
        source: KafkaError,
    },

    #[error("trigger {group}: topic {topic:?} does not exist on {bootstrap}")]
    TopicMissing {
        group: String,
        topic: String,
        bootstrap: String,
    },

    #[error(
        "trigger {group}: the on-failure topic {topic:?} does not exist on {bootstrap}; create it first (skiff topic create {topic})"
    )]
    FailureTopicMissing {
        group: String,
        topic: String,
        bootstrap: String,
    },

    #[error("trigger {group}: cannot {action}: {source}")]
    Kafka {
        group: String,
        action: &'static str,
        source: KafkaError,
    },

    #[error(
        "trigger {group}: no AWS region; set --region or AWS_REGION (or --lambda-endpoint for a local emulator)"
    )]
    NoRegion { group: String },

    #[error(
        "trigger {group}: no AWS credentials to sign invocations with ({reason}); set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (any values for a local emulator such as cargo lambda watch) or AWS_PROFILE"
    )]
    NoCredentials { group: String, reason: String },

    #[error("the triggers' background task failed: {0}")]
    TaskFailed(String),
}
