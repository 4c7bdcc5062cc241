//! What every kind of job is given and hands back: the leaf the runner, the dispatch in
//! [`crate::work`] and each kind's module share.

use skiff_meta::{EntryRef, JobOutput};
use skiff_storage::SegmentStore;

/// What a job may use.
pub struct JobContext {
    pub store: SegmentStore,
    pub broker_id: i32,
    /// Source entries read at once.
    pub read_concurrency: usize,
    /// A compaction job's key map may hold about this many bytes (see [`crate::compact`]).
    pub compaction_map_bytes: usize,
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
