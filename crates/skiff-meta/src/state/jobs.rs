//! Leased background jobs (merge, compaction) and the swap that commits one. A job's commit
//! applies only if every entry it read is still in the index exactly as it was, so a job that
//! raced retention, DeleteRecords or a topic deletion loses cleanly: nothing changes and its
//! output object is garbage for the collector.
//!
//! Every operation costs the jobs and entries its command names (plus, for a swap, the
//! partition's entries after the swapped ones), never a scan of all partitions.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::ControllerState;
use super::object::ObjectMeta;
use crate::command::{
    ARCHIVE_JOB_PARTITION, AbandonJob, CommitJob, CommitJobOutputs, CommitMerges, EntryRef,
    ExpireJobs, JobCommitted, JobError, JobKind, JobOutput, JobSpec, MergesCommitted, OutputEntry,
    OutputProblem, PartitionRef, PlanJobs, RenewJobLeases,
};
use crate::ids::TopicId;
use crate::index_entry::IndexEntry;

/// A job leased to a broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    pub id: u64,
    pub spec: JobSpec,
    pub broker_id: i32,
    pub planned_ms: i64,
    /// Command time after which the leader may take the job back.
    pub lease_until_ms: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobTable {
    next_id: u64,
    jobs: BTreeMap<u64, Job>,
    /// At most one job per partition.
    by_partition: BTreeMap<PartitionRef, u64>,
}

impl JobTable {
    fn insert(&mut self, job: Job) {
        self.by_partition.insert(job.spec.partition, job.id);
        self.jobs.insert(job.id, job);
    }

    fn remove(&mut self, id: u64) -> Option<Job> {
        let job = self.jobs.remove(&id)?;
        if self.by_partition.get(&job.spec.partition) == Some(&id) {
            self.by_partition.remove(&job.spec.partition);
        }
        Some(job)
    }

    pub(super) fn forget_topic(&mut self, topic: TopicId) {
        let ids: Vec<u64> = self
            .by_partition
            .range(PartitionRef::all_of(topic))
            .map(|(_, id)| *id)
            .collect();
        for id in ids {
            self.remove(id);
        }
    }
}

impl ControllerState {
    pub(super) fn plan_jobs(&mut self, plan: &PlanJobs) -> Vec<Result<u64, JobError>> {
        self.clock_ms = self.clock_ms.max(plan.now_ms);
        plan.jobs
            .iter()
            .map(|planned| {
                let spec = planned.spec;
                let archive_job = spec.kind == JobKind::Archive;
                let exists = match archive_job {
                    true => {
                        spec.partition.partition == ARCHIVE_JOB_PARTITION
                            && self.topics.contains_key(&spec.partition.topic_id)
                    }
                    false => self.partition_log(spec.partition).is_some(),
                };
                if !exists {
                    return Err(JobError::UnknownTopicOrPartition);
                }
                if self
                    .lifecycle
                    .jobs
                    .by_partition
                    .contains_key(&spec.partition)
                {
                    return Err(JobError::PartitionBusy);
                }
                if !self
                    .broker_leases
                    .get(&planned.broker_id)
                    .is_some_and(|l| l.live)
                {
                    return Err(JobError::BrokerNotLive(planned.broker_id));
                }
                if !archive_job {
                    self.check_job_entries(&spec)?;
                }
                let table = &mut self.lifecycle.jobs;
                let id = table.next_id;
                table.next_id = table.next_id.saturating_add(1);
                table.insert(Job {
                    id,
                    spec,
                    broker_id: planned.broker_id,
                    planned_ms: plan.now_ms,
                    lease_until_ms: plan.now_ms.saturating_add(plan.lease_ms),
                });
                Ok(id)
            })
            .collect()
    }

    /// A merge or compaction's entries are in the index as planned, and a compaction's
    /// records are archived when the topic archives (it may remove some).
    fn check_job_entries(&self, spec: &JobSpec) -> Result<(), JobError> {
        let log = self
            .partition_log(spec.partition)
            .ok_or(JobError::UnknownTopicOrPartition)?;
        let count = usize::try_from(spec.source_entries).unwrap_or(usize::MAX);
        let entries = log
            .entry_index(spec.first_offset)
            .and_then(|at| log.entries_at(at, count));
        // A marker entry has no object; jobs write its control batch (see index_entry.rs).
        let last = entries.into_iter().flatten().last().map(|e| e.last_offset);
        if count == 0 || last != Some(spec.last_offset) {
            return Err(JobError::NoSuchEntries);
        }
        let stable =
            self.last_stable_offset(spec.partition.topic_id, spec.partition.partition, log);
        if spec.last_offset >= stable {
            return Err(JobError::ReachesOpenTransaction);
        }
        let removes_records = spec.kind.compacts();
        if removes_records
            && self
                .archive_hold(spec.partition)
                .is_some_and(|hold| spec.last_offset >= hold)
        {
            return Err(JobError::NotArchivedYet);
        }
        Ok(())
    }

