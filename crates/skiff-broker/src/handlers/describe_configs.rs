use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult, DescribeConfigsSynonym,
};
use kafka_protocol::messages::{DescribeConfigsRequest, DescribeConfigsResponse};
use kafka_protocol::protocol::StrBytes;
use skiff_meta::broker_config::{
    BROKER_CONFIGS, BrokerConfigDef, BrokerDefaults, ConfigSource, broker_config_def,
    broker_synonym_of,
};
use skiff_meta::topic_config::{ConfigType, TOPIC_CONFIGS, config_def};
use skiff_meta::{ControllerState, TopicConfig};

use super::broker_logger::{self, RESOURCE_BROKER_LOGGER};
use super::{config_source, str_bytes};
use crate::broker_configs::static_configs;
use crate::context::BrokerContext;
use crate::kafka_error::lookup_error_code;
use crate::security::authorizer::Caller;
use crate::topics::TopicLookup;
use skiff_meta::acl::AclOperation;

pub(crate) const RESOURCE_TOPIC: i8 = 2;
pub(crate) const RESOURCE_BROKER: i8 = 4;

/// Whether the caller may perform `operation` (DESCRIBE_CONFIGS or ALTER_CONFIGS) on a config
/// resource: the topic, or the cluster for BROKER resources, as Kafka checks.
pub(crate) fn authorize_config_resource(
    ctx: &BrokerContext,
    caller: &Caller,
    operation: AclOperation,
    resource_type: i8,
    name: &str,
) -> Result<(), (i16, String)> {
    let (allowed, error) = match resource_type {
        RESOURCE_TOPIC => (
            ctx.authorizer.allows_topic(caller, operation, name),
            ResponseError::TopicAuthorizationFailed,
        ),
        RESOURCE_BROKER | RESOURCE_BROKER_LOGGER => (
            ctx.authorizer.allows_cluster(caller, operation),
            ResponseError::ClusterAuthorizationFailed,
        ),
        _ => return Ok(()),
    };
    if allowed {
        Ok(())
    } else {
        Err((
            error.code(),
            format!(
                "not authorized to {} of this resource",
                match operation {
                    AclOperation::AlterConfigs => "alter the configs",
                    _ => "describe the configs",
                }
            ),
        ))
    }
}

/// How the documentation of a config key Skiff accepts and stores, but does not act on,
/// begins (DescribeConfigs v3+ with documentation asked for). Kafka's protocol has no field
/// for it; tools show the documentation, and `skiff topic describe` looks for this text.
pub const NOT_ENFORCED_DOC_PREFIX: &str = "Not enforced by Skiff: accepted and stored, no effect. ";

/// One config row, before it is shaped for the requested version.
struct Row {
    name: String,
    value: String,
    source: i8,
    read_only: bool,
    config_type: i8,
    doc: &'static str,
    /// Whether Skiff acts on the value.
    enforced: bool,
    /// Every layer that has a value, most specific first (Kafka's synonyms).
    synonyms: Vec<Synonym>,
}

struct Synonym {
    name: String,
    value: String,
    source: i8,
}

pub fn handle(
    ctx: &BrokerContext,
    caller: &Caller,
    request: DescribeConfigsRequest,
    version: i16,
) -> DescribeConfigsResponse {
    let mut response = DescribeConfigsResponse::default();
    response.results = request
        .resources
        .iter()
        .map(|resource| {
            let mut result = DescribeConfigsResult::default();
            result.resource_type = resource.resource_type;
            result.resource_name = resource.resource_name.clone();
            let rows = authorize_config_resource(
                ctx,
                caller,
                AclOperation::DescribeConfigs,
                resource.resource_type,
                resource.resource_name.as_str(),
            )
            .and_then(|()| rows(ctx, resource.resource_type, &resource.resource_name));
            match rows {
                Ok(rows) => {
                    // Kafka reads both a null and an empty key list as "every config".
                    let wanted = resource
                        .configuration_keys
                        .as_ref()
                        .filter(|keys| !keys.is_empty());
                    result.configs = rows
                        .into_iter()
                        .filter(|row| {
                            wanted.is_none_or(|keys| keys.iter().any(|k| k.as_str() == row.name))
                        })
                        .map(|row| {
                            shape(
                                row,
                                request.include_synonyms,
                                request.include_documentation,
                                version,
                            )
                        })
                        .collect();
                }
                Err((code, message)) => {
                    result.error_code = code;
                    result.error_message = Some(str_bytes(&message));
                }
            }
            result
        })
        .collect();
    response
}

fn rows(
    ctx: &BrokerContext,
    resource_type: i8,
    name: &StrBytes,
) -> Result<Vec<Row>, (i16, String)> {
    let state = ctx.controller.state();
    let state = state.read();
    match resource_type {
        RESOURCE_TOPIC => {
            let topic = TopicLookup::Name(name.as_str())
                .resolve(&state)
                .map_err(|e| {
                    (
                        lookup_error_code(e),
                        format!("unknown topic {}", name.as_str()),
                    )
                })?;
            Ok(topic_rows(&state, &topic.config, ctx.config.broker_id))
        }
        // Kafka describes only the dynamic cluster defaults that are set for the default
        // resource.
        RESOURCE_BROKER if name.is_empty() => {
            let defaults = state.topic_defaults(None);
            Ok(state
                .broker_configs()
                .cluster()
                .keys()
                .filter_map(|key| broker_config_def(key))
                .map(|def| dynamic_row(def, &defaults))
                .collect())
        }
        RESOURCE_BROKER if name.as_str() == ctx.config.broker_id.to_string() => {
            Ok(broker_rows(ctx, &state))
        }
        RESOURCE_BROKER => Err((
            ResponseError::InvalidRequest.code(),
            format!(
                "this is broker {}; ask broker {} for its configs",
                ctx.config.broker_id,
                name.as_str()
            ),
        )),
        RESOURCE_BROKER_LOGGER => Ok(broker_logger::describe(ctx, name.as_str())?
            .into_iter()
            .map(|(logger, level)| Row {
                name: logger,
                value: level.as_str().to_owned(),
                source: config_source::DYNAMIC_BROKER_LOGGER,
                read_only: false,
                config_type: type_code(ConfigType::String),
                doc: "",
                enforced: true,
                synonyms: Vec::new(),
            })
            .collect()),
        other => Err((
            ResponseError::InvalidRequest.code(),
            format!(
                "resource type {other} is not supported; Skiff describes topics (2), brokers (4) \
                 and broker loggers (8)"
            ),
        )),
    }
}

