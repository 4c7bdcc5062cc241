//! The storage lifecycle flags of `skiff dev` and `skiff controller`: what the controller's
//! leader enforces (retention, offset expiry) and plans (merge and compaction jobs). Kafka's
//! broker config names are given where Kafka has the setting.

use clap::Args;
use skiff_bench::parse_size;
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

    /// How often the controller leader looks for merge and compaction work
    /// (log.cleaner.backoff.ms) [default: 15000].
    #[arg(long, env = "SKIFF_CLEANER_BACKOFF_MS", value_name = "MS")]
    pub cleaner_backoff_ms: Option<u64>,

    /// Merge small index entries into per-partition objects [default: true].
    #[arg(long, env = "SKIFF_MERGE", value_name = "BOOL")]
    pub merge: Option<bool>,

    /// Merge only entries whose object is at least this old [default: 300000].
    #[arg(long, env = "SKIFF_MERGE_MIN_AGE_MS", value_name = "MS")]
    pub merge_min_age_ms: Option<u64>,

    /// Largest object a merge writes, e.g. 64MiB [default: 64MiB].
    #[arg(long, env = "SKIFF_MERGE_TARGET_BYTES", value_parser = parse_size, value_name = "SIZE")]
    pub merge_target_bytes: Option<usize>,

    /// Largest index entry a merge or compaction writes (fetches read whole entries)
    /// [default: 4MiB].
    #[arg(long, env = "SKIFF_MERGE_ENTRY_BYTES", value_parser = parse_size, value_name = "SIZE")]
    pub merge_entry_bytes: Option<usize>,

    /// Merge and compaction jobs one broker runs at once [default: 2].
    #[arg(long, env = "SKIFF_MAX_JOBS_PER_BROKER", value_name = "N")]
    pub max_jobs_per_broker: Option<u32>,

    /// A job not committed this long after its broker's last renewal goes to another broker
    /// [default: 60000].
    #[arg(long, env = "SKIFF_JOB_LEASE_MS", value_name = "MS")]
    pub job_lease_ms: Option<u64>,
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
        set(&mut config.cleaner_backoff_ms, self.cleaner_backoff_ms);
        set(&mut config.merge_enabled, self.merge);
        set(&mut config.merge_min_age_ms, self.merge_min_age_ms);
        set(
            &mut config.merge_target_object_bytes,
            self.merge_target_bytes.map(|b| b as u64),
        );
        set(
            &mut config.merge_max_entry_bytes,
            self.merge_entry_bytes
                .map(|b| u32::try_from(b).unwrap_or(u32::MAX)),
        );
        set(&mut config.max_jobs_per_broker, self.max_jobs_per_broker);
        set(&mut config.job_lease_ms, self.job_lease_ms);
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
            (self.cleaner_backoff_ms.is_some(), "--cleaner-backoff-ms"),
            (self.merge.is_some(), "--merge"),
            (self.merge_min_age_ms.is_some(), "--merge-min-age-ms"),
            (self.merge_target_bytes.is_some(), "--merge-target-bytes"),
            (self.merge_entry_bytes.is_some(), "--merge-entry-bytes"),
            (self.max_jobs_per_broker.is_some(), "--max-jobs-per-broker"),
            (self.job_lease_ms.is_some(), "--job-lease-ms"),
        ]
        .into_iter()
        .find(|(given, _)| *given)
        .map(|(_, flag)| flag)
    }
}
