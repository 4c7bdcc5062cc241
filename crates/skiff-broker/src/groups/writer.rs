//! The one task that writes group state to the controller. Writes from every group queue up
//! (bounded) while a proposal is in flight and go out together in the next one, so a burst
//! of commits costs one Raft round instead of one per request, and an idle broker adds no
//! delay.

use std::sync::Arc;

use skiff_meta::{
    CommitOffsetsFenced, DeleteGroups, DeleteOffsets, FencedGroup, FencedOffsets, GroupError,
    GroupOffsetDeletion, Propose, ProposeError, StoreGroupsFenced,
};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::error::CoordinatorError;
use skiff_meta::ControllerClient;

/// Writes taken into one round at most; the rest wait for the next.
const MAX_WRITES_PER_ROUND: usize = 1024;
/// Rough bytes of commit data per round, to keep Raft entries a sensible size.
const MAX_BYTES_PER_ROUND: usize = 4 << 20;

/// Per-item results of one write, or why the write did not happen at all.
pub type WriteOutcome = Result<Vec<Result<(), GroupError>>, CoordinatorError>;
/// Called on the writer task when a stored snapshot is applied (or failed).
pub type StoreCallback = Box<dyn FnOnce(Result<(), CoordinatorError>) + Send>;

pub enum GroupWrite {
    Commit {
        offsets: FencedOffsets,
        done: oneshot::Sender<WriteOutcome>,
    },
    Store {
        group: FencedGroup,
        done: StoreCallback,
    },
    DeleteGroups {
        group_ids: Vec<String>,
        done: oneshot::Sender<WriteOutcome>,
    },
    DeleteOffsets {
        deletion: GroupOffsetDeletion,
        done: oneshot::Sender<WriteOutcome>,
    },
}

impl GroupWrite {
    fn same_kind(&self, other: &GroupWrite) -> bool {
        std::mem::discriminant(self) == std::mem::discriminant(other)
    }

    fn approximate_bytes(&self) -> usize {
        match self {
            GroupWrite::Commit { offsets, .. } => offsets
                .offsets
                .partitions
                .iter()
                .map(|p| 40 + p.metadata.len())
                .sum(),
            GroupWrite::Store { group, .. } => group
                .group
                .members
                .iter()
                .map(|m| 100 + m.subscription.len() + m.assignment.len())
                .sum(),
            GroupWrite::DeleteGroups { group_ids, .. } => group_ids.iter().map(String::len).sum(),
            GroupWrite::DeleteOffsets { deletion, .. } => 24 * deletion.partitions.len(),
        }
    }
}

/// The sending side; cheap to clone.
#[derive(Clone)]
pub struct GroupWriter {
    tx: mpsc::Sender<GroupWrite>,
}

/// Where the writes go and on whose behalf: commits and group snapshots carry this broker's
/// id and the placement epoch at which it loaded the group, and the controller applies them
/// only if this broker coordinated the group throughout since.
struct WriteTarget {
    controller: Arc<dyn ControllerClient>,
    broker_id: i32,
}

impl GroupWriter {
    pub fn spawn(
        controller: Arc<dyn ControllerClient>,
        broker_id: i32,
        capacity: usize,
        stop: CancellationToken,
    ) -> (GroupWriter, JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let target = WriteTarget {
            controller,
            broker_id,
        };
        let task = tokio::spawn(write_loop(target, rx, stop));
        (GroupWriter { tx }, task)
    }

    /// Waits for room in the queue (backpressure on the committing connection), then for
    /// the controller to apply the commit.
    pub async fn commit(&self, offsets: FencedOffsets) -> WriteOutcome {
        let (done, outcome) = oneshot::channel();
        self.send(GroupWrite::Commit { offsets, done }, outcome)
            .await
    }

    pub async fn delete_groups(&self, group_ids: Vec<String>) -> WriteOutcome {
        let (done, outcome) = oneshot::channel();
        self.send(GroupWrite::DeleteGroups { group_ids, done }, outcome)
            .await
    }

    pub async fn delete_offsets(&self, deletion: GroupOffsetDeletion) -> WriteOutcome {
        let (done, outcome) = oneshot::channel();
        self.send(GroupWrite::DeleteOffsets { deletion, done }, outcome)
            .await
    }

    async fn send(
        &self,
        write: GroupWrite,
        outcome: oneshot::Receiver<WriteOutcome>,
    ) -> WriteOutcome {
        self.tx
            .send(write)
            .await
            .map_err(|_| CoordinatorError::CoordinatorNotAvailable)?;
        outcome
            .await
            .map_err(|_| CoordinatorError::CoordinatorNotAvailable)?
    }

    /// Never waits (stores start from timers and other groups' paths): with the queue full,
    /// `done` is told at once and the group handles it like any failed write.
    pub fn store(&self, group: FencedGroup, done: StoreCallback) {
        if let Err(refused) = self.tx.try_send(GroupWrite::Store { group, done }) {
            let write = match refused {
                mpsc::error::TrySendError::Full(w) | mpsc::error::TrySendError::Closed(w) => w,
            };
            tracing::warn!("group write queue is full or closed; a group snapshot was not stored");
            if let GroupWrite::Store { done, .. } = write {
                done(Err(CoordinatorError::CoordinatorNotAvailable));
            }
        }
    }
}

