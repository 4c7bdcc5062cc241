//! Topics: creation, deletion, partition growth and config changes.

use serde::{Deserialize, Serialize};

use super::ControllerState;
use super::partition::PartitionLog;
use crate::command::{
    NewTopic, PartitionCountError, PartitionIncrease, TopicConfigChange, TopicError, TopicNameError,
};
use crate::ids::TopicId;
use crate::topic_config::TopicConfig;

/// Kafka's limit on topic name length.
pub const MAX_TOPIC_NAME_LEN: usize = 249;
/// Skiff's limit on partitions per topic.
pub const MAX_PARTITIONS: u32 = 100_000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Topic {
    pub id: TopicId,
    pub name: String,
    pub config: TopicConfig,
    pub partitions: Vec<PartitionLog>,
    pub created_ms: i64,
}

/// Kafka's topic name rules.
pub fn validate_topic_name(name: &str) -> Result<(), TopicNameError> {
    if name.is_empty() {
        return Err(TopicNameError::Empty);
    }
    if name == "." || name == ".." {
        return Err(TopicNameError::Reserved(name.to_string()));
    }
    if name.len() > MAX_TOPIC_NAME_LEN {
        return Err(TopicNameError::TooLong {
            chars: name.chars().count(),
            max: MAX_TOPIC_NAME_LEN,
        });
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(TopicNameError::BadCharacter {
            name: name.to_string(),
            character: bad,
        });
    }
    Ok(())
}

fn validate_partition_count(count: u32) -> Result<(), PartitionCountError> {
    if (1..=MAX_PARTITIONS).contains(&count) {
        Ok(())
    } else {
        Err(PartitionCountError::OutOfRange {
            got: count,
            max: MAX_PARTITIONS,
        })
    }
}

fn new_partitions(count: u32) -> Vec<PartitionLog> {
    (0..count).map(|_| PartitionLog::default()).collect()
}

impl ControllerState {
    pub(super) fn create_topic(&mut self, new: &NewTopic) -> Result<TopicId, TopicError> {
        validate_topic_name(&new.name)?;
        validate_partition_count(new.partitions)?;
        let config = TopicConfig::from_overrides(&new.configs)?;
        // An id collision with a different topic is as fatal as a name collision.
        if self.topic_names.contains_key(&new.name) || self.topics.contains_key(&new.id) {
            return Err(TopicError::AlreadyExists);
        }
        let topic = Topic {
            id: new.id,
            name: new.name.clone(),
            config,
            partitions: new_partitions(new.partitions),
            created_ms: new.created_ms,
        };
        self.topic_names.insert(new.name.clone(), new.id);
        self.topics.insert(new.id, topic);
        Ok(new.id)
    }

    /// Removes the topic, its index entries (releasing their objects), its producer state and
    /// every group's committed offsets for it.
    pub(super) fn delete_topic(&mut self, id: &TopicId) -> Result<(), TopicError> {
        let topic = self.topics.remove(id).ok_or(TopicError::UnknownTopic)?;
        self.topic_names.remove(&topic.name);
        let now = self.clock_ms;
        for (partition, log) in (0u32..).zip(&topic.partitions) {
            let entries: Vec<_> = log.entries().copied().collect();
            self.release_entries(&entries, now);
            for (producer_id, state) in &log.producers {
                self.producer_expiry.forget(
                    state.last_update_ms(),
                    topic.id,
                    partition,
                    *producer_id,
                );
            }
        }
        self.groups.forget_topic(topic.id);
        self.txns.forget_topic(topic.id);
        self.forget_topic_lifecycle(topic.id);
        // The table's files stay in the store, readable; only the progress goes.
        self.forget_topic_archive(topic.id);
        Ok(())
    }

    pub(super) fn grow_partitions(&mut self, change: &PartitionIncrease) -> Result<(), TopicError> {
        let topic = self
            .topics
            .get_mut(&change.topic)
            .ok_or(TopicError::UnknownTopic)?;
        validate_partition_count(change.total)?;
        let current = topic.partitions.len();
        let wanted = usize::try_from(change.total).unwrap_or(usize::MAX);
        if wanted <= current {
            return Err(PartitionCountError::CannotShrink {
                current: u32::try_from(current).unwrap_or(u32::MAX),
                got: change.total,
            }
            .into());
        }
        topic.partitions.resize_with(wanted, PartitionLog::default);
        Ok(())
    }

    pub(super) fn alter_topic_config(
        &mut self,
        change: &TopicConfigChange,
    ) -> Result<(), TopicError> {
        let topic = self
            .topics
            .get_mut(&change.topic)
            .ok_or(TopicError::UnknownTopic)?;
        topic.config.alter(&change.set, &change.delete)?;
        Ok(())
    }
}
