//! The archive job: appends a topic's records not archived yet to its Iceberg table with
//! `skiff-archive` (Parquet data files, then the next metadata version), commits the new
//! metadata and per-partition offsets with `CommitArchive` (applied only if the archive did not
//! move since the pass read it, so a pass redone after a lapsed lease never archives a record
//! twice), and then writes `version-hint.text` for engines that open the table by path. The
//! runner gives the job back afterwards. A pass that loses leaves files nothing references;
//! every so many commits, the committing job deletes such files (see
//! [`skiff_archive::orphans`] for why only it may).

use std::time::{Duration, SystemTime};

use skiff_archive::glue::{GlueCatalog, glue_table_name};
use skiff_archive::orphans::collection_due;
use skiff_archive::{
    ArchiveCommit, PassConfig, TopicPlan, collect_orphans, publish_version_hint, table_path,
};
use skiff_meta::{ArchiveCommitError, JobSpec, Propose, StateHandle};

use crate::context::JobContext;
use crate::error::JobFailure;

/// Stored bytes one pass reads at most; a larger backlog takes several passes, each committed.
pub const MAX_PASS_BYTES: u64 = 1 << 30;
/// Orphans one collection deletes at most; more wait for the next.
const MAX_ORPHAN_DELETES: usize = 1_000;

pub(crate) async fn run(
    ctx: &JobContext,
    state: &StateHandle,
    spec: &JobSpec,
    started_ms: i64,
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
    tracing::info!(
        topic = %commit.topic,
        rows = commit.rows,
        metadata = %commit.metadata_location,
        "archive pass written; committing it"
    );
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
    if let Some(glue) = &ctx.archive_glue {
        publish_to_glue(ctx, glue, &commit).await;
    }
    if collection_due(
        commit.previous_metadata.as_deref(),
        &commit.metadata_location,
        ctx.archive_collect_every_commits,
    ) {
        collect(ctx, &commit, started_ms).await;
    }
    Ok(Some(commit))
}

/// Points the topic's Glue table at the committed metadata. The commit stands whatever Glue
/// says; the next commit retries.
async fn publish_to_glue(ctx: &JobContext, glue: &GlueCatalog, commit: &ArchiveCommit) {
    let table = glue_table_name(&commit.topic);
    let location = format!("{}/{}", ctx.store.root_url(), table_path(&commit.topic));
    match glue
        .publish(&table, &location, &commit.metadata_location)
        .await
    {
        Ok(done) => {
            tracing::info!(topic = %commit.topic, database = glue.database(), %table, ?done, "archive table registered in Glue")
        }
        Err(e) => {
            metrics::counter!(crate::metrics::ARCHIVE_GLUE_FAILURES_TOTAL).increment(1);
            tracing::warn!(topic = %commit.topic, error = %e, "could not register the archive table in Glue");
        }
    }
}

/// Deletes what passes that never committed left in the table's folder. The commit stands
/// whatever happens here: a failed collection is retried on a later commit.
async fn collect(ctx: &JobContext, commit: &ArchiveCommit, started_ms: i64) {
    let started = SystemTime::UNIX_EPOCH + Duration::from_millis(started_ms.max(0) as u64);
    let written_before = started
        .checked_sub(ctx.archive_orphan_margin)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    match collect_orphans(
        &ctx.store,
        &commit.topic,
        &commit.metadata_location,
        written_before,
        MAX_ORPHAN_DELETES,
    )
    .await
    {
        Ok(sweep) => {
            metrics::counter!(crate::metrics::ARCHIVE_ORPHANS_DELETED_TOTAL)
                .increment(sweep.deleted as u64);
            tracing::info!(
                topic = %commit.topic,
                referenced = sweep.referenced,
                deleted = sweep.deleted,
                deleted_bytes = sweep.deleted_bytes,
                too_young = sweep.too_young,
                "collected the archive table's orphans"
            );
        }
        Err(e) => {
            tracing::warn!(topic = %commit.topic, error = %e, "could not collect the archive table's orphans")
        }
    }
}

/// Whether a refused archive commit means another pass got there first.
pub(crate) fn lost_race(e: &ArchiveCommitError) -> bool {
    matches!(
        e,
        ArchiveCommitError::Moved { .. } | ArchiveCommitError::UnknownTopic
    )
}
