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

    /// How often the controller leader looks for small index entries to merge and partitions
    /// to compact, and takes back job leases that lapsed (log.cleaner.backoff.ms)
    /// [default: 15000].
    #[arg(long, env = "SKIFF_CLEANER_BACKOFF_MS", value_name = "MS")]
    pub cleaner_backoff_ms: Option<u64>,

    /// Index entries are merged once their data was committed this long ago
    /// [default: 120000].
    #[arg(long, env = "SKIFF_MERGE_MIN_AGE_MS", value_name = "MS")]
    pub merge_min_age_ms: Option<u64>,

    /// Merges and compactions write per-partition objects up to this size (a job holds about
    /// this much in memory at a time) [default: 67108864].
    #[arg(long, env = "SKIFF_MERGE_TARGET_BYTES", value_name = "BYTES")]
    pub merge_target_bytes: Option<u64>,

    /// A broker that stops renewing a job's lease for this long loses the job, which is
    /// planned again [default: 30000].
    #[arg(long, env = "SKIFF_JOB_LEASE_MS", value_name = "MS")]
    pub job_lease_ms: Option<u64>,

    /// Background jobs (merges, compactions, archive passes) leased to one broker at a time
    /// [default: 1].
    #[arg(long, env = "SKIFF_JOBS_PER_BROKER", value_name = "N")]
    pub jobs_per_broker: Option<usize>,

    /// Topics with skiff.archive.enable=true get an archive pass once their oldest
    /// unarchived records are about this old (at least 100) [default: 60000].
    #[arg(long, env = "SKIFF_ARCHIVE_INTERVAL_MS", value_name = "MS")]
    pub archive_interval_ms: Option<u64>,

    /// ... or sooner, once this many stored bytes wait to be archived [default: 134217728].
    #[arg(long, env = "SKIFF_ARCHIVE_FLUSH_BYTES", value_name = "BYTES")]
    pub archive_flush_bytes: Option<u64>,

    /// How often the controller leader aborts transactions open past their timeout
    /// (transaction.abort.timed.out.transaction.cleanup.interval.ms) [default: 10000].
    #[arg(
        long,
        env = "SKIFF_TRANSACTION_ABORT_CHECK_INTERVAL_MS",
        value_name = "MS"
    )]
    pub transaction_abort_check_interval_ms: Option<u64>,

    /// A transactional id with no transaction for this long is forgotten
    /// (transactional.id.expiration.ms) [default: 604800000].
    #[arg(long, env = "SKIFF_TRANSACTIONAL_ID_EXPIRATION_MS", value_name = "MS")]
    pub transactional_id_expiration_ms: Option<u64>,
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
        set(&mut config.merge_min_age_ms, self.merge_min_age_ms);
        set(&mut config.merge_target_bytes, self.merge_target_bytes);
        set(&mut config.job_lease_ms, self.job_lease_ms);
        set(&mut config.jobs_per_broker, self.jobs_per_broker);
        set(&mut config.archive_interval_ms, self.archive_interval_ms);
        set(&mut config.archive_flush_bytes, self.archive_flush_bytes);
        set(
            &mut config.transaction_abort_check_interval_ms,
            self.transaction_abort_check_interval_ms,
        );
        set(
            &mut config.transactional_id_expiration_ms,
            self.transactional_id_expiration_ms,
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
            (self.cleaner_backoff_ms.is_some(), "--cleaner-backoff-ms"),
            (self.merge_min_age_ms.is_some(), "--merge-min-age-ms"),
            (self.merge_target_bytes.is_some(), "--merge-target-bytes"),
            (self.job_lease_ms.is_some(), "--job-lease-ms"),
            (self.jobs_per_broker.is_some(), "--jobs-per-broker"),
            (self.archive_interval_ms.is_some(), "--archive-interval-ms"),
            (self.archive_flush_bytes.is_some(), "--archive-flush-bytes"),
            (
                self.transaction_abort_check_interval_ms.is_some(),
                "--transaction-abort-check-interval-ms",
            ),
            (
                self.transactional_id_expiration_ms.is_some(),
                "--transactional-id-expiration-ms",
            ),
        ]
        .into_iter()
        .find(|(given, _)| *given)
        .map(|(_, flag)| flag)
    }
}
