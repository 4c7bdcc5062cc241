//! AlterConfigs (KIP-133, the API before IncrementalAlterConfigs): the configs a request names
//! become a topic's whole set of overrides, and every override it leaves out goes back to its
//! default, as in Kafka. Many tools and older clients still use it. On a BROKER resource the
//! named configs become the whole set of dynamic configs of the cluster default or that
//! broker.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::alter_configs_request::AlterConfigsResource;
use kafka_protocol::messages::alter_configs_response::AlterConfigsResourceResponse;
use kafka_protocol::messages::{AlterConfigsRequest, AlterConfigsResponse};
use skiff_meta::{ControllerState, TopicConfigChange};

use super::broker_logger::RESOURCE_BROKER_LOGGER;
use super::describe_configs::{RESOURCE_BROKER, RESOURCE_TOPIC, authorize_config_resource};
use super::str_bytes;
use crate::admin::{ConfigChange, alter_configs};
use crate::broker_configs;
use crate::context::BrokerContext;
use crate::kafka_error::{lookup_error_code, topic_error_code};
use crate::security::authorizer::Caller;
use crate::topics::TopicLookup;
use skiff_meta::acl::AclOperation;

pub async fn handle(
    ctx: &BrokerContext,
    caller: &Caller,
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
                authorize_config_resource(
                    ctx,
                    caller,
                    AclOperation::AlterConfigs,
                    resource.resource_type,
                    resource.resource_name.as_str(),
                )
                .and_then(|()| plan_replacement(ctx, &state, resource))
                .map(|c| (!request.validate_only).then_some(c))
            })
            .collect()
    };
    let outcomes = alter_configs(ctx, planned).await;
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
    ctx: &BrokerContext,
    state: &ControllerState,
    resource: &AlterConfigsResource,
) -> Result<ConfigChange, (i16, String)> {
    match resource.resource_type {
        RESOURCE_TOPIC => plan_topic_replacement(state, resource).map(ConfigChange::Topic),
        RESOURCE_BROKER => {
            let broker = broker_configs::target(state, &resource.resource_name)?;
            let set = named_values(resource)?;
            let current = match broker {
                None => state.broker_configs().cluster(),
                Some(id) => state.broker_configs().broker(id),
            };
            let delete = current
                .keys()
                .filter(|key| !set.iter().any(|(k, _)| k == *key))
                .cloned()
                .collect();
            broker_configs::plan_change(ctx, state, broker, set, delete).map(ConfigChange::Broker)
        }
        // As Kafka: replacing every logger's level at once is not a thing AlterConfigs does.
        RESOURCE_BROKER_LOGGER => Err((
            ResponseError::InvalidRequest.code(),
            "BROKER_LOGGER resources are changed with IncrementalAlterConfigs, not AlterConfigs"
                .to_owned(),
        )),
        other => Err((
            ResponseError::InvalidRequest.code(),
            format!("resource type {other} cannot be altered"),
        )),
    }
}

/// The configs the request names with a value. A null value in this API means "no
/// override", which leaving the key out also does.
fn named_values(resource: &AlterConfigsResource) -> Result<Vec<(String, String)>, (i16, String)> {
    let mut set: Vec<(String, String)> = Vec::with_capacity(resource.configs.len());
    for config in &resource.configs {
        let key = config.name.to_string();
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
    Ok(set)
}

fn plan_topic_replacement(
    state: &ControllerState,
    resource: &AlterConfigsResource,
) -> Result<TopicConfigChange, (i16, String)> {
    let name = resource.resource_name.as_str();
    let topic = TopicLookup::Name(name)
        .resolve(state)
        .map_err(|e| (lookup_error_code(e), format!("unknown topic {name}")))?;
    let set = named_values(resource)?;
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
