//! A trigger's settings, named after the event source mapping's (ESM) and held to its ranges.
//!
//! Flags (`skiff trigger --batch-size 500`) and TOML files (`batch_size = 500`) both fill a
//! [`TriggerSpec`]; [`TriggerSpec::validate`] checks it and gives the [`TriggerSettings`] the
//! trigger runs with. Errors name the setting the way the user wrote it.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

/// Lambda's defaults and limits for Kafka event source mappings.
pub const DEFAULT_BATCH_SIZE: i64 = 100;
pub const MAX_BATCH_SIZE: i64 = 10_000;
pub const DEFAULT_BATCHING_WINDOW_MS: i64 = 500;
pub const MAX_BATCHING_WINDOW_MS: i64 = 300_000;
pub const MAX_RETRY_ATTEMPTS: i64 = 10_000;
pub const MIN_RECORD_AGE_S: i64 = 60;
pub const MAX_RECORD_AGE_S: i64 = 604_800;
/// As in Lambda: "retry until the record expires" with a failure destination means 10 tries.
pub const INFINITE_RETRIES_WITH_DESTINATION: u32 = 10;

/// Kafka's session timeout for trigger members unless `kafka_properties` say otherwise:
/// shorter than librdkafka's 45 s so a killed trigger's partitions move on within seconds.
pub const DEFAULT_SESSION_TIMEOUT_MS: &str = "10000";

/// Where a group with no committed offset for a partition starts reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartingPosition {
    /// The oldest record still there.
    TrimHorizon,
    /// Only records written after the trigger joined.
    Latest,
    /// The first record with a timestamp at or after this many ms since the epoch.
    AtTimestamp(i64),
}

/// One trigger as written, every field optional; [`TriggerSpec::validate`] applies defaults
/// and limits. Field names are the TOML keys (flags use the same words with dashes).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TriggerSpec {
    pub bootstrap: Option<String>,
    pub topics: Option<Vec<String>>,
    pub group: Option<String>,
    pub function_name: Option<String>,
    pub lambda_endpoint: Option<String>,
    pub region: Option<String>,
    pub batch_size: Option<i64>,
    pub batching_window_ms: Option<i64>,
    pub starting_position: Option<String>,
    pub starting_timestamp: Option<String>,
    pub maximum_retry_attempts: Option<i64>,
    pub maximum_record_age_s: Option<i64>,
    pub bisect_batch_on_function_error: Option<bool>,
    pub report_batch_item_failures: Option<bool>,
    pub on_failure_topic: Option<String>,
    /// librdkafka properties for the consumer and the failure-topic producer.
    #[serde(default)]
    pub kafka_properties: BTreeMap<String, String>,
}

/// A validated trigger.
#[derive(Debug, Clone, PartialEq)]
pub struct TriggerSettings {
    pub bootstrap: String,
    pub topics: Vec<String>,
    pub group: String,
    pub function_name: String,
    pub lambda_endpoint: Option<String>,
    pub region: Option<String>,
    pub batch_size: usize,
    pub batching_window: Duration,
    pub starting_position: StartingPosition,
    /// Retries after the first attempt; `None` retries until the records expire.
    pub maximum_retry_attempts: Option<u32>,
    pub maximum_record_age: Option<Duration>,
    pub bisect_batch_on_function_error: bool,
    pub report_batch_item_failures: bool,
    pub on_failure_topic: Option<String>,
    pub kafka_properties: BTreeMap<String, String>,
}

/// How a setting is named where it came from, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Naming {
    /// `--batch-size`
    Flags,
    /// `batch_size`
    File,
}

impl Naming {
    pub fn name(self, field: &str) -> String {
        match self {
            Naming::Flags => format!("--{}", field.replace('_', "-")),
            Naming::File => field.to_owned(),
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SettingsError {
    #[error("{0} is required")]
    Missing(String),
    #[error("{name} must be {range}, not {value}")]
    OutOfRange {
        name: String,
        range: &'static str,
        value: String,
    },
    #[error("{name} {value:?} is not one of TRIM_HORIZON, LATEST, AT_TIMESTAMP")]
    StartingPosition { name: String, value: String },
    #[error("{position} AT_TIMESTAMP needs {timestamp}")]
    TimestampMissing { position: String, timestamp: String },
    #[error("{timestamp} is only used with {position} AT_TIMESTAMP")]
    TimestampUnused { position: String, timestamp: String },
    #[error(
        "{name} {value:?} is neither an RFC 3339 time (2026-12-06T10:00:00Z) nor milliseconds since the epoch"
    )]
    Timestamp { name: String, value: String },
    #[error(
        "{name} {topic:?} is also a source topic; failed records must go to another topic on the same cluster"
    )]
    FailureTopicIsSource { name: String, topic: String },
    #[error("{name} must not be empty")]
    Empty { name: String },
}

