//! CreateTopics, DeleteTopics, CreatePartitions and topic listing.

use kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic;
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::delete_topics_request::DeleteTopicState;
use kafka_protocol::messages::{
    ApiKey, CreatePartitionsRequest, CreateTopicsRequest, DeleteTopicsRequest, TopicName,
};

use super::{ADMIN_TIMEOUT_MS, str_bytes};
use crate::client::KafkaClient;
use crate::error::ClientError;
use crate::kafka_code::UNKNOWN_TOPIC_OR_PARTITION;
use crate::metadata::TopicInfo;

const METADATA_WAIT_ATTEMPTS: u32 = 20;
const METADATA_WAIT_BACKOFF: std::time::Duration = std::time::Duration::from_millis(100);

/// A topic to create. `None` counts let the broker choose its defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewTopic {
    pub name: String,
    pub partitions: Option<i32>,
    pub replication_factor: Option<i16>,
    pub configs: Vec<(String, String)>,
}

impl NewTopic {
    pub fn new(name: impl Into<String>) -> Self {
        NewTopic {
            name: name.into(),
            ..NewTopic::default()
        }
    }
}

pub(crate) fn create_topics_request(topic: &NewTopic, validate_only: bool) -> CreateTopicsRequest {
    let mut creatable = CreatableTopic::default();
    creatable.name = TopicName(str_bytes(&topic.name));
    creatable.num_partitions = topic.partitions.unwrap_or(-1);
    creatable.replication_factor = topic.replication_factor.unwrap_or(-1);
    creatable.configs = topic
        .configs
        .iter()
        .map(|(name, value)| {
            let mut config = CreatableTopicConfig::default();
            config.name = str_bytes(name);
            config.value = Some(str_bytes(value));
            config
        })
        .collect();
    let mut request = CreateTopicsRequest::default();
    request.topics = vec![creatable];
    request.timeout_ms = ADMIN_TIMEOUT_MS;
    request.validate_only = validate_only;
    request
}

pub(crate) fn delete_topics_request(name: &str, version: i16) -> DeleteTopicsRequest {
    let mut request = DeleteTopicsRequest::default();
    request.timeout_ms = ADMIN_TIMEOUT_MS;
    // v6 names topics by name or id in `topics`; earlier versions list names.
    if version >= 6 {
        let mut state = DeleteTopicState::default();
        state.name = Some(TopicName(str_bytes(name)));
        request.topics = vec![state];
    } else {
        request.topic_names = vec![TopicName(str_bytes(name))];
    }
    request
}

pub(crate) fn create_partitions_request(topic: &str, total: i32) -> CreatePartitionsRequest {
    let mut entry = CreatePartitionsTopic::default();
    entry.name = TopicName(str_bytes(topic));
    entry.count = total;
    entry.assignments = None;
    let mut request = CreatePartitionsRequest::default();
    request.topics = vec![entry];
    request.timeout_ms = ADMIN_TIMEOUT_MS;
    request
}

impl KafkaClient {
    /// Creates one topic and returns once the cluster's metadata shows it (or after ~2 s).
    pub async fn create_topic(&self, topic: &NewTopic) -> Result<(), ClientError> {
        if topic.name.is_empty() {
            return Err(ClientError::InvalidArgument(
                "a topic name cannot be empty".into(),
            ));
        }
        let request = create_topics_request(topic, false);
        let context = format!("cannot create topic {}", topic.name);
        self.retry_once(None, async || {
            let connection = self.controller().await?;
            let response = connection.send(&request).await?;
            let result = response
                .topics
                .iter()
                .find(|t| t.name.0.as_str() == topic.name)
                .ok_or_else(|| missing(&context))?;
            if result.error_code != 0 {
                return Err(ClientError::kafka(
                    result.error_code,
                    context.as_str(),
                    result.error_message.as_deref(),
                ));
            }
            Ok(())
        })
        .await?;
        self.await_topic(&topic.name).await;
        Ok(())
    }

    /// Waits (bounded) until Metadata lists the new topic with a leader for every partition,
    /// so a command right after `create` finds it on clusters that propagate metadata lazily.
    async fn await_topic(&self, name: &str) {
        for attempt in 0..METADATA_WAIT_ATTEMPTS {
            match self.refresh_topic(name).await {
                Ok(info) if info.partitions.iter().all(|p| p.leader.is_some()) => return,
                _ if attempt + 1 == METADATA_WAIT_ATTEMPTS => return,
                _ => tokio::time::sleep(METADATA_WAIT_BACKOFF).await,
            }
        }
    }

    /// Deletes one topic by name.
    pub async fn delete_topic(&self, name: &str) -> Result<(), ClientError> {
        let context = format!("cannot delete topic {name}");
        self.retry_once(None, async || {
            let connection = self.controller().await?;
            let version = connection.require_version(ApiKey::DeleteTopics)?;
            let response = connection
                .send(&delete_topics_request(name, version))
                .await?;
            let result = response
                .responses
                .first()
                .ok_or_else(|| missing(&context))?;
            match result.error_code {
                0 => Ok(()),
                UNKNOWN_TOPIC_OR_PARTITION => Err(ClientError::UnknownTopic {
                    topic: name.to_owned(),
                }),
                code => Err(ClientError::kafka(
                    code,
                    context.as_str(),
                    result.error_message.as_deref(),
                )),
            }
        })
        .await?;
        self.invalidate_topic(name);
        Ok(())
    }

    /// Grows a topic to `total` partitions.
    pub async fn create_partitions(&self, topic: &str, total: i32) -> Result<(), ClientError> {
        let context = format!("cannot add partitions to topic {topic}");
        let request = create_partitions_request(topic, total);
        self.retry_once(None, async || {
            let connection = self.controller().await?;
            let response = connection.send(&request).await?;
            let result = response.results.first().ok_or_else(|| missing(&context))?;
            match result.error_code {
                0 => Ok(()),
                UNKNOWN_TOPIC_OR_PARTITION => Err(ClientError::UnknownTopic {
                    topic: topic.to_owned(),
                }),
                code => Err(ClientError::kafka(
                    code,
                    context.as_str(),
                    result.error_message.as_deref(),
                )),
            }
        })
        .await?;
        self.invalidate_topic(topic);
        Ok(())
    }

    /// Every topic, sorted by name; internal topics only when asked for.
    pub async fn list_topics(&self, include_internal: bool) -> Result<Vec<TopicInfo>, ClientError> {
        let metadata = self.fetch_metadata(None).await?;
        Ok(metadata
            .topics
            .into_values()
            .filter(|t| include_internal || !t.internal)
            .collect())
    }
}

pub(crate) fn missing(context: &str) -> ClientError {
    ClientError::IncompleteResponse {
        context: context.to_owned(),
    }
}