    pub(super) fn renew_job_leases(&mut self, renew: &RenewJobLeases) -> Vec<bool> {
        self.clock_ms = self.clock_ms.max(renew.now_ms);
        let until = renew.now_ms.saturating_add(renew.lease_ms);
        renew
            .job_ids
            .iter()
            .map(|id| match self.lifecycle.jobs.jobs.get_mut(id) {
                Some(job) if job.broker_id == renew.broker_id => {
                    job.lease_until_ms = job.lease_until_ms.max(until);
                    true
                }
                _ => false,
            })
            .collect()
    }

    pub(super) fn expire_jobs(&mut self, expire: &ExpireJobs) {
        self.clock_ms = self.clock_ms.max(expire.now_ms);
        for id in &expire.job_ids {
            let lapsed = self
                .lifecycle
                .jobs
                .jobs
                .get(id)
                .is_some_and(|job| job.lease_until_ms <= expire.now_ms);
            if lapsed {
                self.lifecycle.jobs.remove(*id);
            }
        }
    }

    pub(super) fn abandon_job(&mut self, abandon: &AbandonJob) {
        self.clock_ms = self.clock_ms.max(abandon.now_ms);
        let leased = self
            .lifecycle
            .jobs
            .jobs
            .get(&abandon.job_id)
            .is_some_and(|job| job.broker_id == abandon.broker_id);
        if leased {
            self.lifecycle.jobs.remove(abandon.job_id);
        }
    }

    /// Swaps a job's source entries for its output. The job ends whatever the outcome.
    pub(super) fn commit_job(&mut self, commit: &CommitJob) -> Result<JobCommitted, JobError> {
        let outputs = commit.output.as_slice();
        let swap = Swap {
            job_id: commit.job_id,
            broker_id: commit.broker_id,
            now_ms: commit.now_ms,
            replaced: &commit.replaced,
            outputs,
        };
        self.swap_job_entries(&swap)
    }

    /// Swaps a job's source entries for the entries of all its output objects, all or
    /// nothing. The job ends whatever the outcome.
    pub(super) fn commit_job_outputs(
        &mut self,
        commit: &CommitJobOutputs,
    ) -> Result<JobCommitted, JobError> {
        let swap = Swap {
            job_id: commit.job_id,
            broker_id: commit.broker_id,
            now_ms: commit.now_ms,
            replaced: &commit.replaced,
            outputs: &commit.outputs,
        };
        self.swap_job_entries(&swap)
    }

    fn swap_job_entries(&mut self, commit: &Swap<'_>) -> Result<JobCommitted, JobError> {
        self.clock_ms = self.clock_ms.max(commit.now_ms);
        let checked = self.check_swap(
            commit.job_id,
            commit.broker_id,
            commit.replaced,
            commit.outputs,
        )?;
        if commit
            .outputs
            .iter()
            .any(|output| self.condemned.refuses(&output.object_key, commit.now_ms))
        {
            return Err(JobError::InvalidOutput(OutputProblem::Collected));
        }

        let mut object_id = None;
        let mut new_entries: Vec<IndexEntry> = Vec::new();
        for output in commit.outputs {
            let id = self.register_object(
                ObjectMeta {
                    key: output.object_key.clone(),
                    size: output.object_size,
                    broker_id: commit.broker_id,
                    created_ms: commit.now_ms,
                    live_entries: u32::try_from(output.entries.len()).unwrap_or(u32::MAX),
                },
                true,
            );
            object_id = object_id.or(Some(id));
            new_entries.extend(indexed(&output.entries, id));
        }
        let released_objects = self.install_swap(&checked, &new_entries, commit.now_ms)?;
        Ok(JobCommitted {
            object_id,
            released_objects,
        })
    }

