//! What a broker's job runner reports on `/metrics`.

use metrics::{Counter, Gauge, Histogram, Unit, counter, gauge, histogram};

/// Histogram: seconds from a job's start on this broker to its end, by kind and outcome
/// (committed, lost: the entries changed meanwhile, failed, cancelled).
pub const JOB_SECONDS: &str = "skiff_job_seconds";
/// Gauge: jobs running on this broker.
pub const JOBS_RUNNING: &str = "skiff_jobs_running";
/// Counter: source bytes merges committed (rewritten into per-partition objects).
pub const MERGED_BYTES_TOTAL: &str = "skiff_merged_bytes_total";
/// Counter: index entries merges replaced.
pub const MERGED_ENTRIES_TOTAL: &str = "skiff_merged_entries_total";
/// Counter: index entries merges wrote in their place.
pub const MERGE_OUTPUT_ENTRIES_TOTAL: &str = "skiff_merge_output_entries_total";

/// Counter: source bytes compaction jobs committed (rewritten keeping the latest per key).
pub const COMPACTED_BYTES_TOTAL: &str = "skiff_compacted_bytes_total";
/// Counter: rows archive jobs committed to topics' Iceberg tables.
pub const ARCHIVED_ROWS_TOTAL: &str = "skiff_archived_rows_total";
/// Counter: Parquet bytes archive jobs committed.
pub const ARCHIVED_BYTES_TOTAL: &str = "skiff_archived_bytes_total";
/// Counter: Parquet data files archive jobs committed.
pub const ARCHIVED_FILES_TOTAL: &str = "skiff_archived_files_total";
/// Counter: archive jobs that failed (read, write or commit errors; lost races not counted).
pub const ARCHIVE_FAILURES_TOTAL: &str = "skiff_archive_failures_total";
/// Counter: archive commits whose Glue table could not be updated (the next commit retries).
pub const ARCHIVE_GLUE_FAILURES_TOTAL: &str = "skiff_archive_glue_failures_total";
/// Counter: archive files no committed metadata reached (left by passes that never
/// committed) that archive jobs deleted.
pub const ARCHIVE_ORPHANS_DELETED_TOTAL: &str = "skiff_archive_orphans_deleted_total";

/// Help text for the runner's metrics.
pub fn describe_metrics() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_histogram!(
        JOB_SECONDS,
        Unit::Seconds,
        "Background job durations on this broker, by kind and outcome"
    );
    describe_gauge!(
        JOBS_RUNNING,
        Unit::Count,
        "Background jobs running on this broker"
    );
    describe_counter!(
        MERGED_BYTES_TOTAL,
        Unit::Bytes,
        "Bytes of small index entries merges rewrote into per-partition objects"
    );
    describe_counter!(
        COMPACTED_BYTES_TOTAL,
        Unit::Bytes,
        "Bytes compaction jobs rewrote keeping only the latest record per key"
    );
    describe_counter!(
        MERGED_ENTRIES_TOTAL,
        Unit::Count,
        "Index entries merges replaced"
    );
    describe_counter!(
        MERGE_OUTPUT_ENTRIES_TOTAL,
        Unit::Count,
        "Index entries merges wrote in place of the ones they replaced"
    );
    describe_counter!(
        ARCHIVED_ROWS_TOTAL,
        Unit::Count,
        "Rows archive jobs committed to topics' Iceberg tables"
    );
    describe_counter!(
        ARCHIVED_BYTES_TOTAL,
        Unit::Bytes,
        "Parquet bytes archive jobs committed"
    );
    describe_counter!(
        ARCHIVED_FILES_TOTAL,
        Unit::Count,
        "Parquet data files archive jobs committed"
    );
    describe_counter!(
        ARCHIVE_GLUE_FAILURES_TOTAL,
        Unit::Count,
        "Archive commits whose AWS Glue table could not be updated"
    );
    describe_counter!(
        ARCHIVE_ORPHANS_DELETED_TOTAL,
        Unit::Count,
        "Archive files left by passes that never committed, deleted by later archive jobs"
    );
    describe_counter!(
        ARCHIVE_FAILURES_TOTAL,
        Unit::Count,
        "Archive jobs that failed and were given back"
    );
}

#[derive(Clone)]
pub(crate) struct RunnerMetrics {
    pub(crate) running: Gauge,
    pub(crate) merged_bytes: Counter,
    pub(crate) merged_entries: Counter,
    pub(crate) merge_output_entries: Counter,
    pub(crate) compacted_bytes: Counter,
    pub(crate) archived_rows: Counter,
    pub(crate) archived_bytes: Counter,
    pub(crate) archived_files: Counter,
    pub(crate) archive_failures: Counter,
}

impl RunnerMetrics {
    /// Counts a committed merge: bytes read, entries replaced, entries written in their place.
    pub(crate) fn merged(&self, source_bytes: u64, replaced_entries: u64, output_entries: u64) {
        self.merged_bytes.increment(source_bytes);
        self.merged_entries.increment(replaced_entries);
        self.merge_output_entries.increment(output_entries);
    }

    pub(crate) fn register() -> Self {
        RunnerMetrics {
            running: gauge!(JOBS_RUNNING),
            merged_bytes: counter!(MERGED_BYTES_TOTAL),
            merged_entries: counter!(MERGED_ENTRIES_TOTAL),
            merge_output_entries: counter!(MERGE_OUTPUT_ENTRIES_TOTAL),
            compacted_bytes: counter!(COMPACTED_BYTES_TOTAL),
            archived_rows: counter!(ARCHIVED_ROWS_TOTAL),
            archived_bytes: counter!(ARCHIVED_BYTES_TOTAL),
            archived_files: counter!(ARCHIVED_FILES_TOTAL),
            archive_failures: counter!(ARCHIVE_FAILURES_TOTAL),
        }
    }

    pub(crate) fn duration(kind: &'static str, outcome: &'static str) -> Histogram {
        histogram!(JOB_SECONDS, "kind" => kind, "outcome" => outcome)
    }
}
