//! AlterConfigs (KIP-133, the API before IncrementalAlterConfigs): the configs a request names
//! become a topic's whole set of overrides, and every override it leaves out goes back to its
//! default, as in Kafka. Many tools and older clients still use it.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::alter_configs_request::AlterConfigsResource;
use kafka_protocol::messages::alter_configs_response::AlterConfigsResourceResponse;
use kafka_protocol::messages::{AlterConfigsRequest, AlterConfigsResponse};
use skiff_meta::{ControllerState, TopicConfigChange};

use super::describe_configs::{RESOURCE_BROKER, RESOURCE_TOPIC};
use super::str_bytes;
use crate::admin::alter_topic_configs;
use crate::context::BrokerContext;
use crate::kafka_error::{lookup_error_code, topic_error_code};
use crate::topics::TopicLookup;

pub async fn handle(
    ctx: &BrokerContext,
    request: AlterConfigsRequest,
    _version: i16,
) -> AlterConfigsResponse {
    let planned = {
        let state = ctx.controller.state();
        let state = state.read();
        request
            .resources
            .iter()
            .map(|resource| {
                plan_replacement(&state, resource).map(|c| (!request.validate_only).then_some(c))
            })
            .collect()
    };
    let outcomes = alter_topic_configs(ctx, planned).await;
    let mut response = AlterConfigsResponse::default();
    response.responses = request
        .resources
        .iter()
        .zip(outcomes)
        .map(|(resource, outcome)| {
            let mut result = AlterConfigsResourceResponse::default();
            result.resource_type = resource.resource_type;
            result.resource_name = resource.resource_name.clone();
            if let Err((code, message)) = outcome {
                result.error_code = code;
                result.error_message = Some(str_bytes(&message));
            }
            result
        })
        .collect();
    response
}

/// The change that makes the resource's configs exactly those named: set them, delete the
/// other overrides. Validated here too, so validate_only and real requests fail alike.
fn plan_replacement(
    state: &ControllerState,
    resource: &AlterConfigsResource,
) -> Result<TopicConfigChange, (i16, String)> {
    match resource.resource_type {
        RESOURCE_TOPIC => {}
        RESOURCE_BROKER => {
            return Err((
                ResponseError::InvalidRequest.code(),
                "broker settings come from flags, SKIFF_* variables or the config file; restart the broker to change them".into(),
            ));
        }
        other => {
            return Err((
                ResponseError::InvalidRequest.code(),
                format!("resource type {other} cannot be altered"),
            ));
        }
    }
    let name = resource.resource_name.as_str();
    let topic = TopicLookup::Name(name)
        .resolve(state)
        .map_err(|e| (lookup_error_code(e), format!("unknown topic {name}")))?;
    let mut set: Vec<(String, String)> = Vec::with_capacity(resource.configs.len());
    for config in &resource.configs {
        let key = config.name.to_string();
        // A null value in this API means "no override", which leaving the key out also does.
        if let Some(value) = &config.value {
            if set.iter().any(|(k, _)| *k == key) {
                return Err((
                    ResponseError::InvalidRequest.code(),
                    format!("{key} is named twice"),
                ));
            }
            set.push((key, value.to_string()));
        }
    }
    let delete: Vec<String> = topic
        .config
        .overrides()
        .keys()
        .filter(|key| !set.iter().any(|(k, _)| k == *key))
        .cloned()
        .collect();
    let mut preview = topic.config.clone();
    preview.alter(&set, &delete).map_err(|e| {
        let e = skiff_meta::TopicError::from(e);
        (topic_error_code(&e), e.to_string())
    })?;
    Ok(TopicConfigChange {
        topic: topic.id,
        set,
        delete,
    })
}
