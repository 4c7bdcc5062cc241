use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::incremental_alter_configs_request::AlterConfigsResource;
use kafka_protocol::messages::incremental_alter_configs_response::AlterConfigsResourceResponse;
use kafka_protocol::messages::{IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse};
use skiff_meta::broker_config::broker_config_def;
use skiff_meta::topic_config::{ConfigType, config_def};
use skiff_meta::{ControllerState, TopicConfigChange};

use super::broker_logger::{self, RESOURCE_BROKER_LOGGER};
use super::describe_configs::{RESOURCE_BROKER, RESOURCE_TOPIC, authorize_config_resource};
use super::str_bytes;
use crate::admin::{ConfigChange, alter_configs};
use crate::broker_configs;
use crate::context::BrokerContext;
use crate::kafka_error::lookup_error_code;
use crate::kafka_error::topic_error_code;
use crate::security::authorizer::Caller;
use crate::topics::TopicLookup;
use skiff_meta::acl::AclOperation;

const OP_SET: i8 = 0;
const OP_DELETE: i8 = 1;
const OP_APPEND: i8 = 2;
const OP_SUBTRACT: i8 = 3;

pub async fn handle(
    ctx: &BrokerContext,
    caller: &Caller,
    request: IncrementalAlterConfigsRequest,
    _version: i16,
) -> IncrementalAlterConfigsResponse {
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
                .and_then(|()| match resource.resource_type {
                    // Loggers are this process's own, not replicated: applied here at once.
                    RESOURCE_BROKER_LOGGER => {
                        let changes = broker_logger::plan(ctx, resource)?;
                        if !request.validate_only {
                            let name = resource.resource_name.as_str();
                            broker_logger::apply(ctx, name, &changes)?;
                        }
                        Ok(None)
                    }
                    _ => plan_change(ctx, &state, resource)
                        .map(|c| (!request.validate_only).then_some(c)),
                })
            })
            .collect()
    };
    let outcomes = alter_configs(ctx, planned).await;
    let mut response = IncrementalAlterConfigsResponse::default();
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

/// Turns the resource's operations into one validated set/delete change for the controller.
fn plan_change(
    ctx: &BrokerContext,
    state: &ControllerState,
    resource: &AlterConfigsResource,
) -> Result<ConfigChange, (i16, String)> {
    match resource.resource_type {
        RESOURCE_TOPIC => plan_topic_change(state, resource).map(ConfigChange::Topic),
        RESOURCE_BROKER => plan_broker_change(ctx, state, resource).map(ConfigChange::Broker),
        other => Err((
            ResponseError::InvalidRequest.code(),
            format!("resource type {other} cannot be altered"),
        )),
    }
}

/// The dynamic configs of the cluster default or one broker. APPEND and SUBTRACT start from
/// the value in effect for that target (as Kafka starts from the entity's current value).
fn plan_broker_change(
    ctx: &BrokerContext,
    state: &ControllerState,
    resource: &AlterConfigsResource,
) -> Result<skiff_meta::AlterBrokerConfigs, (i16, String)> {
    let broker = broker_configs::target(state, &resource.resource_name)?;
    let defaults = state.topic_defaults(broker);
    let (set, delete) = operations(resource, |name| {
        let is_list = broker_config_def(name)
            .and_then(|d| config_def(d.topic_key))
            .is_some_and(|d| d.config_type == ConfigType::List);
        is_list.then(|| {
            defaults
                .resolve(name)
                .map(|(value, _)| value.into_owned())
                .unwrap_or_default()
        })
    })?;
    broker_configs::plan_change(ctx, state, broker, set, delete)
}

/// The keys to set (with their values) and the keys to delete.
type SetAndDelete = (Vec<(String, String)>, Vec<String>);

/// SET and DELETE as they are; APPEND and SUBTRACT turned into a SET of the list
/// `current_list` gives for the key (`None`: not a list config).
fn operations(
    resource: &AlterConfigsResource,
    current_list: impl Fn(&str) -> Option<String>,
) -> Result<SetAndDelete, (i16, String)> {
    let invalid = |message: String| (ResponseError::InvalidConfig.code(), message);
    let mut set: Vec<(String, String)> = Vec::new();
    let mut delete: Vec<String> = Vec::new();
    for op in &resource.configs {
        let name = op.name.to_string();
        let value = op.value.as_ref().map(|v| v.to_string());
        match op.config_operation {
            OP_SET => set.push((
                name.clone(),
                value.ok_or_else(|| invalid(format!("{name}: SET needs a value")))?,
            )),
            OP_DELETE => delete.push(name),
            OP_APPEND | OP_SUBTRACT => {
                let current = current_list(&name).ok_or_else(|| {
                    invalid(format!(
                        "{name}: APPEND and SUBTRACT apply to list configs only"
                    ))
                })?;
                let mut items: Vec<String> = current
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect();
                for item in value
                    .unwrap_or_default()
                    .split(',')
                    .filter(|s| !s.is_empty())
                {
                    if op.config_operation == OP_APPEND {
                        if !items.iter().any(|i| i == item) {
                            items.push(item.to_string());
                        }
                    } else {
                        items.retain(|i| i != item);
                    }
                }
                set.push((name, items.join(",")));
            }
            other => {
                return Err((
                    ResponseError::InvalidRequest.code(),
                    format!("{name}: unknown operation {other}"),
                ));
            }
        }
    }
    Ok((set, delete))
}

fn plan_topic_change(
    state: &ControllerState,
    resource: &AlterConfigsResource,
) -> Result<TopicConfigChange, (i16, String)> {
    match resource.resource_type {
        RESOURCE_TOPIC => {}
        other => {
            return Err((
                ResponseError::InvalidRequest.code(),
                format!("resource type {other} cannot be altered"),
            ));
        }
    }
    let topic = TopicLookup::Name(resource.resource_name.as_str())
        .resolve(state)
        .map_err(|e| {
            (
                lookup_error_code(e),
                format!("unknown topic {}", resource.resource_name.as_str()),
            )
        })?;

    let (set, delete) = operations(resource, |name| {
        config_def(name)
            .filter(|d| d.config_type == ConfigType::List)
            .map(|_| topic.config.get(name).unwrap_or_default().to_string())
    })?;
    // Validate now so validate_only requests and real ones fail the same way.
    let mut preview = topic.config.clone();
    preview
        .alter(&set, &delete)
        .and_then(|()| preview.check_compaction_lags())
        .map_err(|e| {
            let e = skiff_meta::TopicError::from(e);
            (topic_error_code(&e), e.to_string())
        })?;
    Ok(TopicConfigChange {
        topic: topic.id,
        set,
        delete,
    })
}
