//! Topic lookups and creation shared by several handlers.

use std::collections::BTreeMap;

use kafka_protocol::error::ResponseError;
use skiff_controller::{
    Command, CommandResponse, ControllerState, NewTopic, Topic, TopicError, TopicId,
};
use tracing::{info, warn};

use crate::clock::now_ms;
use crate::context::BrokerContext;

/// How a request names a topic: by name (older versions) or by id (newer ones).
#[derive(Debug, Clone, Copy)]
pub enum TopicLookup<'a> {
    Name(&'a str),
    Id(TopicId),
}

impl TopicLookup<'_> {
    /// The topic, or the Kafka error code a client expects for this way of naming it.
    pub fn resolve<'s>(&self, state: &'s ControllerState) -> Result<&'s Topic, i16> {
        match *self {
            TopicLookup::Name(name) => state.topic_by_name(name).ok_or_else(|| {
                if skiff_controller::state::validate_topic_name(name).is_ok() {
                    ResponseError::UnknownTopicOrPartition.code()
                } else {
                    ResponseError::InvalidTopicException.code()
                }
            }),
            TopicLookup::Id(id) => state.topic(&id).ok_or(ResponseError::UnknownTopicId.code()),
        }
    }
}

/// Creates, with the default partition count, every valid name that does not exist yet
/// (`auto.create.topics.enable`). Failures are logged; the caller reports what exists after.
pub async fn create_missing_topics(ctx: &BrokerContext, names: impl Iterator<Item = String>) {
    let missing: Vec<NewTopic> = {
        let state = ctx.controller.state();
        let state = state.read();
        names
            .filter(|name| {
                state.topic_by_name(name).is_none()
                    && skiff_controller::state::validate_topic_name(name).is_ok()
            })
            .map(|name| NewTopic {
                name,
                id: TopicId::new_v4(),
                partitions: ctx.config.default_partitions,
                configs: BTreeMap::new(),
                created_ms: now_ms(),
            })
            .collect()
    };
    if missing.is_empty() {
        return;
    }
    let names: Vec<String> = missing.iter().map(|t| t.name.clone()).collect();
    match ctx.controller.propose(Command::CreateTopics(missing)).await {
        Ok(CommandResponse::TopicsCreated(results)) => {
            for (name, result) in names.iter().zip(results) {
                match result {
                    Ok(_) => {
                        info!(topic = %name, partitions = ctx.config.default_partitions, "auto-created topic")
                    }
                    Err(TopicError::AlreadyExists) => {}
                    Err(e) => warn!(topic = %name, error = %e, "could not auto-create topic"),
                }
            }
        }
        Ok(other) => {
            warn!(response = ?other, "unexpected controller answer to topic auto-creation")
        }
        Err(e) => warn!(error = %e, "could not auto-create topics"),
    }
}
