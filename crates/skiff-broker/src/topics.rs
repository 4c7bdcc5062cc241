//! Topic lookups and creation shared by several handlers.

use std::collections::BTreeMap;

use skiff_meta::{ControllerState, CreateTopics, NewTopic, Propose, Topic, TopicError, TopicId};
use tracing::{info, warn};

use crate::clock::now_ms;
use crate::context::BrokerContext;

/// How a request names a topic: by name (older versions) or by id (newer ones).
#[derive(Debug, Clone, Copy)]
pub enum TopicLookup<'a> {
    Name(&'a str),
    Id(TopicId),
}

/// Why a topic named in a request was not found; each way of naming one has its own Kafka
/// error (see `kafka_error::lookup_error_code`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LookupError {
    /// A valid name no topic has.
    UnknownName,
    /// A name no topic could ever have.
    InvalidName,
    UnknownId,
}

impl TopicLookup<'_> {
    pub fn resolve<'s>(&self, state: &'s ControllerState) -> Result<&'s Topic, LookupError> {
        match *self {
            TopicLookup::Name(name) => state.topic_by_name(name).ok_or_else(|| {
                if skiff_meta::state::validate_topic_name(name).is_ok() {
                    LookupError::UnknownName
                } else {
                    LookupError::InvalidName
                }
            }),
            TopicLookup::Id(id) => state.topic(&id).ok_or(LookupError::UnknownId),
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
                    && skiff_meta::state::validate_topic_name(name).is_ok()
            })
            .map(|name| {
                let mut configs = BTreeMap::new();
                default_archive(ctx, &mut configs);
                NewTopic {
                    name,
                    id: TopicId::new_v4(),
                    partitions: ctx.config.default_partitions,
                    configs,
                    created_ms: now_ms(),
                }
            })
            .collect()
    };
    if missing.is_empty() {
        return;
    }
    let names: Vec<String> = missing.iter().map(|t| t.name.clone()).collect();
    match ctx.controller.propose(CreateTopics(missing)).await {
        Ok(results) => {
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
        Err(e) => warn!(error = %e, "could not auto-create topics"),
    }
}

/// `--archive-all-topics`: a topic created here archives unless its creator said otherwise.
pub(crate) fn default_archive(ctx: &BrokerContext, configs: &mut BTreeMap<String, String>) {
    if ctx.config.archive_all_topics {
        configs
            .entry("skiff.archive.enable".to_string())
            .or_insert_with(|| "true".to_string());
    }
}