/// Every topic config with its effective value as this broker sees it: the topic's override,
/// else the broker-level default (dynamic, static or built in), with Kafka's synonyms.
fn topic_rows(state: &ControllerState, config: &TopicConfig, broker_id: i32) -> Vec<Row> {
    let defaults = state.topic_defaults(Some(broker_id));
    let effective = config.effective(defaults);
    TOPIC_CONFIGS
        .iter()
        .map(|def| {
            let (value, source) = effective
                .resolve(def.name)
                .unwrap_or((def.default.into(), ConfigSource::Default));
            let mut synonyms = Vec::with_capacity(4);
            if let Some(value) = config.overrides().get(def.name) {
                synonyms.push(Synonym {
                    name: def.name.to_string(),
                    value: value.clone(),
                    source: config_source::TOPIC,
                });
            }
            match broker_synonym_of(def.name) {
                Some(broker) => synonyms.extend(broker_synonyms(broker.name, &defaults)),
                None if source == ConfigSource::Default => synonyms.push(Synonym {
                    name: def.name.to_string(),
                    value: def.default.to_string(),
                    source: config_source::DEFAULT,
                }),
                None => {}
            }
            Row {
                name: def.name.to_string(),
                value: value.into_owned(),
                source: config_source::of(source),
                read_only: false,
                config_type: type_code(def.config_type),
                doc: def.doc,
                enforced: def.honoured,
                synonyms,
            }
        })
        .collect()
}

fn broker_synonyms(key: &'static str, defaults: &BrokerDefaults<'_>) -> Vec<Synonym> {
    defaults
        .layers(key)
        .into_iter()
        .map(|(value, source)| Synonym {
            name: key.to_string(),
            value: value.into_owned(),
            source: config_source::of(source),
        })
        .collect()
}

/// A dynamic broker config as `defaults` resolve it.
fn dynamic_row(def: &'static BrokerConfigDef, defaults: &BrokerDefaults<'_>) -> Row {
    let synonyms = broker_synonyms(def.name, defaults);
    let (value, source) = synonyms
        .first()
        .map(|s| (s.value.clone(), s.source))
        .unwrap_or_default();
    Row {
        name: def.name.to_string(),
        value,
        source,
        read_only: false,
        config_type: config_def(def.topic_key).map_or(2, |d| type_code(d.config_type)),
        doc: def.doc,
        enforced: true,
        synonyms,
    }
}

/// This broker's configs: the dynamic ones as they apply to it, and the settings fixed at
/// start (flags, `SKIFF_*` variables, the config file), which are read-only.
fn broker_rows(ctx: &BrokerContext, state: &ControllerState) -> Vec<Row> {
    let defaults = state.topic_defaults(Some(ctx.config.broker_id));
    let statics = static_configs(ctx).into_iter().map(|c| Row {
        name: c.name.to_string(),
        synonyms: vec![Synonym {
            name: c.name.to_string(),
            value: c.value.clone(),
            source: config_source::STATIC_BROKER,
        }],
        value: c.value,
        source: config_source::STATIC_BROKER,
        read_only: true,
        config_type: type_code(c.config_type),
        doc: c.doc,
        enforced: true,
    });
    let mut rows: Vec<Row> = statics
        .chain(BROKER_CONFIGS.iter().map(|def| dynamic_row(def, &defaults)))
        .collect();
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    rows
}

fn shape(
    row: Row,
    include_synonyms: bool,
    include_documentation: bool,
    version: i16,
) -> DescribeConfigsResourceResult {
    let mut entry = DescribeConfigsResourceResult::default();
    entry.name = str_bytes(&row.name);
    entry.value = Some(str_bytes(&row.value));
    entry.read_only = row.read_only;
    entry.config_source = row.source;
    if include_synonyms {
        entry.synonyms = row
            .synonyms
            .iter()
            .map(|s| {
                let mut synonym = DescribeConfigsSynonym::default();
                synonym.name = str_bytes(&s.name);
                synonym.value = Some(str_bytes(&s.value));
                synonym.source = s.source;
                synonym
            })
            .collect();
    }
    if version >= 3 {
        entry.config_type = row.config_type;
        if include_documentation {
            entry.documentation = Some(if row.enforced {
                str_bytes(row.doc)
            } else {
                str_bytes(&format!("{NOT_ENFORCED_DOC_PREFIX}{}", row.doc))
            });
        }
    }
    entry
}

/// DescribeConfigs type codes (KIP-569).
fn type_code(config_type: ConfigType) -> i8 {
    match config_type {
        ConfigType::Bool => 1,
        ConfigType::String | ConfigType::Enum => 2,
        ConfigType::Int => 3,
        ConfigType::Long => 5,
        ConfigType::Double => 6,
        ConfigType::List => 7,
    }
}
