use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult, DescribeConfigsSynonym,
};
use kafka_protocol::messages::{DescribeConfigsRequest, DescribeConfigsResponse};
use kafka_protocol::protocol::StrBytes;
use skiff_meta::topic_config::ConfigType;

use super::{config_source, str_bytes};
use crate::context::BrokerContext;
use crate::kafka_error::lookup_error_code;
use crate::topics::TopicLookup;

pub(crate) const RESOURCE_TOPIC: i8 = 2;
pub(crate) const RESOURCE_BROKER: i8 = 4;

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
}

pub fn handle(
    ctx: &BrokerContext,
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
            match rows(ctx, resource.resource_type, &resource.resource_name) {
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
    match resource_type {
        RESOURCE_TOPIC => {
            let state = ctx.controller.state();
            let state = state.read();
            let topic = TopicLookup::Name(name.as_str())
                .resolve(&state)
                .map_err(|e| {
                    (
                        lookup_error_code(e),
                        format!("unknown topic {}", name.as_str()),
                    )
                })?;
            let defaults = state.log_defaults();
            Ok(topic
                .config
                .entries()
                .map(|e| {
                    // Retention without a topic value follows the cluster's log.retention.*.
                    let cluster_default = match e.name {
                        "retention.ms" => Some(defaults.retention_ms.to_string()),
                        "retention.bytes" => Some(defaults.retention_bytes.to_string()),
                        _ => None,
                    }
                    .filter(|value| e.is_default && value != e.value);
                    (e, cluster_default)
                })
                .map(|(e, cluster_default)| Row {
                    name: e.name.to_string(),
                    source: if cluster_default.is_some() {
                        config_source::STATIC_BROKER
                    } else if e.is_default {
                        config_source::DEFAULT
                    } else {
                        config_source::TOPIC
                    },
                    value: cluster_default.unwrap_or_else(|| e.value.to_string()),
                    read_only: e.read_only,
                    config_type: type_code(e.config_type),
                    doc: e.doc,
                    enforced: e.honoured,
                })
                .collect())
        }
        RESOURCE_BROKER if name.is_empty() || name.as_str() == ctx.config.broker_id.to_string() => {
            Ok(broker_rows(ctx))
        }
        RESOURCE_BROKER => Err((
            ResponseError::InvalidRequest.code(),
            format!("this is broker {}", ctx.config.broker_id),
        )),
        other => Err((
            ResponseError::InvalidRequest.code(),
            format!(
                "resource type {other} is not supported; Skiff describes topics (2) and brokers (4)"
            ),
        )),
    }
}

/// Broker settings come from flags, environment and the config file, so they are read-only here.
fn broker_rows(ctx: &BrokerContext) -> Vec<Row> {
    let c = &ctx.config;
    let log_defaults = ctx.controller.state().read().log_defaults();
    let row = |name: &str, value: String, config_type: ConfigType, doc: &'static str| Row {
        name: name.to_string(),
        value,
        source: config_source::STATIC_BROKER,
        read_only: true,
        config_type: type_code(config_type),
        doc,
        enforced: true,
    };
    vec![
        row(
            "broker.id",
            c.broker_id.to_string(),
            ConfigType::Int,
            "This broker's id.",
        ),
        row(
            "auto.create.topics.enable",
            c.auto_create_topics.to_string(),
            ConfigType::Bool,
            "Create unknown topics on Metadata requests.",
        ),
        row(
            "num.partitions",
            c.default_partitions.to_string(),
            ConfigType::Int,
            "Partitions of topics created without a count.",
        ),
        row(
            "socket.request.max.bytes",
            c.max_request_bytes.to_string(),
            ConfigType::Int,
            "Largest request frame accepted.",
        ),
        row(
            "connections.max.idle.ms",
            c.connections_max_idle_ms.to_string(),
            ConfigType::Long,
            "Idle connections are closed after this long (0: never).",
        ),
        row(
            "message.max.bytes",
            "1048588".into(),
            ConfigType::Int,
            "Default max.message.bytes for topics.",
        ),
        row(
            "log.retention.ms",
            log_defaults.retention_ms.to_string(),
            ConfigType::Long,
            "How long topics without retention.ms keep data (-1: forever); set on the controller.",
        ),
        row(
            "log.retention.bytes",
            log_defaults.retention_bytes.to_string(),
            ConfigType::Long,
            "How much a partition of a topic without retention.bytes keeps (-1: no limit); set on the controller.",
        ),
        row(
            "skiff.flush.bytes",
            c.flush_bytes.to_string(),
            ConfigType::Int,
            "Segment size that triggers a flush.",
        ),
        row(
            "skiff.flush.interval.ms",
            c.flush_interval_ms.to_string(),
            ConfigType::Long,
            "Longest a batch waits before its segment is flushed.",
        ),
    ]
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
        let mut synonym = DescribeConfigsSynonym::default();
        synonym.name = entry.name.clone();
        synonym.value = entry.value.clone();
        synonym.source = row.source;
        entry.synonyms = vec![synonym];
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
