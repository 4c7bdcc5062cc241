//! Dynamic broker configs (Kafka's `kafka-configs --entity-type brokers`): the broker-level
//! defaults of topic configs, set for the whole cluster (the BROKER resource with an empty
//! name) or for one broker (named by its id), kept in the controller state so every broker
//! sees a change without a restart.
//!
//! Each dynamic key is the broker-wide default of one topic config (`log.retention.ms` of
//! `retention.ms`, ...), validated as that topic config is. A value resolves, most specific
//! first: the topic's own override, this broker's dynamic value, the cluster's dynamic
//! default, the static value from a flag, Kafka's built-in default.

mod effective;
mod error;
mod table;

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use effective::EffectiveTopicConfig;
pub use error::BrokerConfigError;
pub use table::{BROKER_CONFIGS, BrokerConfigDef, broker_config_def, broker_synonym_of};

use crate::topic_config::config_def;

/// Kafka's `log.retention.ms` default (7 days).
pub const DEFAULT_LOG_RETENTION_MS: i64 = 7 * 24 * 60 * 60 * 1000;

/// The static layer: what a topic without its own `retention.ms` / `retention.bytes` gets
/// when no dynamic value is set, from the controller leader's `--log-retention-*` flags
/// (replicated by `SetLogDefaults`, so every broker describes the same). `-1` keeps data
/// forever (time) or without a size limit (bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogDefaults {
    pub retention_ms: i64,
    pub retention_bytes: i64,
}

impl Default for LogDefaults {
    fn default() -> Self {
        LogDefaults {
            retention_ms: DEFAULT_LOG_RETENTION_MS,
            retention_bytes: -1,
        }
    }
}

/// Where an effective config value comes from (Kafka's `ConfigSource`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigSource {
    /// The topic's own override.
    Topic,
    /// A dynamic value for this one broker.
    DynamicBroker,
    /// The dynamic cluster-wide default.
    DynamicDefaultBroker,
    /// A flag the broker or controller was started with.
    StaticBroker,
    /// Kafka's built-in default.
    Default,
}

/// The dynamic broker configs: the cluster default and per-broker overrides, by broker key.
/// Only validated, normalised values are stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokerConfigs {
    cluster: BTreeMap<String, String>,
    per_broker: BTreeMap<i32, BTreeMap<String, String>>,
}

static NO_DYNAMIC_CONFIGS: BrokerConfigs = BrokerConfigs {
    cluster: BTreeMap::new(),
    per_broker: BTreeMap::new(),
};

/// Checks one dynamic key and value for `broker` (`None`: the cluster default), returning
/// the value to store.
pub fn validate(broker: Option<i32>, key: &str, value: &str) -> Result<String, BrokerConfigError> {
    let def = check_key(broker, key)?;
    let topic_def = config_def(def.topic_key).ok_or_else(|| BrokerConfigError::UnknownKey {
        key: key.to_string(),
    })?;
    topic_def
        .normalise(value)
        .map_err(|problem| BrokerConfigError::InvalidValue {
            key: key.to_string(),
            error: crate::topic_config::ConfigError::new(def.topic_key, problem),
        })
}

fn check_key(
    broker: Option<i32>,
    key: &str,
) -> Result<&'static BrokerConfigDef, BrokerConfigError> {
    let def = broker_config_def(key).ok_or_else(|| BrokerConfigError::UnknownKey {
        key: key.to_string(),
    })?;
    if broker.is_some() && !def.per_broker {
        return Err(BrokerConfigError::ClusterWideOnly {
            key: key.to_string(),
        });
    }
    Ok(def)
}

impl BrokerConfigs {
    /// The cluster-wide dynamic defaults, by broker key.
    pub fn cluster(&self) -> &BTreeMap<String, String> {
        &self.cluster
    }

    /// One broker's dynamic overrides, by broker key (empty when it has none).
    pub fn broker(&self, id: i32) -> &BTreeMap<String, String> {
        self.per_broker
            .get(&id)
            .unwrap_or(&NO_DYNAMIC_CONFIGS.cluster)
    }

    /// Brokers with dynamic overrides, by id.
    pub fn brokers_with_overrides(&self) -> impl Iterator<Item = i32> + '_ {
        self.per_broker.keys().copied()
    }

    /// Applies deletions and then sets to the cluster default (`None`) or one broker, all or
    /// nothing.
    pub fn alter(
        &mut self,
        broker: Option<i32>,
        set: &[(String, String)],
        delete: &[String],
    ) -> Result<(), BrokerConfigError> {
        let current = match broker {
            None => &self.cluster,
            Some(id) => self.broker(id),
        };
        let mut next = current.clone();
        for key in delete {
            check_key(broker, key)?;
            if set.iter().any(|(k, _)| k == key) {
                return Err(BrokerConfigError::BothSetAndDeleted { key: key.clone() });
            }
            next.remove(key.as_str());
        }
        for (key, value) in set {
            let value = validate(broker, key, value)?;
            next.insert(key.clone(), value);
        }
        match broker {
            None => self.cluster = next,
            Some(id) if next.is_empty() => {
                self.per_broker.remove(&id);
            }
            Some(id) => {
                self.per_broker.insert(id, next);
            }
        }
        Ok(())
    }
}

