//! The BROKER config resource shared by DescribeConfigs, IncrementalAlterConfigs and
//! AlterConfigs: the read-only settings this broker was started with, and the dynamic ones
//! (broker-level topic defaults) kept in the controller state.

use kafka_protocol::error::ResponseError;
use kafka_protocol::protocol::StrBytes;
use skiff_meta::broker_config::{BrokerConfigError, broker_config_def};
use skiff_meta::topic_config::ConfigType;
use skiff_meta::{AlterBrokerConfigs, ControllerState, Propose};

use crate::context::BrokerContext;
use crate::kafka_error::propose_error_code;

/// One resource's result, with the Kafka error code and message on failure.
type ItemOutcome<T> = Result<T, (i16, String)>;

/// A setting fixed at start (flag, `SKIFF_*` variable or config file): described as
/// `STATIC_BROKER_CONFIG`, read-only.
pub struct StaticConfig {
    pub name: &'static str,
    pub value: String,
    pub config_type: ConfigType,
    pub doc: &'static str,
}

/// This broker's read-only settings.
pub fn static_configs(ctx: &BrokerContext) -> Vec<StaticConfig> {
    let c = &ctx.config;
    let row = |name, value: String, config_type, doc| StaticConfig {
        name,
        value,
        config_type,
        doc,
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
            "transaction.max.timeout.ms",
            c.transaction_max_timeout_ms.to_string(),
            ConfigType::Int,
            "Longest transaction.timeout.ms a transactional producer may ask for.",
        ),
        row(
            "connections.max.idle.ms",
            c.connections_max_idle_ms.to_string(),
            ConfigType::Long,
            "Idle connections are closed after this long (0: never).",
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
        row(
            "skiff.flush.min.interval.ms",
            c.min_flush_interval_ms
                .unwrap_or(c.flush_interval_ms)
                .to_string(),
            ConfigType::Long,
            "Shortest time between two flushes; a flush starts early once the previous one is answered and this has passed.",
        ),
    ]
}

/// Which dynamic layer a BROKER resource names: `None` for the cluster default (empty
/// name), else a registered broker's id.
pub fn target(state: &ControllerState, name: &StrBytes) -> ItemOutcome<Option<i32>> {
    if name.is_empty() {
        return Ok(None);
    }
    let id: i32 = name.parse().ok().filter(|id| *id >= 0).ok_or_else(|| {
        (
            ResponseError::InvalidRequest.code(),
            format!("'{}' is not a broker id", name.as_str()),
        )
    })?;
    if state.broker(id).is_none() {
        return Err((
            ResponseError::InvalidRequest.code(),
            format!("broker {id} is not registered"),
        ));
    }
    Ok(Some(id))
}

/// Checks a change before it is proposed, so validate_only and real requests fail alike and
/// a refused request changes nothing: read-only settings get Kafka's INVALID_REQUEST, unknown
/// names and bad values INVALID_CONFIG naming the key.
pub fn plan_change(
    ctx: &BrokerContext,
    state: &ControllerState,
    broker: Option<i32>,
    set: Vec<(String, String)>,
    delete: Vec<String>,
) -> ItemOutcome<AlterBrokerConfigs> {
    let statics = static_configs(ctx);
    let read_only: Vec<&str> = set
        .iter()
        .map(|(k, _)| k.as_str())
        .chain(delete.iter().map(String::as_str))
        .filter(|k| broker_config_def(k).is_none() && statics.iter().any(|s| s.name == *k))
        .collect();
    if !read_only.is_empty() {
        return Err((
            ResponseError::InvalidRequest.code(),
            format!(
                "cannot update these configs dynamically: {} (set by flags at start; restart \
                 the broker to change them)",
                read_only.join(", ")
            ),
        ));
    }
    let mut preview = state.broker_configs().clone();
    preview
        .alter(broker, &set, &delete)
        .map_err(|e| (error_code(&e), e.to_string()))?;
    Ok(AlterBrokerConfigs {
        broker,
        set,
        delete,
    })
}

/// Proposes one validated change.
pub async fn propose(ctx: &BrokerContext, change: AlterBrokerConfigs) -> ItemOutcome<()> {
    match ctx.controller.propose(change).await {
        Err(e) => Err((propose_error_code(&e), e.to_string())),
        Ok(answer) => answer.map_err(|e| (error_code(&e), e.to_string())),
    }
}

fn error_code(error: &BrokerConfigError) -> i16 {
    match error {
        BrokerConfigError::UnknownKey { .. } | BrokerConfigError::InvalidValue { .. } => {
            ResponseError::InvalidConfig.code()
        }
        BrokerConfigError::ClusterWideOnly { .. } | BrokerConfigError::BothSetAndDeleted { .. } => {
            ResponseError::InvalidRequest.code()
        }
    }
}