    /// Commits a bundle of merges that share one output object: each applies or not on its
    /// own; the object is registered once, counting the entries of those that applied.
    pub(super) fn commit_merges(&mut self, commit: &CommitMerges) -> MergesCommitted {
        self.clock_ms = self.clock_ms.max(commit.now_ms);
        let mut checked: Vec<Result<CheckedSwap, JobError>> = commit
            .merges
            .iter()
            .map(|merge| {
                let output = JobOutput {
                    object_key: commit.object_key.clone(),
                    object_size: commit.object_size,
                    entries: merge.entries.clone(),
                };
                let swap = self.check_swap(
                    merge.job_id,
                    commit.broker_id,
                    &merge.replaced,
                    std::slice::from_ref(&output),
                )?;
                match swap.spec.kind {
                    JobKind::Merge => Ok(swap),
                    _ => Err(JobError::InvalidOutput(OutputProblem::NotAMerge)),
                }
            })
            .collect();
        if self.condemned.refuses(&commit.object_key, commit.now_ms) {
            for result in &mut checked {
                if result.is_ok() {
                    *result = Err(JobError::InvalidOutput(OutputProblem::Collected));
                }
            }
        }
        let live_entries: usize = commit
            .merges
            .iter()
            .zip(&checked)
            .filter(|(_, c)| c.is_ok())
            .map(|(m, _)| m.entries.len())
            .sum();
        let object_id = (live_entries > 0).then(|| {
            self.register_object(
                ObjectMeta {
                    key: commit.object_key.clone(),
                    size: commit.object_size,
                    broker_id: commit.broker_id,
                    created_ms: commit.now_ms,
                    live_entries: u32::try_from(live_entries).unwrap_or(u32::MAX),
                },
                true,
            )
        });
        let mut released_objects = 0u32;
        let merges = commit
            .merges
            .iter()
            .zip(checked)
            .map(|(merge, checked)| {
                let checked = checked?;
                let id = object_id.ok_or(JobError::InvalidOutput(OutputProblem::EmptyEntry))?;
                let entries: Vec<IndexEntry> = indexed(&merge.entries, id).collect();
                let released = self.install_swap(&checked, &entries, commit.now_ms)?;
                released_objects = released_objects.saturating_add(released);
                Ok(())
            })
            .collect();
        MergesCommitted {
            object_id,
            released_objects,
            merges,
        }
    }

    /// Ends a job and checks its swap: it is leased to `broker_id`, `replaced` are exactly the
    /// partition's entries there now, inside the job's span, and `outputs` fit them. Nothing
    /// else changes.
    fn check_swap(
        &mut self,
        job_id: u64,
        broker_id: i32,
        replaced: &[EntryRef],
        outputs: &[JobOutput],
    ) -> Result<CheckedSwap, JobError> {
        let leased = self
            .lifecycle
            .jobs
            .jobs
            .get(&job_id)
            .is_some_and(|job| job.broker_id == broker_id);
        let job = match leased {
            true => self.lifecycle.jobs.remove(job_id),
            false => None,
        }
        .ok_or(JobError::NotLeased)?;
        let spec = job.spec;
        let (Some(first), Some(last)) = (replaced.first(), replaced.last()) else {
            return Err(JobError::InvalidOutput(OutputProblem::NothingReplaced));
        };
        if first.base_offset != spec.first_offset || last.last_offset > spec.last_offset {
            return Err(JobError::InvalidOutput(OutputProblem::OutsideReplaced));
        }
        let log = self
            .partition_log(spec.partition)
            .ok_or(JobError::UnknownTopicOrPartition)?;
        let at = log
            .entry_index(first.base_offset)
            .ok_or(JobError::EntriesChanged)?;
        let unchanged = log
            .entries_at(at, replaced.len())
            .is_some_and(|mut current| {
                replaced
                    .iter()
                    .all(|r| current.next().is_some_and(|e| same_entry(e, r)))
            });
        if !unchanged {
            return Err(JobError::EntriesChanged);
        }
        let range = (first.base_offset, last.last_offset);
        check_outputs(outputs, range, spec.kind).map_err(JobError::InvalidOutput)?;
        Ok(CheckedSwap {
            spec,
            at,
            count: replaced.len(),
            range,
        })
    }

