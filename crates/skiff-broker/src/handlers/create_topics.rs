use std::collections::{BTreeMap, HashSet};

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::create_topics_response::{
    CreatableTopicConfigs, CreatableTopicResult,
};
use kafka_protocol::messages::{CreateTopicsRequest, CreateTopicsResponse};
use skiff_meta::broker_config::{BrokerDefaults, ConfigSource};
use skiff_meta::topic_config::TopicConfig;
use skiff_meta::{ControllerState, CreateTopics, NewTopic, TopicError, TopicId};

use super::{config_source, str_bytes};
use crate::admin::propose_items;
use crate::clock::now_ms;
use crate::context::BrokerContext;
use crate::kafka_error::topic_error_code;
use crate::security::authorizer::Caller;
use skiff_meta::acl::AclOperation;

pub async fn handle(
    ctx: &BrokerContext,
    caller: &Caller,
    request: CreateTopicsRequest,
    version: i16,
) -> CreateTopicsResponse {
    let mut results: Vec<CreatableTopicResult> = Vec::with_capacity(request.topics.len());
    let mut to_create: Vec<(usize, NewTopic)> = Vec::new();
    {
        let state = ctx.controller.state();
        let state = state.read();
        let mut seen = HashSet::new();
        let may_create_any = ctx.authorizer.allows_cluster(caller, AclOperation::Create);
        for topic in &request.topics {
            let mut result = CreatableTopicResult::default();
            result.name = topic.name.clone();
            let name = topic.name.as_str();
            let checked = if !seen.insert(name.to_string()) {
                Err((
                    ResponseError::InvalidRequest.code(),
                    format!("topic {name} appears twice in the request"),
                ))
            } else if !may_create_any
                && !ctx
                    .authorizer
                    .allows_topic(caller, AclOperation::Create, name)
            {
                Err((
                    ResponseError::TopicAuthorizationFailed.code(),
                    "not authorized to create the topic".to_string(),
                ))
            } else {
                check(ctx, &state, topic)
            };
            match checked {
                Err((code, message)) => fail(&mut result, code, message, version),
                Ok(new_topic) => {
                    if version >= 5 {
                        let defaults = state.topic_defaults(Some(ctx.config.broker_id));
                        describe_created(&mut result, &new_topic, defaults);
                    }
                    if !request.validate_only {
                        to_create.push((results.len(), new_topic));
                    }
                }
            }
            results.push(result);
        }
    }

    if !to_create.is_empty() {
        let (positions, topics): (Vec<usize>, Vec<NewTopic>) = to_create.into_iter().unzip();
        let outcomes = propose_items(ctx, CreateTopics(topics)).await;
        for (position, outcome) in positions.into_iter().zip(outcomes) {
            match outcome {
                Ok(id) if version >= 7 => results[position].topic_id = id,
                Ok(_) => {}
                Err((code, message)) => fail(&mut results[position], code, message, version),
            }
        }
    }

    let mut response = CreateTopicsResponse::default();
    response.topics = results;
    response
}

/// Everything Kafka checks before creating a topic; `validate_only` requests stop here.
fn check(
    ctx: &BrokerContext,
    state: &ControllerState,
    topic: &CreatableTopic,
) -> Result<NewTopic, (i16, String)> {
    let name = topic.name.as_str();
    let topic_error = |e: TopicError| (topic_error_code(&e), e.to_string());
    skiff_meta::state::validate_topic_name(name).map_err(|e| topic_error(e.into()))?;
    if state.topic_by_name(name).is_some() {
        return Err((
            ResponseError::TopicAlreadyExists.code(),
            format!("topic {name} already exists"),
        ));
    }
    let partitions = if !topic.assignments.is_empty() {
        // Skiff places partitions itself; a manual assignment only fixes the count.
        topic.assignments.len() as i32
    } else if topic.num_partitions == -1 {
        ctx.config.default_partitions as i32
    } else {
        topic.num_partitions
    };
    if partitions < 1 {
        return Err((
            ResponseError::InvalidPartitions.code(),
            format!("number of partitions must be at least 1, got {partitions}"),
        ));
    }
    // Replication is the object store's job; any factor a client may ask for is accepted.
    if topic.replication_factor == 0 || topic.replication_factor < -1 {
        return Err((
            ResponseError::InvalidReplicationFactor.code(),
            format!(
                "replication factor must be -1 or at least 1, got {}",
                topic.replication_factor
            ),
        ));
    }
    let mut configs: BTreeMap<String, String> = topic
        .configs
        .iter()
        .filter_map(|c| {
            c.value
                .as_ref()
                .map(|v| (c.name.to_string(), v.to_string()))
        })
        .collect();
    crate::topics::default_archive(ctx, &mut configs);
    TopicConfig::from_overrides(&configs)
        .and_then(|config| config.check_compaction_lags())
        .map_err(|e| topic_error(e.into()))?;
    Ok(NewTopic {
        name: name.to_string(),
        id: TopicId::new_v4(),
        partitions: partitions as u32,
        configs,
        created_ms: now_ms(),
    })
}

fn fail(result: &mut CreatableTopicResult, code: i16, message: String, version: i16) {
    result.error_code = code;
    if version >= 1 {
        result.error_message = Some(str_bytes(&message));
    }
    result.num_partitions = -1;
    result.replication_factor = -1;
    result.configs = None;
}

/// v5+: the created topic's partition count and full config, so clients need no DescribeConfigs.
/// Values not set on the topic come from the broker-level defaults, as DescribeConfigs shows.
fn describe_created(result: &mut CreatableTopicResult, topic: &NewTopic, defaults: BrokerDefaults) {
    result.num_partitions = topic.partitions as i32;
    result.replication_factor = 1;
    let config = TopicConfig::from_overrides(&topic.configs).unwrap_or_default();
    let effective = config.effective(defaults);
    result.configs = Some(
        config
            .entries()
            .map(|e| {
                let (value, source) = effective
                    .resolve(e.name)
                    .unwrap_or((e.value.into(), ConfigSource::Default));
                let mut entry = CreatableTopicConfigs::default();
                entry.name = str_bytes(e.name);
                entry.value = Some(str_bytes(&value));
                entry.read_only = e.read_only;
                entry.config_source = config_source::of(source);
                entry.is_sensitive = e.is_sensitive;
                entry
            })
            .collect(),
    );
}
