//! What each kind of job does. A kind reads its source entries, writes its output object and
//! says what to swap; the runner leases, commits and accounts for every kind the same way. A
//! new kind (the Parquet archive, key compaction) is one arm here and one module beside
//! [`crate::merge`].

use skiff_meta::state::Job;
use skiff_meta::{EntryRef, JobKind, JobOutput, StateHandle};
use skiff_storage::SegmentStore;

use crate::error::JobFailure;
use crate::merge;

/// What a job may use.
pub struct JobContext {
    pub store: SegmentStore,
    pub broker_id: i32,
    /// Source entries read at once.
    pub read_concurrency: usize,
}

/// A job's work, done and ready to commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    /// The source entries, as read: the commit applies only if they are all still there.
    pub replaced: Vec<EntryRef>,
    /// `None` when nothing is left to keep (a compaction that removed every record).
    pub output: Option<JobOutput>,
    /// Bytes the job read.
    pub source_bytes: u64,
}

/// Does one job's work; `now_ms` names the output object.
pub async fn run(
    ctx: &JobContext,
    state: &StateHandle,
    job: &Job,
    now_ms: i64,
) -> Result<Finished, JobFailure> {
    match job.spec.kind {
        JobKind::Merge => merge::run(ctx, state, &job.spec, now_ms).await,
        kind @ JobKind::Compact { .. } => Err(JobFailure::Unsupported(kind.name())),
    }
}
