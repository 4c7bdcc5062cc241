//! Background jobs that rewrite a partition's stored data (merge, key compaction): planned by
//! the controller leader, leased to a broker, and committed by one proposal that swaps the
//! entries the job read for the entries it wrote, only if the former are still there.

use serde::{Deserialize, Serialize};

use super::retention::PartitionRef;

/// What a job does with its source entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum JobKind {
    /// Copies every batch, as stored, into one per-partition object: fewer, larger entries.
    Merge,
    /// Keeps the latest record per key (Kafka's log cleaner). Tombstones whose timestamp is
    /// before `tombstone_cutoff_ms` (the plan time minus `delete.retention.ms`) are removed too.
    Compact { tombstone_cutoff_ms: i64 },
    /// Appends a topic's records not archived yet to its Iceberg table (`skiff-archive`),
    /// committed with `CommitArchive`, not `CommitJob`. One per topic, leased under the
    /// topic's [`ARCHIVE_JOB_PARTITION`] slot; it names no entries (it archives what the
    /// index holds when it runs).
    Archive,
    /// Key compaction of a partition's log from its start, however long its compacted part
    /// (the one [`JobKind::Compact`] jobs planned by earlier versions also run as): the key
    /// map comes from the dirty entries only, and the whole run is rewritten window by window
    /// into objects of at most `object_bytes` each, committed together with
    /// [`CommitJobOutputs`]. Tombstones as for [`JobKind::Compact`].
    CompactLog {
        tombstone_cutoff_ms: i64,
        object_bytes: u64,
    },
}

/// The partition number an archive job is leased under: one job per topic, apart from the
/// real partitions' merge and compaction jobs.
pub const ARCHIVE_JOB_PARTITION: u32 = u32::MAX;

impl JobKind {
    pub fn name(&self) -> &'static str {
        match self {
            JobKind::Merge => "merge",
            JobKind::Compact { .. } => "compaction",
            JobKind::Archive => "archive",
            JobKind::CompactLog { .. } => "compaction",
        }
    }

    /// Whether the job removes records (key compaction), rather than copying them all.
    pub fn compacts(&self) -> bool {
        matches!(self, JobKind::Compact { .. } | JobKind::CompactLog { .. })
    }
}

/// What a job is to read and how to write it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobSpec {
    pub kind: JobKind,
    pub partition: PartitionRef,
    /// Base offset of the first source entry.
    pub first_offset: i64,
    /// Last offset of the last source entry.
    pub last_offset: i64,
    /// Source entries, `first_offset` to `last_offset`.
    pub source_entries: u32,
    pub source_bytes: u64,
    /// The job's index entries hold at most this many bytes each (a fetch reads whole entries).
    pub max_entry_bytes: u32,
}

impl JobSpec {
    /// An archive job for `topic_id`, planned when `source_bytes` were not archived yet (for
    /// logs; the job archives what is there when it runs).
    pub fn archive(topic_id: crate::ids::TopicId, source_bytes: u64) -> JobSpec {
        JobSpec {
            kind: JobKind::Archive,
            partition: PartitionRef {
                topic_id,
                partition: ARCHIVE_JOB_PARTITION,
            },
            first_offset: 0,
            last_offset: 0,
            source_entries: 0,
            source_bytes,
            max_entry_bytes: 0,
        }
    }
}

/// One job to lease to a broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedJob {
    pub spec: JobSpec,
    pub broker_id: i32,
}

/// Proposed by the controller leader: leases each job to its broker until `now_ms + lease_ms`.
/// A partition runs one job at a time. Answers one result (the job id) per job, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanJobs {
    pub now_ms: i64,
    pub lease_ms: i64,
    pub jobs: Vec<PlannedJob>,
}

/// A broker still working on its jobs: their leases run until `now_ms + lease_ms`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenewJobLeases {
    pub broker_id: i32,
    pub now_ms: i64,
    pub lease_ms: i64,
    pub job_ids: Vec<u64>,
}

/// Proposed by the controller leader: drops jobs whose lease ended by `now_ms` (their broker
/// died or stalled), so the work can be planned again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpireJobs {
    pub now_ms: i64,
    pub job_ids: Vec<u64>,
}

/// A broker gives a job up (it could not read or write the data): the job is dropped and can
/// be planned again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AbandonJob {
    pub job_id: u64,
    pub broker_id: i32,
    pub now_ms: i64,
}

/// The identity of an index entry a job replaced: enough to tell whether it is still there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryRef {
    pub base_offset: i64,
    pub last_offset: i64,
    pub object_id: u64,
    pub position: u64,
}