async fn write_loop(
    target: WriteTarget,
    mut rx: mpsc::Receiver<GroupWrite>,
    stop: CancellationToken,
) {
    loop {
        let first = tokio::select! {
            write = rx.recv() => write,
            _ = stop.cancelled() => None,
        };
        let Some(first) = first else { break };
        let round = take_round(first, &mut rx);
        write_round(&target, round).await;
    }
    // Stopping: whatever is already queued still gets written.
    rx.close();
    while let Some(first) = rx.recv().await {
        let round = take_round(first, &mut rx);
        write_round(&target, round).await;
    }
}

fn take_round(first: GroupWrite, rx: &mut mpsc::Receiver<GroupWrite>) -> Vec<GroupWrite> {
    let mut bytes = first.approximate_bytes();
    let mut round = vec![first];
    while round.len() < MAX_WRITES_PER_ROUND && bytes < MAX_BYTES_PER_ROUND {
        match rx.try_recv() {
            Ok(write) => {
                bytes += write.approximate_bytes();
                round.push(write);
            }
            Err(_) => break,
        }
    }
    round
}

/// Proposes the round in order, one command per run of writes of the same kind, so a delete
/// queued after a commit is applied after it.
async fn write_round(target: &WriteTarget, round: Vec<GroupWrite>) {
    let mut run: Vec<GroupWrite> = Vec::new();
    for write in round {
        if run.last().is_some_and(|last| !last.same_kind(&write)) {
            write_run(target, std::mem::take(&mut run)).await;
        }
        run.push(write);
    }
    if !run.is_empty() {
        write_run(target, run).await;
    }
}

async fn write_run(target: &WriteTarget, run: Vec<GroupWrite>) {
    let controller = target.controller.as_ref();
    match run.first() {
        Some(GroupWrite::Commit { .. }) => write_commits(target, run).await,
        Some(GroupWrite::Store { .. }) => write_stores(target, run).await,
        Some(GroupWrite::DeleteGroups { .. }) => write_group_deletions(controller, run).await,
        Some(GroupWrite::DeleteOffsets { .. }) => write_offset_deletions(controller, run).await,
        None => {}
    }
}

fn refused(e: &ProposeError) -> CoordinatorError {
    tracing::warn!(error = %e, "the controller refused a group write");
    CoordinatorError::CoordinatorNotAvailable
}

async fn write_commits(target: &WriteTarget, run: Vec<GroupWrite>) {
    let mut commits = Vec::with_capacity(run.len());
    let mut waiters = Vec::with_capacity(run.len());
    for write in run {
        if let GroupWrite::Commit { offsets, done } = write {
            commits.push(offsets);
            waiters.push(done);
        }
    }
    let proposal = CommitOffsetsFenced {
        broker_id: target.broker_id,
        commits,
    };
    let per_item = match target.controller.propose(proposal).await {
        Ok(results) => results.into_iter().map(Ok).collect(),
        Err(e) => vec![Err(refused(&e)); waiters.len()],
    };
    for (done, outcome) in waiters.into_iter().zip(per_item) {
        let _ = done.send(outcome);
    }
}

async fn write_stores(target: &WriteTarget, run: Vec<GroupWrite>) {
    let mut groups = Vec::with_capacity(run.len());
    let mut callbacks = Vec::with_capacity(run.len());
    for write in run {
        if let GroupWrite::Store { group, done } = write {
            groups.push(group);
            callbacks.push(done);
        }
    }
    let count = groups.len();
    let proposal = StoreGroupsFenced {
        broker_id: target.broker_id,
        groups,
    };
    let per_group: Vec<Result<(), CoordinatorError>> =
        match target.controller.propose(proposal).await {
            Ok(results) => results
                .into_iter()
                .map(|r| r.map_err(CoordinatorError::from))
                .collect(),
            Err(e) => vec![Err(refused(&e)); count],
        };
    for (done, outcome) in callbacks.into_iter().zip(per_group) {
        done(outcome);
    }
}

async fn write_group_deletions(controller: &dyn ControllerClient, run: Vec<GroupWrite>) {
    let mut ids = Vec::new();
    let mut waiters = Vec::with_capacity(run.len());
    for write in run {
        if let GroupWrite::DeleteGroups { group_ids, done } = write {
            waiters.push((group_ids.len(), done));
            ids.extend(group_ids);
        }
    }
    let mut results = match controller.propose(DeleteGroups(ids)).await {
        Ok(results) => Ok(results.into_iter()),
        Err(e) => Err(refused(&e)),
    };
    for (count, done) in waiters {
        let outcome = match &mut results {
            Ok(iter) => Ok(iter.by_ref().take(count).collect()),
            Err(e) => Err(*e),
        };
        let _ = done.send(outcome);
    }
}

async fn write_offset_deletions(controller: &dyn ControllerClient, run: Vec<GroupWrite>) {
    let mut deletions = Vec::with_capacity(run.len());
    let mut waiters = Vec::with_capacity(run.len());
    for write in run {
        if let GroupWrite::DeleteOffsets { deletion, done } = write {
            deletions.push(deletion);
            waiters.push(done);
        }
    }
    let per_item = match controller.propose(DeleteOffsets(deletions)).await {
        Ok(results) => results.into_iter().map(Ok).collect(),
        Err(e) => vec![Err(refused(&e)); waiters.len()],
    };
    for (done, outcome) in waiters.into_iter().zip(per_item) {
        let _ = done.send(outcome);
    }
}