impl TriggerSpec {
    /// Fills what `self` leaves unset from `defaults` (a config file's top-level settings).
    pub fn with_defaults(mut self, defaults: &TriggerSpec) -> TriggerSpec {
        fn fill<T: Clone>(slot: &mut Option<T>, default: &Option<T>) {
            if slot.is_none() {
                slot.clone_from(default);
            }
        }
        fill(&mut self.bootstrap, &defaults.bootstrap);
        fill(&mut self.lambda_endpoint, &defaults.lambda_endpoint);
        fill(&mut self.region, &defaults.region);
        for (key, value) in &defaults.kafka_properties {
            self.kafka_properties
                .entry(key.clone())
                .or_insert_with(|| value.clone());
        }
        self
    }

    pub fn validate(self, naming: Naming) -> Result<TriggerSettings, SettingsError> {
        let n = |field: &str| naming.name(field);
        let required = |value: Option<String>, field: &str| match value {
            Some(v) if !v.trim().is_empty() => Ok(v),
            Some(_) => Err(SettingsError::Empty { name: n(field) }),
            None => Err(SettingsError::Missing(n(field))),
        };
        let bootstrap = required(self.bootstrap, "bootstrap")?;
        let group = required(self.group, "group")?;
        let function_name = required(self.function_name, "function_name")?;
        let topics = self.topics.unwrap_or_default();
        if topics.is_empty() {
            return Err(SettingsError::Missing(match naming {
                Naming::Flags => "--topic".to_owned(),
                Naming::File => "topics".to_owned(),
            }));
        }
        if topics.iter().any(|t| t.trim().is_empty()) {
            return Err(SettingsError::Empty { name: n("topics") });
        }

        let batch_size = self.batch_size.unwrap_or(DEFAULT_BATCH_SIZE);
        if !(1..=MAX_BATCH_SIZE).contains(&batch_size) {
            return Err(SettingsError::OutOfRange {
                name: n("batch_size"),
                range: "between 1 and 10000 records",
                value: batch_size.to_string(),
            });
        }
        let window_ms = self
            .batching_window_ms
            .unwrap_or(DEFAULT_BATCHING_WINDOW_MS);
        if !(0..=MAX_BATCHING_WINDOW_MS).contains(&window_ms) {
            return Err(SettingsError::OutOfRange {
                name: n("batching_window_ms"),
                range: "between 0 and 300000 ms (5 minutes)",
                value: window_ms.to_string(),
            });
        }

        let position_name = n("starting_position");
        let timestamp_name = n("starting_timestamp");
        let position = self
            .starting_position
            .as_deref()
            .unwrap_or("TRIM_HORIZON")
            .to_ascii_uppercase();
        let starting_position = match (position.as_str(), self.starting_timestamp) {
            ("TRIM_HORIZON" | "LATEST", Some(_)) => {
                return Err(SettingsError::TimestampUnused {
                    position: position_name,
                    timestamp: timestamp_name,
                });
            }
            ("TRIM_HORIZON", None) => StartingPosition::TrimHorizon,
            ("LATEST", None) => StartingPosition::Latest,
            ("AT_TIMESTAMP", Some(text)) => StartingPosition::AtTimestamp(
                parse_timestamp(&text).ok_or(SettingsError::Timestamp {
                    name: timestamp_name,
                    value: text,
                })?,
            ),
            ("AT_TIMESTAMP", None) => {
                return Err(SettingsError::TimestampMissing {
                    position: position_name,
                    timestamp: timestamp_name,
                });
            }
            _ => {
                return Err(SettingsError::StartingPosition {
                    name: position_name,
                    value: self.starting_position.unwrap_or_default(),
                });
            }
        };

        let retries = self.maximum_retry_attempts.unwrap_or(-1);
        let maximum_retry_attempts = match retries {
            -1 if self.on_failure_topic.is_some() => Some(INFINITE_RETRIES_WITH_DESTINATION),
            -1 => None,
            0..=MAX_RETRY_ATTEMPTS => Some(retries as u32),
            _ => {
                return Err(SettingsError::OutOfRange {
                    name: n("maximum_retry_attempts"),
                    range: "-1 (until the record expires) or between 0 and 10000",
                    value: retries.to_string(),
                });
            }
        };
        let age = self.maximum_record_age_s.unwrap_or(-1);
        let maximum_record_age = match age {
            -1 => None,
            MIN_RECORD_AGE_S..=MAX_RECORD_AGE_S => Some(Duration::from_secs(age as u64)),
            _ => {
                return Err(SettingsError::OutOfRange {
                    name: n("maximum_record_age_s"),
                    range: "-1 (no limit) or between 60 and 604800 seconds (7 days)",
                    value: age.to_string(),
                });
            }
        };

        if let Some(topic) = &self.on_failure_topic {
            if topic.trim().is_empty() {
                return Err(SettingsError::Empty {
                    name: n("on_failure_topic"),
                });
            }
            if topics.contains(topic) {
                return Err(SettingsError::FailureTopicIsSource {
                    name: n("on_failure_topic"),
                    topic: topic.clone(),
                });
            }
        }

        Ok(TriggerSettings {
            bootstrap,
            topics,
            group,
            function_name,
            lambda_endpoint: self.lambda_endpoint,
            region: self.region,
            batch_size: batch_size as usize,
            batching_window: Duration::from_millis(window_ms as u64),
            starting_position,
            maximum_retry_attempts,
            maximum_record_age,
            bisect_batch_on_function_error: self.bisect_batch_on_function_error.unwrap_or(false),
            report_batch_item_failures: self.report_batch_item_failures.unwrap_or(false),
            on_failure_topic: self.on_failure_topic,
            kafka_properties: self.kafka_properties,
        })
    }
}

