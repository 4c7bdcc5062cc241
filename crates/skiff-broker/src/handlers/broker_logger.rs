//! BROKER_LOGGER config resources, shared by DescribeConfigs and IncrementalAlterConfigs: a
//! broker's loggers (`tracing` targets) and their levels, changed at run time and held in
//! memory only, as Kafka's are. Admin clients send them to the broker the resource names.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::incremental_alter_configs_request::AlterConfigsResource;

use crate::context::BrokerContext;
use crate::kafka_error::log_level_error_code;
use crate::log_levels::{LogLevels, LoggerChange, LoggerLevel, parse_change};

pub(crate) const RESOURCE_BROKER_LOGGER: i8 = 8;

const OP_SET: i8 = 0;
const OP_DELETE: i8 = 1;

/// The log filter of this broker, when `name` is this broker's id.
fn levels<'a>(ctx: &'a BrokerContext, name: &str) -> Result<&'a dyn LogLevels, (i16, String)> {
    if name != ctx.config.broker_id.to_string() {
        return Err((
            ResponseError::InvalidRequest.code(),
            format!(
                "this is broker {}; ask broker {name:?} for its loggers",
                ctx.config.broker_id
            ),
        ));
    }
    ctx.log_levels.as_deref().ok_or_else(|| {
        (
            ResponseError::InvalidRequest.code(),
            "this broker's log levels cannot be changed at run time (it does not own the \
             process's log filter)"
                .to_owned(),
        )
    })
}

/// Every logger with its level, `root` first: DescribeConfigs rows as (name, value).
pub(crate) fn describe(
    ctx: &BrokerContext,
    name: &str,
) -> Result<Vec<(String, LoggerLevel)>, (i16, String)> {
    levels(ctx, name).map(LogLevels::loggers)
}

/// The resource's operations as checked changes: SET a level, or DELETE a logger's own level
/// (it then follows its parent module, or root). Kafka allows nothing else on loggers.
pub(crate) fn plan(
    ctx: &BrokerContext,
    resource: &AlterConfigsResource,
) -> Result<Vec<LoggerChange>, (i16, String)> {
    levels(ctx, resource.resource_name.as_str())?;
    resource
        .configs
        .iter()
        .map(|op| {
            let logger = op.name.as_str();
            let value = match op.config_operation {
                OP_SET => Some(op.value.as_ref().map_or("", |v| v.as_str())),
                OP_DELETE => None,
                other => {
                    return Err((
                        ResponseError::InvalidRequest.code(),
                        format!(
                            "{logger}: operation {other} is not allowed on a BROKER_LOGGER \
                             resource, only SET (0) and DELETE (1)"
                        ),
                    ));
                }
            };
            parse_change(logger, value).map_err(|e| (log_level_error_code(&e), e.to_string()))
        })
        .collect()
}

/// Applies planned changes together.
pub(crate) fn apply(
    ctx: &BrokerContext,
    name: &str,
    changes: &[LoggerChange],
) -> Result<(), (i16, String)> {
    let levels = levels(ctx, name)?;
    levels
        .apply(changes)
        .map_err(|e| (log_level_error_code(&e), e.to_string()))?;
    tracing::info!(
        changes = ?changes
            .iter()
            .map(|(logger, level)| format!("{logger}={}", level.map_or("(inherit)", LoggerLevel::as_str)))
            .collect::<Vec<_>>(),
        "log levels changed (BROKER_LOGGER)"
    );
    Ok(())
}
