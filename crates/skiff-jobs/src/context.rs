//! What every kind of job is given and hands back: the leaf the runner, the dispatch in
//! [`crate::work`] and each kind's module share.

use std::sync::Arc;

use skiff_archive::ArchiveCommit;
use skiff_meta::{ControllerClient, EntryRef, JobOutput};
use skiff_storage::SegmentStore;

/// What a job may use.
pub struct JobContext {
    pub store: SegmentStore,
    pub broker_id: i32,
    /// Source entries read at once.
    pub read_concurrency: usize,
    /// A compaction job's key map may hold about this many bytes (see [`crate::compact`]).
    pub compaction_map_bytes: usize,
    /// Orphan collection after archive commits (see [`crate::JobRunnerConfig`]).
    pub archive_collect_every_commits: u32,
    pub archive_orphan_margin: std::time::Duration,
    /// Glue registration after archive commits, if configured.
    pub archive_glue: Option<skiff_archive::glue::GlueCatalog>,
    /// For kinds that commit through their own command (the archive's `CommitArchive`).
    pub controller: Arc<dyn ControllerClient>,
}

/// How a job's work ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Done {
    /// A merge or compaction: entries to swap with `CommitJob`.
    Swap(Finished),
    /// An archive pass, already committed (`None`: nothing was new); the job is to be
    /// given back.
    Archived(Option<ArchiveCommit>),
}

/// A job's work, done and ready to commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    /// The source entries, as read: the commit applies only if they are all still there.
    pub replaced: Vec<EntryRef>,
    /// The objects written, in offset order: one for a merge, any number for a compaction
    /// (none when it removed every record).
    pub outputs: Vec<JobOutput>,
    /// Bytes the job read.
    pub source_bytes: u64,
}
