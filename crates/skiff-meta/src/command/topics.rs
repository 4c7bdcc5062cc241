//! Topics: creation, deletion, partition growth and config changes. Each command covers many
//! topics and answers one result per topic, in order.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ids::TopicId;
use crate::topic_config::ConfigError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewTopic {
    pub name: String,
    pub id: TopicId,
    pub partitions: u32,
    pub configs: BTreeMap<String, String>,
    pub created_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateTopics(pub Vec<NewTopic>);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteTopics(pub Vec<TopicId>);

/// Grows a topic to `total` partitions (never shrinks).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionIncrease {
    pub topic: TopicId,
    pub total: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatePartitions(pub Vec<PartitionIncrease>);

/// Sets and deletes config overrides of one topic, all or nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicConfigChange {
    pub topic: TopicId,
    pub set: Vec<(String, String)>,
    pub delete: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlterTopicConfigs(pub Vec<TopicConfigChange>);

/// A topic change refused because it would break one of the cluster's limits
/// (`state::ClusterLimits`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum LimitError {
    #[error("one request may create at most {limit} topics, this one names {count}")]
    TooManyTopicsInRequest { count: usize, limit: usize },
    #[error(
        "the cluster would hold {would_hold} partitions, over its limit of {limit} \
         (the controller's max_partitions)"
    )]
    ClusterPartitions { would_hold: u64, limit: u64 },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum TopicError {
    #[error("topic already exists")]
    AlreadyExists,
    #[error("unknown topic")]
    UnknownTopic,
    #[error("invalid topic name: {0}")]
    InvalidName(#[from] TopicNameError),
    #[error("invalid partition count: {0}")]
    InvalidPartitions(#[from] PartitionCountError),
    #[error("invalid topic config {0}")]
    InvalidConfig(#[from] ConfigError),
    // Last, so answers from controllers that predate it still decode.
    #[error("{0}")]
    OverLimit(#[from] LimitError),
}

/// Why a topic name breaks Kafka's rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum TopicNameError {
    #[error("the name is empty")]
    Empty,
    #[error("'{0}' is not allowed")]
    Reserved(String),
    #[error("the name is {chars} characters long; the limit is {max}")]
    TooLong { chars: usize, max: usize },
    #[error(
        "'{name}' contains '{character}'; only ASCII letters, digits, '.', '_' and '-' are allowed"
    )]
    BadCharacter { name: String, character: char },
}

/// Why a partition count cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum PartitionCountError {
    #[error("the partition count must be between 1 and {max}, got {got}")]
    OutOfRange { got: u32, max: u32 },
    #[error("the topic has {current} partitions and the count can only grow, got {got}")]
    CannotShrink { current: u32, got: u32 },
}
