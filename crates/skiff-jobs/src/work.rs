//! What each kind of job does. A kind reads its source entries, writes its output object and
//! says what to swap; the runner leases, commits and accounts for every kind the same way. A
//! new kind is one arm here and one module beside [`crate::merge`] and [`crate::compact`]. The
//! archive ([`crate::archive`]) commits through its own command instead.

use skiff_meta::state::Job;
use skiff_meta::{JobKind, StateHandle};

pub use crate::context::{Done, Finished, JobContext};
use crate::error::JobFailure;
use crate::{archive, compact, merge};

/// Does one job's work; `now_ms` (its start) names the output object.
pub async fn run(
    ctx: &JobContext,
    state: &StateHandle,
    job: &Job,
    now_ms: i64,
) -> Result<Done, JobFailure> {
    match job.spec.kind {
        JobKind::Merge => merge::run(ctx, state, &job.spec, now_ms)
            .await
            .map(Done::Swap),
        JobKind::Compact {
            tombstone_cutoff_ms,
        } => compact::run(ctx, state, &job.spec, tombstone_cutoff_ms, now_ms)
            .await
            .map(Done::Swap),
        JobKind::Archive => archive::run(ctx, state, &job.spec, now_ms)
            .await
            .map(Done::Archived),
    }
}
