//! What each kind of job does. A kind reads its source entries, writes its output object and
//! says what to swap; the runner leases, commits and accounts for every kind the same way. A
//! new kind is one arm here and one module beside [`crate::merge`] and [`crate::compact`]. The
//! archive ([`crate::archive`]) commits through its own command instead.

use skiff_meta::state::Job;
use skiff_meta::{JobKind, StateHandle};

pub use crate::context::{Done, Finished, JobContext};
use crate::error::JobFailure;
use crate::merge_bundle::{self, Bundle};
use crate::{archive, compact};

/// Does one job's work; `now_ms` (its start) names the output object.
pub async fn run(
    ctx: &JobContext,
    state: &StateHandle,
    job: &Job,
    now_ms: i64,
) -> Result<Done, JobFailure> {
    match job.spec.kind {
        JobKind::Merge => {
            let bundle = run_merges(ctx, state, std::slice::from_ref(job), now_ms).await?;
            merge_alone(bundle).map(Done::Swap)
        }
        JobKind::CompactLog {
            tombstone_cutoff_ms,
            object_bytes,
        } => {
            let compaction = compact::Compaction {
                tombstone_cutoff_ms,
                object_bytes,
            };
            compact::run(ctx, state, &job.spec, compaction, now_ms)
                .await
                .map(Done::Swap)
        }
        // Planned by an earlier version: the same job, writing objects of the entry size.
        JobKind::Compact {
            tombstone_cutoff_ms,
        } => {
            let compaction = compact::Compaction {
                tombstone_cutoff_ms,
                object_bytes: u64::from(job.spec.max_entry_bytes),
            };
            compact::run(ctx, state, &job.spec, compaction, now_ms)
                .await
                .map(Done::Swap)
        }
        JobKind::Archive => archive::run(ctx, state, &job.spec, now_ms)
            .await
            .map(Done::Archived),
    }
}

/// Does the work of merge jobs together, into one object (see [`crate::merge_bundle`]).
pub async fn run_merges(
    ctx: &JobContext,
    state: &StateHandle,
    jobs: &[Job],
    now_ms: i64,
) -> Result<Bundle, JobFailure> {
    merge_bundle::run(ctx, state, jobs, now_ms).await
}

/// A bundle of one merge as that job's own swap.
fn merge_alone(bundle: Bundle) -> Result<Finished, JobFailure> {
    let Bundle {
        object,
        mut merges,
        mut dropped,
    } = bundle;
    match (object, merges.pop(), dropped.pop()) {
        (Some(object), Some(merge), _) => Ok(Finished {
            replaced: merge.replaced,
            outputs: vec![skiff_meta::JobOutput {
                object_key: object.key,
                object_size: object.size,
                entries: merge.entries,
            }],
            source_bytes: merge.source_bytes,
        }),
        (_, _, Some((_, failure))) => Err(failure),
        _ => Err(JobFailure::SourceChanged),
    }
}