/// RFC 3339, or milliseconds since the epoch.
fn parse_timestamp(text: &str) -> Option<i64> {
    if let Ok(ms) = text.trim().parse::<i64>() {
        return (ms >= 0).then_some(ms);
    }
    chrono::DateTime::parse_from_rfc3339(text.trim())
        .ok()
        .map(|t| t.timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> TriggerSpec {
        TriggerSpec {
            bootstrap: Some("127.0.0.1:9092".into()),
            topics: Some(vec!["orders".into()]),
            group: Some("orders-fn".into()),
            function_name: Some("orders".into()),
            ..TriggerSpec::default()
        }
    }

    fn err(change: impl FnOnce(&mut TriggerSpec), naming: Naming) -> String {
        let mut s = spec();
        change(&mut s);
        s.validate(naming).unwrap_err().to_string()
    }

    #[test]
    fn defaults_are_the_event_source_mappings() {
        let settings = spec().validate(Naming::Flags).unwrap();
        assert_eq!(settings.batch_size, 100);
        assert_eq!(settings.batching_window, Duration::from_millis(500));
        assert_eq!(settings.starting_position, StartingPosition::TrimHorizon);
        assert_eq!(settings.maximum_retry_attempts, None);
        assert_eq!(settings.maximum_record_age, None);
        assert!(!settings.bisect_batch_on_function_error);
        assert!(!settings.report_batch_item_failures);
    }

    #[test]
    fn ranges_are_enforced_with_readable_errors() {
        assert_eq!(
            err(|s| s.batch_size = Some(0), Naming::Flags),
            "--batch-size must be between 1 and 10000 records, not 0"
        );
        assert_eq!(
            err(|s| s.batch_size = Some(10_001), Naming::File),
            "batch_size must be between 1 and 10000 records, not 10001"
        );
        assert!(
            err(|s| s.batching_window_ms = Some(300_001), Naming::Flags)
                .starts_with("--batching-window-ms must be between 0 and 300000 ms")
        );
        assert!(
            err(|s| s.maximum_retry_attempts = Some(-2), Naming::Flags)
                .starts_with("--maximum-retry-attempts must be -1 (until the record expires)")
        );
        assert!(
            err(|s| s.maximum_retry_attempts = Some(10_001), Naming::Flags).ends_with("not 10001")
        );
        assert!(
            err(|s| s.maximum_record_age_s = Some(59), Naming::Flags).starts_with(
                "--maximum-record-age-s must be -1 (no limit) or between 60 and 604800"
            )
        );
        assert!(
            err(|s| s.maximum_record_age_s = Some(604_801), Naming::Flags).ends_with("not 604801")
        );
        assert_eq!(
            err(|s| s.group = None, Naming::Flags),
            "--group is required"
        );
        assert_eq!(
            err(|s| s.topics = None, Naming::Flags),
            "--topic is required"
        );
        assert_eq!(
            err(|s| s.function_name = None, Naming::File),
            "function_name is required"
        );
    }

    #[test]
    fn limits_themselves_are_accepted() {
        let mut s = spec();
        s.batch_size = Some(10_000);
        s.batching_window_ms = Some(300_000);
        s.maximum_retry_attempts = Some(10_000);
        s.maximum_record_age_s = Some(604_800);
        let settings = s.validate(Naming::Flags).unwrap();
        assert_eq!(settings.maximum_retry_attempts, Some(10_000));
        assert_eq!(
            settings.maximum_record_age,
            Some(Duration::from_secs(604_800))
        );
        let mut s = spec();
        s.maximum_record_age_s = Some(60);
        s.maximum_retry_attempts = Some(0);
        assert_eq!(
            s.validate(Naming::Flags).unwrap().maximum_retry_attempts,
            Some(0)
        );
    }

    #[test]
    fn infinite_retries_with_a_failure_topic_are_capped_at_ten() {
        let mut s = spec();
        s.on_failure_topic = Some("orders-failed".into());
        assert_eq!(
            s.validate(Naming::Flags).unwrap().maximum_retry_attempts,
            Some(10)
        );
        let mut s = spec();
        s.on_failure_topic = Some("orders-failed".into());
        s.maximum_retry_attempts = Some(50);
        assert_eq!(
            s.validate(Naming::Flags).unwrap().maximum_retry_attempts,
            Some(50)
        );
    }

    #[test]
    fn the_failure_topic_is_not_a_source_topic() {
        assert_eq!(
            err(
                |s| s.on_failure_topic = Some("orders".into()),
                Naming::Flags
            ),
            "--on-failure-topic \"orders\" is also a source topic; failed records must go to another topic on the same cluster"
        );
    }

    #[test]
    fn starting_positions() {
        let mut s = spec();
        s.starting_position = Some("latest".into());
        assert_eq!(
            s.validate(Naming::Flags).unwrap().starting_position,
            StartingPosition::Latest
        );
        let mut s = spec();
        s.starting_position = Some("AT_TIMESTAMP".into());
        s.starting_timestamp = Some("2026-12-06T10:00:00Z".into());
        assert_eq!(
            s.validate(Naming::Flags).unwrap().starting_position,
            StartingPosition::AtTimestamp(1_796_551_200_000)
        );
        let mut s = spec();
        s.starting_position = Some("AT_TIMESTAMP".into());
        s.starting_timestamp = Some("1700000000000".into());
        assert_eq!(
            s.validate(Naming::Flags).unwrap().starting_position,
            StartingPosition::AtTimestamp(1_700_000_000_000)
        );
        assert_eq!(
            err(
                |s| s.starting_position = Some("AT_TIMESTAMP".into()),
                Naming::Flags
            ),
            "--starting-position AT_TIMESTAMP needs --starting-timestamp"
        );
        assert_eq!(
            err(|s| s.starting_timestamp = Some("0".into()), Naming::File),
            "starting_timestamp is only used with starting_position AT_TIMESTAMP"
        );
        assert_eq!(
            err(
                |s| s.starting_position = Some("EARLIEST".into()),
                Naming::Flags
            ),
            "--starting-position \"EARLIEST\" is not one of TRIM_HORIZON, LATEST, AT_TIMESTAMP"
        );
        assert!(
            err(
                |s| {
                    s.starting_position = Some("AT_TIMESTAMP".into());
                    s.starting_timestamp = Some("yesterday".into());
                },
                Naming::Flags
            )
            .contains("is neither an RFC 3339 time")
        );
    }

    #[test]
    fn file_defaults_fill_only_what_a_trigger_leaves_unset() {
        let defaults = TriggerSpec {
            bootstrap: Some("a:1".into()),
            region: Some("eu-west-1".into()),
            kafka_properties: [("session.timeout.ms".to_owned(), "6000".to_owned())].into(),
            ..TriggerSpec::default()
        };
        let mut s = spec();
        s.region = None;
        let filled = s.with_defaults(&defaults);
        assert_eq!(filled.bootstrap.as_deref(), Some("127.0.0.1:9092"));
        assert_eq!(filled.region.as_deref(), Some("eu-west-1"));
        assert_eq!(filled.kafka_properties["session.timeout.ms"], "6000");
    }
}
