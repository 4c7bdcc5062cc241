//! Topic config overrides: validation against Kafka's table and typed getters for the broker.

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

    fn long(&self, key: &str, default: i64) -> i64 {
        self.get(key)
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    }

    /// `max.message.bytes`: the largest batch the broker accepts.
    pub fn max_message_bytes(&self) -> i32 {
        self.get("max.message.bytes")
            .and_then(|v| v.parse().ok())
            .unwrap_or(1_048_588)
    }

    pub fn timestamp_type(&self) -> TimestampType {
        match self.get("message.timestamp.type") {
            Some("LogAppendTime") => TimestampType::LogAppendTime,
            _ => TimestampType::CreateTime,
        }
    }

    /// `skiff.archive.enable`: whether the topic keeps an Iceberg archive.
    pub fn archive_enabled(&self) -> bool {
        self.get("skiff.archive.enable") == Some("true")
    }

    /// `skiff.archive.retention.ms`: how long the archive keeps records; `None` (-1, the
    /// default) keeps them forever.
    pub fn archive_retention(&self) -> Option<std::time::Duration> {
        u64::try_from(self.long("skiff.archive.retention.ms", -1))
            .ok()
            .map(std::time::Duration::from_millis)
    }

    /// `retention.ms`; -1 means keep forever.
    pub fn retention_ms(&self) -> i64 {
        self.long("retention.ms", 604_800_000)
    }

    /// `retention.bytes` per partition; -1 means no size limit.
    pub fn retention_bytes(&self) -> i64 {
        self.long("retention.bytes", -1)
    }

    /// `retention.ms` if the topic sets it, else the cluster default (`log.retention.ms`).
    pub fn retention_ms_or(&self, default: i64) -> i64 {
        self.override_long("retention.ms").unwrap_or(default)
    }

    /// `retention.bytes` if the topic sets it, else the cluster default
    /// (`log.retention.bytes`).
    pub fn retention_bytes_or(&self, default: i64) -> i64 {
        self.override_long("retention.bytes").unwrap_or(default)
    }

    /// `delete.retention.ms`: how long tombstones survive compaction.
    pub fn delete_retention_ms(&self) -> i64 {
        self.long("delete.retention.ms", 86_400_000)
    }

    /// `min.compaction.lag.ms`: records younger than this are never compacted.
    pub fn min_compaction_lag_ms(&self) -> i64 {
        self.long("min.compaction.lag.ms", 0)
    }

    /// `max.compaction.lag.ms`: records older than this make a partition due for compaction
    /// whatever its dirty ratio.
    pub fn max_compaction_lag_ms(&self) -> i64 {
        self.long("max.compaction.lag.ms", i64::MAX)
    }

    /// `min.cleanable.dirty.ratio`: the share of a partition's bytes that must be uncompacted
    /// before compaction runs.
    pub fn min_cleanable_dirty_ratio(&self) -> f64 {
        self.get("min.cleanable.dirty.ratio")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.5)
    }

    fn override_long(&self, key: &str) -> Option<i64> {
        self.overrides.get(key).and_then(|v| v.parse().ok())
    }

    pub fn cleanup_policy(&self) -> CleanupPolicy {
        let value = self.get("cleanup.policy").unwrap_or("delete");
        let mut policy = CleanupPolicy {
            delete: false,
            compact: false,
        };
        for item in value.split(',') {
            match item {
                "delete" => policy.delete = true,
                "compact" => policy.compact = true,
                _ => {}
            }
        }
        policy
    }

    /// `message.timestamp.before.max.ms`: how far in the past a CreateTime timestamp may be.
    pub fn message_timestamp_before_max_ms(&self) -> i64 {
        self.long("message.timestamp.before.max.ms", i64::MAX)
    }

    /// `message.timestamp.after.max.ms`: how far in the future a CreateTime timestamp may be.
    pub fn message_timestamp_after_max_ms(&self) -> i64 {
        self.long("message.timestamp.after.max.ms", i64::MAX)
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
