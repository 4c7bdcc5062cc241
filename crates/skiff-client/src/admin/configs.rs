//! DescribeConfigs (with each value's source) and IncrementalAlterConfigs.

use std::fmt;

use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::{ApiKey, DescribeConfigsRequest, IncrementalAlterConfigsRequest};

use super::str_bytes;
use super::topics::missing;
use crate::client::KafkaClient;
use crate::connection::BrokerConnection;
use crate::error::ClientError;
use crate::kafka_code::UNKNOWN_TOPIC_OR_PARTITION;

const RESOURCE_TOPIC: i8 = 2;
const RESOURCE_BROKER: i8 = 4;
const OP_SET: i8 = 0;
const OP_DELETE: i8 = 1;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigResource {
    Topic(String),
    Broker(i32),
    /// The dynamic broker configs every broker falls back on (Kafka's BROKER resource with an
    /// empty name).
    BrokerDefault,
}

impl ConfigResource {
    fn kind(&self) -> i8 {
        match self {
            ConfigResource::Topic(_) => RESOURCE_TOPIC,
            ConfigResource::Broker(_) | ConfigResource::BrokerDefault => RESOURCE_BROKER,
        }
    }

    fn name(&self) -> String {
        match self {
            ConfigResource::Topic(name) => name.clone(),
            ConfigResource::Broker(id) => id.to_string(),
            ConfigResource::BrokerDefault => String::new(),
        }
    }
}

impl fmt::Display for ConfigResource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigResource::Topic(name) => write!(f, "topic {name}"),
            ConfigResource::Broker(id) => write!(f, "broker {id}"),
            ConfigResource::BrokerDefault => write!(f, "the cluster-wide broker defaults"),
        }
    }
}

/// Where a config value comes from (DescribeConfigs `config_source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigSource {
    /// Set on the topic itself.
    Topic,
    DynamicBroker,
    DynamicBrokerDefault,
    /// The broker's own configuration file or flags.
    StaticBroker,
    /// Nobody set it: the built-in default.
    Default,
    Other(i8),
}

impl ConfigSource {
    pub(crate) fn from_code(code: i8) -> Self {
        match code {
            1 => ConfigSource::Topic,
            2 => ConfigSource::DynamicBroker,
            3 => ConfigSource::DynamicBrokerDefault,
            4 => ConfigSource::StaticBroker,
            5 => ConfigSource::Default,
            other => ConfigSource::Other(other),
        }
    }

    /// A short lower-case name, e.g. `topic` or `default`.
    pub fn name(self) -> String {
        match self {
            ConfigSource::Topic => "topic".into(),
            ConfigSource::DynamicBroker => "dynamic-broker".into(),
            ConfigSource::DynamicBrokerDefault => "dynamic-broker-default".into(),
            ConfigSource::StaticBroker => "static-broker".into(),
            ConfigSource::Default => "default".into(),
            ConfigSource::Other(code) => format!("source-{code}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigEntry {
    pub name: String,
    /// None for sensitive values and unset ones.
    pub value: Option<String>,
    pub source: ConfigSource,
    pub read_only: bool,
    pub sensitive: bool,
    /// What the key means, from brokers that send it (DescribeConfigs v3+); Skiff's also says
    /// when a key is accepted but has no effect.
    pub documentation: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlterConfigOp {
    Set(String, String),
    /// Back to the default.
    Delete(String),
}

pub(crate) fn describe_configs_request(
    resource: &ConfigResource,
    version: i16,
) -> DescribeConfigsRequest {
    let mut entry = DescribeConfigsResource::default();
    entry.resource_type = resource.kind();
    entry.resource_name = str_bytes(&resource.name());
    entry.configuration_keys = None;
    let mut request = DescribeConfigsRequest::default();
    request.resources = vec![entry];
    // Only v3+ can carry it (and kafka-protocol refuses to encode it below).
    request.include_documentation = version >= 3;
    request
}

pub(crate) fn alter_configs_request(
    resource: &ConfigResource,
    ops: &[AlterConfigOp],
) -> IncrementalAlterConfigsRequest {
    let mut entry = AlterConfigsResource::default();
    entry.resource_type = resource.kind();
    entry.resource_name = str_bytes(&resource.name());
    entry.configs = ops
        .iter()
        .map(|op| {
            let mut config = AlterableConfig::default();
            match op {
                AlterConfigOp::Set(name, value) => {
                    config.name = str_bytes(name);
                    config.config_operation = OP_SET;
                    config.value = Some(str_bytes(value));
                }
                AlterConfigOp::Delete(name) => {
                    config.name = str_bytes(name);
                    config.config_operation = OP_DELETE;
                    config.value = None;
                }
            }
            config
        })
        .collect();
    let mut request = IncrementalAlterConfigsRequest::default();
    request.resources = vec![entry];
    request
}

impl KafkaClient {
    /// Broker configs are only known to that broker; topic configs to any.
    async fn config_connection(
        &self,
        resource: &ConfigResource,
    ) -> Result<std::sync::Arc<BrokerConnection>, ClientError> {
        match resource {
            ConfigResource::Broker(id) => self.broker(*id).await,
            ConfigResource::Topic(_) | ConfigResource::BrokerDefault => self.any_broker().await,
        }
    }

    /// Every config of a topic or broker, with each value's source.
    pub async fn describe_configs(
        &self,
        resource: &ConfigResource,
    ) -> Result<Vec<ConfigEntry>, ClientError> {
        let context = format!("cannot describe the configs of {resource}");
        let connection = self.config_connection(resource).await?;
        let version = connection.require_version(ApiKey::DescribeConfigs)?;
        let request = describe_configs_request(resource, version);
        let response = connection.send(&request).await?;
        let result = response
            .results
            .into_iter()
            .next()
            .ok_or_else(|| missing(&context))?;
        check(
            resource,
            result.error_code,
            &context,
            result.error_message.as_deref(),
        )?;
        let mut entries: Vec<ConfigEntry> = result
            .configs
            .into_iter()
            .map(|c| ConfigEntry {
                name: c.name.to_string(),
                value: c.value.map(|v| v.to_string()),
                source: ConfigSource::from_code(c.config_source),
                read_only: c.read_only,
                sensitive: c.is_sensitive,
                documentation: c.documentation.map(|d| d.to_string()),
            })
            .collect();
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(entries)
    }

    /// Sets and deletes config keys in one request; all or nothing, as the broker applies it.
    pub async fn alter_configs(
        &self,
        resource: &ConfigResource,
        ops: &[AlterConfigOp],
    ) -> Result<(), ClientError> {
        let context = format!("cannot alter the configs of {resource}");
        let request = alter_configs_request(resource, ops);
        self.retry_once(None, async || {
            let connection = match resource {
                ConfigResource::Broker(id) => self.broker(*id).await?,
                ConfigResource::Topic(_) | ConfigResource::BrokerDefault => {
                    self.controller().await?
                }
            };
            let response = connection.send(&request).await?;
            let result = response
                .responses
                .first()
                .ok_or_else(|| missing(&context))?;
            check(
                resource,
                result.error_code,
                &context,
                result.error_message.as_deref(),
            )
        })
        .await
    }
}

fn check(
    resource: &ConfigResource,
    code: i16,
    context: &str,
    message: Option<&str>,
) -> Result<(), ClientError> {
    match (code, resource) {
        (0, _) => Ok(()),
        (UNKNOWN_TOPIC_OR_PARTITION, ConfigResource::Topic(topic)) => {
            Err(ClientError::UnknownTopic {
                topic: topic.clone(),
            })
        }
        (code, _) => Err(ClientError::kafka(code, context, message)),
    }
}
