//! The archive job: appends a topic's records not archived yet to its Iceberg table with
//! `skiff-archive` (Parquet data files, then the next metadata version), commits the new
//! metadata and per-partition offsets with `CommitArchive` (applied only if the archive did not
//! move since the pass read it, so a pass redone after a lapsed lease never archives a record
//! twice), and then writes `version-hint.text` for engines that open the table by path. The
//! runner gives the job back afterwards. A pass that loses leaves files nothing references,
//! garbage for the collector.

use skiff_archive::{ArchiveCommit, PassConfig, TopicPlan, publish_version_hint};
use skiff_meta::{ArchiveCommitError, JobSpec, Propose, StateHandle};

use crate::context::JobContext;
use crate::error::JobFailure;

/// Stored bytes one pass reads at most; a larger backlog takes several passes, each committed.
pub const MAX_PASS_BYTES: u64 = 1 << 30;

pub(crate) async fn run(
    ctx: &JobContext,
    state: &StateHandle,
    spec: &JobSpec,
) -> Result<Option<ArchiveCommit>, JobFailure> {
    let plan = {
        let state = state.read();
        let name = state
            .topic(&spec.partition.topic_id)
            .map(|t| t.name.clone())
            .ok_or(JobFailure::SourceChanged)?;
        TopicPlan::from_state_within(&state, &name, MAX_PASS_BYTES)
            .ok_or(JobFailure::SourceChanged)?
    };
    let Some(commit) = plan
        .archive(&ctx.store, &PassConfig::default(), |_| {})
        .await?
    else {
        return Ok(None);
    };
    ctx.controller
        .propose(plan.commit_command(&commit))
        .await?
        .map_err(JobFailure::ArchiveRefused)?;
    // Committed: the table is current whatever happens to the hint, which the next pass
    // rewrites anyway.
    if let Err(e) = publish_version_hint(&ctx.store, &commit.topic, &commit.metadata_location).await
    {
        tracing::warn!(topic = %commit.topic, error = %e, "could not write version-hint.text");
    }
    Ok(Some(commit))
}

/// Whether a refused archive commit means another pass got there first.
pub(crate) fn lost_race(e: &ArchiveCommitError) -> bool {
    matches!(
        e,
        ArchiveCommitError::Moved { .. } | ArchiveCommitError::UnknownTopic
    )
}