/// What a topic config falls back on below the topic: the dynamic broker configs seen from
/// one broker (or from the controller, which has no broker of its own), then the static
/// retention flags, then Kafka's defaults. Borrowed from the state; cheap to copy.
#[derive(Debug, Clone, Copy)]
pub struct BrokerDefaults<'a> {
    dynamic: &'a BrokerConfigs,
    broker: Option<i32>,
    statics: LogDefaults,
}

impl BrokerDefaults<'static> {
    /// Kafka's built-in defaults only.
    pub const BUILT_IN: BrokerDefaults<'static> = BrokerDefaults {
        dynamic: &NO_DYNAMIC_CONFIGS,
        broker: None,
        statics: LogDefaults {
            retention_ms: DEFAULT_LOG_RETENTION_MS,
            retention_bytes: -1,
        },
    };
}

impl<'a> BrokerDefaults<'a> {
    pub fn new(dynamic: &'a BrokerConfigs, broker: Option<i32>, statics: LogDefaults) -> Self {
        BrokerDefaults {
            dynamic,
            broker,
            statics,
        }
    }

    /// Every layer that has a value for a broker key, most specific first, ending with the
    /// built-in default: what DescribeConfigs reports as synonyms. Empty for unknown keys.
    pub fn layers(&self, broker_key: &str) -> Vec<(Cow<'a, str>, ConfigSource)> {
        let Some(def) = broker_config_def(broker_key) else {
            return Vec::new();
        };
        let mut layers = Vec::with_capacity(4);
        if let Some(value) = self.per_broker_value(def) {
            layers.push((Cow::Borrowed(value), ConfigSource::DynamicBroker));
        }
        if let Some(value) = self.dynamic.cluster.get(def.name) {
            layers.push((
                Cow::Borrowed(value.as_str()),
                ConfigSource::DynamicDefaultBroker,
            ));
        }
        if let Some(value) = self.static_value(def) {
            layers.push((Cow::Owned(value), ConfigSource::StaticBroker));
        }
        layers.push((Cow::Borrowed(built_in(def)), ConfigSource::Default));
        layers
    }

    /// The effective value of a broker key and where it comes from; `None` for unknown keys.
    pub fn resolve(&self, broker_key: &str) -> Option<(Cow<'a, str>, ConfigSource)> {
        let def = broker_config_def(broker_key)?;
        Some(self.resolve_def(def))
    }

    pub(crate) fn resolve_def(
        &self,
        def: &'static BrokerConfigDef,
    ) -> (Cow<'a, str>, ConfigSource) {
        if let Some(value) = self.per_broker_value(def) {
            return (Cow::Borrowed(value), ConfigSource::DynamicBroker);
        }
        if let Some(value) = self.dynamic.cluster.get(def.name) {
            return (
                Cow::Borrowed(value.as_str()),
                ConfigSource::DynamicDefaultBroker,
            );
        }
        if let Some(value) = self.static_value(def) {
            return (Cow::Owned(value), ConfigSource::StaticBroker);
        }
        (Cow::Borrowed(built_in(def)), ConfigSource::Default)
    }

    fn per_broker_value(&self, def: &BrokerConfigDef) -> Option<&'a str> {
        let dynamic: &'a BrokerConfigs = self.dynamic;
        let id = self.broker.filter(|_| def.per_broker)?;
        dynamic
            .per_broker
            .get(&id)?
            .get(def.name)
            .map(String::as_str)
    }

    /// The value the controller's `--log-retention-*` flags give, when it is not Kafka's
    /// default (the replicated form cannot tell a flag set to the default from no flag).
    fn static_value(&self, def: &BrokerConfigDef) -> Option<String> {
        let (value, default) = match def.name {
            "log.retention.ms" => (self.statics.retention_ms, DEFAULT_LOG_RETENTION_MS),
            "log.retention.bytes" => (self.statics.retention_bytes, -1),
            _ => return None,
        };
        (value != default).then(|| value.to_string())
    }
}

fn built_in(def: &BrokerConfigDef) -> &'static str {
    config_def(def.topic_key).map_or("", |d| d.default)
}

#[cfg(test)]
mod tests;
