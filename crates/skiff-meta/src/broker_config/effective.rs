//! A topic's effective configs: its overrides over the broker-level defaults, with the typed
//! getters every check that acts on a config uses.

use std::borrow::Cow;

use super::{BrokerDefaults, ConfigSource, broker_synonym_of};
use crate::topic_config::{CleanupPolicy, StoredCodec, TimestampType, TopicConfig, config_def};

/// A topic's configs as a broker or the controller sees them: the topic's override, else the
/// broker default (dynamic or static), else Kafka's default. Borrowed; lookups never allocate
/// except for a value that comes from a static flag.
#[derive(Debug, Clone, Copy)]
pub struct EffectiveTopicConfig<'a> {
    topic: &'a TopicConfig,
    defaults: BrokerDefaults<'a>,
}

impl<'a> EffectiveTopicConfig<'a> {
    pub fn new(topic: &'a TopicConfig, defaults: BrokerDefaults<'a>) -> Self {
        EffectiveTopicConfig { topic, defaults }
    }

    /// The effective value of a topic key and where it comes from; `None` for unknown keys.
    pub fn resolve(&self, key: &str) -> Option<(Cow<'a, str>, ConfigSource)> {
        let def = config_def(key)?;
        if let Some(value) = self.topic.overrides().get(def.name) {
            return Some((Cow::Borrowed(value.as_str()), ConfigSource::Topic));
        }
        Some(match broker_synonym_of(def.name) {
            Some(broker) => self.defaults.resolve_def(broker),
            None => (Cow::Borrowed(def.default), ConfigSource::Default),
        })
    }

    /// The effective value of a topic key; `None` for unknown keys.
    pub fn get(&self, key: &str) -> Option<Cow<'a, str>> {
        self.resolve(key).map(|(value, _)| value)
    }

    fn parsed<T: std::str::FromStr>(&self, key: &str, fallback: T) -> T {
        self.get(key)
            .and_then(|v| v.parse().ok())
            .unwrap_or(fallback)
    }

    /// `max.message.bytes`: the largest batch the broker accepts.
    pub fn max_message_bytes(&self) -> i32 {
        self.parsed("max.message.bytes", 1_048_588)
    }

    /// `compression.type` with its `compression.gzip.level` or `compression.zstd.level`: the codec batches are stored in, or
    /// `None` for `producer` (stored as sent).
    pub fn stored_codec(&self) -> Option<StoredCodec> {
        Some(match self.get("compression.type").as_deref() {
            Some("uncompressed") => StoredCodec::Uncompressed,
            Some("gzip") => StoredCodec::Gzip {
                level: u32::try_from(self.parsed("compression.gzip.level", -1)).ok(),
            },
            Some("snappy") => StoredCodec::Snappy,
            Some("lz4") => StoredCodec::Lz4,
            Some("zstd") => StoredCodec::Zstd {
                level: self.parsed("compression.zstd.level", 3),
            },
            _ => return None,
        })
    }

    pub fn timestamp_type(&self) -> TimestampType {
        match self.get("message.timestamp.type").as_deref() {
            Some("LogAppendTime") => TimestampType::LogAppendTime,
            _ => TimestampType::CreateTime,
        }
    }

    /// `skiff.archive.enable`: whether the topic keeps an Iceberg archive.
    pub fn archive_enabled(&self) -> bool {
        self.get("skiff.archive.enable").as_deref() == Some("true")
    }

    /// `skiff.archive.retention.ms`: how long the archive keeps records; `None` (-1, the
    /// default) keeps them forever.
    pub fn archive_retention(&self) -> Option<std::time::Duration> {
        u64::try_from(self.parsed("skiff.archive.retention.ms", -1_i64))
            .ok()
            .map(std::time::Duration::from_millis)
    }

    /// `retention.ms`; -1 means keep forever.
    pub fn retention_ms(&self) -> i64 {
        self.parsed("retention.ms", 604_800_000)
    }

    /// `retention.bytes` per partition; -1 means no size limit.
    pub fn retention_bytes(&self) -> i64 {
        self.parsed("retention.bytes", -1)
    }

    /// `delete.retention.ms`: how long tombstones survive compaction.
    pub fn delete_retention_ms(&self) -> i64 {
        self.parsed("delete.retention.ms", 86_400_000)
    }

    /// `min.compaction.lag.ms`: records younger than this are never compacted.
    pub fn min_compaction_lag_ms(&self) -> i64 {
        self.parsed("min.compaction.lag.ms", 0)
    }

    /// `max.compaction.lag.ms`: records older than this make a partition due for compaction
    /// whatever its dirty ratio.
    pub fn max_compaction_lag_ms(&self) -> i64 {
        self.parsed("max.compaction.lag.ms", i64::MAX)
    }

    /// `min.cleanable.dirty.ratio`: the share of a partition's bytes that must be uncompacted
    /// before compaction runs.
    pub fn min_cleanable_dirty_ratio(&self) -> f64 {
        self.parsed("min.cleanable.dirty.ratio", 0.5)
    }

    pub fn cleanup_policy(&self) -> CleanupPolicy {
        let value = self.get("cleanup.policy");
        let mut policy = CleanupPolicy {
            delete: false,
            compact: false,
        };
        for item in value.as_deref().unwrap_or("delete").split(',') {
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
        self.parsed("message.timestamp.before.max.ms", i64::MAX)
    }

    /// `message.timestamp.after.max.ms`: how far in the future a CreateTime timestamp may be.
    pub fn message_timestamp_after_max_ms(&self) -> i64 {
        self.parsed("message.timestamp.after.max.ms", i64::MAX)
    }

    /// `message.timestamp.difference.max.ms` (deprecated symmetric bound).
    pub fn message_timestamp_difference_max_ms(&self) -> i64 {
        self.parsed("message.timestamp.difference.max.ms", i64::MAX)
    }

    /// Kafka's one check across keys: a record may not be due for compaction (by
    /// `max.compaction.lag.ms`) before it may be compacted (by `min.compaction.lag.ms`).
    pub fn compaction_lags(&self) -> (i64, i64) {
        (self.min_compaction_lag_ms(), self.max_compaction_lag_ms())
    }
}

