//! The storage lifecycle flags of `skiff dev` and `skiff controller`: what the controller's
//! leader enforces (retention, offset expiry). Kafka's broker config names are given where
//! Kafka has the setting.

use clap::Args;
use skiff_controller::config::LifecycleConfig;

#[derive(Debug, Default, Args)]
pub struct LifecycleArgs {
    /// Keep data of topics without retention.ms this long; -1 forever (log.retention.ms)
    /// [default: 604800000].
    #[arg(
        long,
        env = "SKIFF_LOG_RETENTION_MS",
        value_name = "MS",
        allow_negative_numbers = true
    )]
    pub log_retention_ms: Option<i64>,

    /// Keep this much per partition of topics without retention.bytes; -1 no limit
    /// (log.retention.bytes) [default: -1].
    #[arg(
        long,
        env = "SKIFF_LOG_RETENTION_BYTES",
        value_name = "BYTES",
        allow_negative_numbers = true
    )]
    pub log_retention_bytes: Option<i64>,

    /// How often the controller leader deletes data retention no longer keeps
    /// (log.retention.check.interval.ms) [default: 300000].
    #[arg(long, env = "SKIFF_RETENTION_CHECK_INTERVAL_MS", value_name = "MS")]
    pub retention_check_interval_ms: Option<u64>,

    /// Committed offsets of a group empty this long expire (offsets.retention.minutes)
    /// [default: 10080].
    #[arg(long, env = "SKIFF_OFFSETS_RETENTION_MINUTES", value_name = "MINUTES")]
    pub offsets_retention_minutes: Option<u64>,

    /// How often expired offsets are looked for (offsets.retention.check.interval.ms)
    /// [default: 600000].
    #[arg(
        long,
        env = "SKIFF_OFFSETS_RETENTION_CHECK_INTERVAL_MS",
        value_name = "MS"
    )]
    pub offsets_retention_check_interval_ms: Option<u64>,
}

impl LifecycleArgs {
    /// Overrides what the flags give.
    pub fn apply_to(&self, config: &mut LifecycleConfig) {
        fn set<T: Copy>(target: &mut T, value: Option<T>) {
            if let Some(value) = value {
                *target = value;
            }
        }
        set(&mut config.log_retention_ms, self.log_retention_ms);
        set(&mut config.log_retention_bytes, self.log_retention_bytes);
        set(
            &mut config.retention_check_interval_ms,
            self.retention_check_interval_ms,
        );
        set(
            &mut config.offsets_retention_minutes,
            self.offsets_retention_minutes,
        );
        set(
            &mut config.offsets_retention_check_interval_ms,
            self.offsets_retention_check_interval_ms,
        );
    }

    /// The first flag given, for `skiff broker`, which plans nothing: these belong to the
    /// controllers.
    pub fn first_given(&self) -> Option<&'static str> {
        [
            (self.log_retention_ms.is_some(), "--log-retention-ms"),
            (self.log_retention_bytes.is_some(), "--log-retention-bytes"),
            (
                self.retention_check_interval_ms.is_some(),
                "--retention-check-interval-ms",
            ),
            (
                self.offsets_retention_minutes.is_some(),
                "--offsets-retention-minutes",
            ),
            (
                self.offsets_retention_check_interval_ms.is_some(),
                "--offsets-retention-check-interval-ms",
            ),
        ]
        .into_iter()
        .find(|(given, _)| *given)
        .map(|(_, flag)| flag)
    }
}
