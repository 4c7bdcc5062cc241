use std::time::Duration;

/// How a broker runs the jobs leased to it.
#[derive(Debug, Clone)]
pub struct JobRunnerConfig {
    pub broker_id: i32,
    /// Jobs running at once on this broker; more leased ones wait (their leases are renewed).
    /// Each holds at most its job's source bytes (the merge target size) in memory.
    pub max_running_jobs: usize,
    /// Source entries one job reads at once from the object store.
    pub read_concurrency: usize,
    /// How often the runner looks at its leases; a lease is renewed once a third of it is
    /// gone, so this must be well under a third of the controller's `job_lease_ms`.
    pub lease_check_interval: Duration,
    /// How long shutdown waits for a job to give its lease back.
    pub abandon_timeout: Duration,
    /// Bytes a compaction job's key map may hold (Kafka's `log.cleaner.dedupe.buffer.size`);
    /// a job whose keys would not fit compacts a prefix of its entries.
    pub compaction_map_bytes: usize,
    /// An archive job collects its table's orphans on about one commit in this many (see
    /// `skiff_archive::orphans`): each collection lists the table's folder and reads its
    /// manifests.
    pub archive_collect_every_commits: u32,
    /// Orphans younger than the job's start minus this are kept: the margin covers clock
    /// skew between brokers and the store, whose timestamps say how old a file is.
    pub archive_orphan_margin: Duration,
    /// Where archive jobs register their tables after each commit (`--archive-glue-database`).
    pub archive_glue: Option<skiff_archive::glue::GlueCatalog>,
}

impl JobRunnerConfig {
    pub fn new(broker_id: i32) -> Self {
        JobRunnerConfig {
            broker_id,
            max_running_jobs: 2,
            read_concurrency: 8,
            lease_check_interval: Duration::from_millis(500),
            abandon_timeout: Duration::from_secs(5),
            compaction_map_bytes: 32 * 1024 * 1024,
            archive_collect_every_commits: 16,
            archive_orphan_margin: Duration::from_secs(10 * 60),
            archive_glue: None,
        }
    }
}