/// The typed getters live here, with the defaults they fall back on.
impl TopicConfig {
    /// The configs with the broker-level defaults under the overrides: what every check that
    /// acts on a config uses.
    pub fn effective<'a>(&'a self, defaults: BrokerDefaults<'a>) -> EffectiveTopicConfig<'a> {
        EffectiveTopicConfig::new(self, defaults)
    }

    /// Over Kafka's built-in defaults only (no broker-level defaults).
    fn built_in(&self) -> EffectiveTopicConfig<'_> {
        self.effective(BrokerDefaults::BUILT_IN)
    }

    /// `message.timestamp.type` over the built-in default.
    pub fn timestamp_type(&self) -> TimestampType {
        self.built_in().timestamp_type()
    }

    /// `message.timestamp.after.max.ms` over the built-in default.
    pub fn message_timestamp_after_max_ms(&self) -> i64 {
        self.built_in().message_timestamp_after_max_ms()
    }

    /// `max.message.bytes` over the built-in default.
    pub fn max_message_bytes(&self) -> i32 {
        self.built_in().max_message_bytes()
    }

    /// `skiff.archive.enable`: whether the topic keeps an Iceberg archive (no broker default).
    pub fn archive_enabled(&self) -> bool {
        self.built_in().archive_enabled()
    }

    /// `skiff.archive.retention.ms` (no broker default).
    pub fn archive_retention(&self) -> Option<std::time::Duration> {
        self.built_in().archive_retention()
    }

    /// `retention.ms` over the built-in default.
    pub fn retention_ms(&self) -> i64 {
        self.built_in().retention_ms()
    }

    /// `retention.bytes` over the built-in default.
    pub fn retention_bytes(&self) -> i64 {
        self.built_in().retention_bytes()
    }

    /// `min.compaction.lag.ms` over the built-in default.
    pub fn min_compaction_lag_ms(&self) -> i64 {
        self.built_in().min_compaction_lag_ms()
    }

    /// `max.compaction.lag.ms` over the built-in default.
    pub fn max_compaction_lag_ms(&self) -> i64 {
        self.built_in().max_compaction_lag_ms()
    }

    /// `cleanup.policy` over the built-in default.
    pub fn cleanup_policy(&self) -> CleanupPolicy {
        self.built_in().cleanup_policy()
    }
}
