//! Topic config overrides: validation against Kafka's table. The typed getters, which fall
//! back on the broker-level defaults, are in [`crate::broker_config`].

mod error;
mod table;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use error::ConfigError;
pub use table::{ConfigDef, ConfigProblem, ConfigType, TOPIC_CONFIGS, config_def};

/// Where record timestamps come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampType {
    CreateTime,
    LogAppendTime,
}

/// The codec a topic stores batches in (`compression.type` other than `producer`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoredCodec {
    Uncompressed,
    /// `compression.gzip.level`, `None` for the default.
    Gzip {
        level: Option<u32>,
    },
    Snappy,
    Lz4,
    /// `compression.zstd.level`.
    Zstd {
        level: i32,
    },
}

/// What happens to old data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CleanupPolicy {
    pub delete: bool,
    pub compact: bool,
}

/// One row of DescribeConfigs output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfigEntry<'a> {
    pub name: &'static str,
    pub value: &'a str,
    pub is_default: bool,
    pub is_sensitive: bool,
    pub read_only: bool,
    pub config_type: ConfigType,
    pub honoured: bool,
    pub doc: &'static str,
}

/// A topic's config overrides. Only validated, normalised values are ever stored, so the typed
/// getters can fall back to defaults instead of failing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicConfig {
    overrides: BTreeMap<String, String>,
}

fn invalid(key: &str, problem: ConfigProblem) -> ConfigError {
    ConfigError::new(key, problem)
}

/// Validates one key and value, returning the definition and the value to store.
fn validate(key: &str, value: &str) -> Result<(&'static ConfigDef, String), ConfigError> {
    let def = config_def(key).ok_or_else(|| invalid(key, ConfigProblem::UnknownKey))?;
    let normalised = def.normalise(value).map_err(|why| invalid(key, why))?;
    Ok((def, normalised))
}

impl TopicConfig {
    /// Builds a config from CreateTopics overrides; any unknown key or bad value fails it whole.
    pub fn from_overrides(overrides: &BTreeMap<String, String>) -> Result<Self, ConfigError> {
        let mut config = TopicConfig::default();
        for (key, value) in overrides {
            let (def, value) = validate(key, value)?;
            config.overrides.insert(def.name.to_string(), value);
        }
        Ok(config)
    }

    /// Applies deletions and then sets, all or nothing.
    pub fn alter(
        &mut self,
        set: &[(String, String)],
        delete: &[String],
    ) -> Result<(), ConfigError> {
        let mut next = self.overrides.clone();
        for key in delete {
            if config_def(key).is_none() {
                return Err(invalid(key, ConfigProblem::UnknownKey));
            }
            if set.iter().any(|(k, _)| k == key) {
                return Err(invalid(key, ConfigProblem::BothSetAndDeleted));
            }
            next.remove(key.as_str());
        }
        for (key, value) in set {
            let (def, value) = validate(key, value)?;
            next.insert(def.name.to_string(), value);
        }
        self.overrides = next;
        Ok(())
    }

    /// Kafka's one check across keys: a record may not be due for compaction (by
    /// `max.compaction.lag.ms`) before it may be compacted (by `min.compaction.lag.ms`).
    /// Brokers check it on CreateTopics and IncrementalAlterConfigs; applying a command does
    /// not, so a log written before the check existed replays to the same state.
    pub fn check_compaction_lags(&self) -> Result<(), ConfigError> {
        let (min, max) = (self.min_compaction_lag_ms(), self.max_compaction_lag_ms());
        if min > max {
            return Err(invalid(
                "min.compaction.lag.ms",
                ConfigProblem::AboveMaxCompactionLag { min, max },
            ));
        }
        Ok(())
    }

    /// The explicitly set values, by key.
    pub fn overrides(&self) -> &BTreeMap<String, String> {
        &self.overrides
    }

    /// The effective value of a key (override or Kafka's default); `None` for unknown keys.
    pub fn get(&self, key: &str) -> Option<&str> {
        let def = config_def(key)?;
        Some(self.overrides.get(key).map_or(def.default, String::as_str))
    }

    /// Every topic config key with its effective value, in name order.
    pub fn entries(&self) -> impl Iterator<Item = ConfigEntry<'_>> {
        TOPIC_CONFIGS.iter().map(|def| {
            let set = self.overrides.get(def.name);
            let value = set.map_or(def.default, String::as_str);
            ConfigEntry {
                name: def.name,
                value,
                is_default: set.is_none(),
                is_sensitive: false,
                read_only: false,
                config_type: def.config_type,
                honoured: def.honoured,
                doc: def.doc,
            }
        })
    }
}

#[cfg(test)]
mod tests;