    /// Replaces a checked swap's entries by `new_entries`; answers how many objects it left
    /// unreferenced.
    fn install_swap(
        &mut self,
        checked: &CheckedSwap,
        new_entries: &[IndexEntry],
        now_ms: i64,
    ) -> Result<u32, JobError> {
        let spec = checked.spec;
        let keeps_every_batch = matches!(spec.kind, JobKind::Merge);
        let replaced = match self.partition_log_mut(spec.partition) {
            Some(log) => {
                log.replace_entries(checked.at, checked.count, new_entries, keeps_every_batch)
            }
            None => return Err(JobError::UnknownTopicOrPartition),
        };
        let released_objects = self.release_entries(&replaced, now_ms);
        if spec.kind.compacts() {
            let cleaned = self
                .lifecycle
                .cleaned_until
                .entry(spec.partition)
                .or_insert(0);
            *cleaned = (*cleaned).max(checked.range.1.saturating_add(1));
        }
        Ok(released_objects)
    }

    /// Every leased job, by id.
    pub fn jobs(&self) -> impl Iterator<Item = &Job> {
        self.lifecycle.jobs.jobs.values()
    }

    pub fn job(&self, id: u64) -> Option<&Job> {
        self.lifecycle.jobs.jobs.get(&id)
    }

    /// The job running for a partition, if any.
    pub fn job_for(&self, at: PartitionRef) -> Option<&Job> {
        let id = self.lifecycle.jobs.by_partition.get(&at)?;
        self.lifecycle.jobs.jobs.get(id)
    }

    pub fn job_count(&self) -> usize {
        self.lifecycle.jobs.jobs.len()
    }
}

/// A job's commit, whichever command carried it.
struct Swap<'a> {
    job_id: u64,
    broker_id: i32,
    now_ms: i64,
    replaced: &'a [EntryRef],
    outputs: &'a [JobOutput],
}

/// A job's swap that passed [`ControllerState::check_swap`].
struct CheckedSwap {
    spec: JobSpec,
    /// Where the replaced entries start in the partition's log, and how many there are.
    at: usize,
    count: usize,
    /// The offsets they span.
    range: (i64, i64),
}

/// Output entries as index entries of object `id`.
fn indexed(entries: &[OutputEntry], id: u64) -> impl Iterator<Item = IndexEntry> + '_ {
    entries.iter().map(move |e| IndexEntry {
        base_offset: e.base_offset,
        last_offset: e.last_offset,
        object_id: id,
        position: e.position,
        len: e.len,
        max_timestamp: e.max_timestamp,
    })
}

fn same_entry(entry: &IndexEntry, r: &EntryRef) -> bool {
    entry.base_offset == r.base_offset
        && entry.last_offset == r.last_offset
        && entry.object_id == r.object_id
        && entry.position == r.position
}

/// Output entries must be non-empty, in order (across the objects too), inside the replaced
/// offsets and their object; a merge must cover every replaced offset exactly, and only a
/// compaction may leave nothing.
fn check_outputs(
    outputs: &[JobOutput],
    range: (i64, i64),
    kind: JobKind,
) -> Result<(), OutputProblem> {
    if outputs.iter().any(|o| o.entries.is_empty()) {
        return Err(OutputProblem::EmptyEntry);
    }
    if outputs.is_empty() {
        return match kind.compacts() {
            true => Ok(()),
            false => Err(OutputProblem::MergeLostOffsets),
        };
    }
    let mut previous_last: Option<i64> = None;
    for (output, e) in outputs
        .iter()
        .flat_map(|o| o.entries.iter().map(move |e| (o, e)))
    {
        if e.len == 0 || e.last_offset < e.base_offset {
            return Err(OutputProblem::EmptyEntry);
        }
        if previous_last.is_some_and(|p| e.base_offset <= p) {
            return Err(OutputProblem::OutOfOrder);
        }
        if e.base_offset < range.0 || e.last_offset > range.1 {
            return Err(OutputProblem::OutsideReplaced);
        }
        let end = e.position.checked_add(u64::from(e.len));
        if end.is_none_or(|end| end > output.object_size) {
            return Err(OutputProblem::BeyondObject);
        }
        if kind == JobKind::Merge
            && previous_last.map_or(e.base_offset != range.0, |p| e.base_offset != p + 1)
        {
            return Err(OutputProblem::MergeLostOffsets);
        }
        previous_last = Some(e.last_offset);
    }
    if kind == JobKind::Merge && previous_last != Some(range.1) {
        return Err(OutputProblem::MergeLostOffsets);
    }
    Ok(())
}