/// One index entry of a job's output object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputEntry {
    pub base_offset: i64,
    pub last_offset: i64,
    pub position: u64,
    pub len: u32,
    pub max_timestamp: i64,
}

/// The object a job wrote. Its batches carry their real offsets (written by the job), unlike a
/// flushed segment's, whose offsets the index assigns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobOutput {
    pub object_key: String,
    pub object_size: u64,
    /// In offset order, not overlapping, inside the replaced entries' offsets.
    pub entries: Vec<OutputEntry>,
}

/// A finished job: replaces exactly the entries in `replaced` (which must be consecutive and
/// still in the index, starting with the job's first source entry) by `output`'s entries, all
/// or nothing. A compaction that removed every record has no output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitJob {
    pub job_id: u64,
    pub broker_id: i32,
    pub now_ms: i64,
    pub replaced: Vec<EntryRef>,
    pub output: Option<JobOutput>,
}

/// A finished job whose output is several objects (a compaction of a long log): as
/// [`CommitJob`], the outputs' entries, in offset order across the objects, replace exactly
/// the entries in `replaced`, all or nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitJobOutputs {
    pub job_id: u64,
    pub broker_id: i32,
    pub now_ms: i64,
    pub replaced: Vec<EntryRef>,
    pub outputs: Vec<JobOutput>,
}

/// Merge jobs one broker ran together (a bundle): their output is one object holding a chunk
/// per partition, written with one PUT from one read of each source object, and committed with
/// one proposal. Each merge swaps as [`CommitJob`] would, all or nothing for its partition; a
/// merge that lost its race leaves its partition as it was while the others apply. The object
/// is registered once, if any merge applies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitMerges {
    pub broker_id: i32,
    pub now_ms: i64,
    pub object_key: String,
    pub object_size: u64,
    pub merges: Vec<MergeSwap>,
}

/// One merge of a [`CommitMerges`]: its source entries and their replacement, in the shared
/// object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergeSwap {
    pub job_id: u64,
    pub replaced: Vec<EntryRef>,
    pub entries: Vec<OutputEntry>,
}

/// What a [`CommitMerges`] changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergesCommitted {
    /// The id the shared object was registered under (none when no merge applied).
    pub object_id: Option<u64>,
    /// Objects no entry points into any more after the swaps.
    pub released_objects: u32,
    /// One per merge, same order. Every named job ends whatever its outcome.
    pub merges: Vec<Result<(), JobError>>,
}

/// What a committed job changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobCommitted {
    /// The id the (first) output object was registered under.
    pub object_id: Option<u64>,
    /// Objects no entry points into any more after the swap (deleted after the grace period).
    pub released_objects: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum JobError {
    #[error("unknown topic or partition")]
    UnknownTopicOrPartition,
    #[error("a job is already running for this partition")]
    PartitionBusy,
    #[error("broker {0} is not live")]
    BrokerNotLive(i32),
    #[error("the job's source entries are not in the index as planned")]
    NoSuchEntries,
    #[error("no such job, or it is leased to another broker (its lease ran out)")]
    NotLeased,
    #[error("the entries the job read are no longer all in the index")]
    EntriesChanged,
    #[error("the job's output is malformed: {0}")]
    InvalidOutput(OutputProblem),
    /// A compaction would remove records of an archiving topic not archived yet.
    #[error("the job's records are not archived yet")]
    NotArchivedYet,
    /// No longer answered: jobs write a marker's control batch into their output. Kept so
    /// answers from older controllers still decode.
    #[error("the job's entries span a transaction marker")]
    SpansTransactionMarker,
    /// Merges and compactions stop before the last stable offset (Kafka's cleaner stops at
    /// the first unstable offset): an open transaction's records may still be aborted.
    #[error("the job's entries reach an open transaction")]
    ReachesOpenTransaction,
}

/// What is wrong with a job's output entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum OutputProblem {
    #[error("an entry is empty or ends before it starts")]
    EmptyEntry,
    #[error("entries overlap or are out of order")]
    OutOfOrder,
    #[error("an entry lies outside the offsets it replaces")]
    OutsideReplaced,
    #[error("an entry lies beyond the object's bytes")]
    BeyondObject,
    #[error("a merge must keep every offset of what it replaces")]
    MergeLostOffsets,
    #[error("nothing was replaced")]
    NothingReplaced,
    #[error("the output object was collected as an orphan before the job committed")]
    Collected,
    #[error("only merge jobs commit together in one object")]
    NotAMerge,
}
