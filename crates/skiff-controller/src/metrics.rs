//! Prometheus metrics of the controller and of the clients that propose to it, through the
//! `metrics` facade. Handles are registered when a controller or remote client is created,
//! so the process installs its recorder first; a proposal only touches atomics.

use std::time::Instant;

use metrics::{Counter, Gauge, Histogram, Unit, counter, gauge, histogram};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::raft::types::RaftMetrics;
use skiff_meta::ProposeError;

/// Histogram: seconds from proposing a command until it is applied, as the proposer sees it.
pub const CONTROLLER_COMMIT_SECONDS: &str = "skiff_controller_commit_seconds";
/// Counter, label `outcome`: proposals made, by how they ended.
pub const CONTROLLER_PROPOSALS_TOTAL: &str = "skiff_controller_proposals_total";
/// Gauge: the last log index applied to this process's copy of the state.
pub const CONTROLLER_APPLIED_INDEX: &str = "skiff_controller_applied_index";
/// Gauge: 1 while this controller node leads, else 0.
pub const CONTROLLER_IS_LEADER: &str = "skiff_controller_is_leader";
/// Gauge: this controller node's current Raft term.
pub const CONTROLLER_TERM: &str = "skiff_controller_term";
pub use crate::raft::state_machine::CONTROLLER_SNAPSHOT_BYTES;

/// Registers help text and units with the installed recorder. Call once after installing it.
pub fn describe_metrics() {
    metrics::describe_histogram!(
        CONTROLLER_COMMIT_SECONDS,
        Unit::Seconds,
        "Time from proposing a controller command until it is applied, as the proposer sees it (a broker includes the wait for its local replica)"
    );
    metrics::describe_counter!(
        CONTROLLER_PROPOSALS_TOTAL,
        Unit::Count,
        "Controller proposals, by outcome (ok, not_leader, unavailable, storage_error, shutting_down)"
    );
    metrics::describe_gauge!(
        CONTROLLER_APPLIED_INDEX,
        Unit::Count,
        "Last controller log index applied to this process's state"
    );
    metrics::describe_gauge!(
        CONTROLLER_IS_LEADER,
        Unit::Count,
        "1 while this controller node is the Raft leader, else 0"
    );
    metrics::describe_gauge!(
        CONTROLLER_TERM,
        Unit::Count,
        "Current Raft term of this node"
    );
    metrics::describe_gauge!(
        CONTROLLER_SNAPSHOT_BYTES,
        Unit::Bytes,
        "Size of the last controller snapshot this node built"
    );
}

/// The `outcome` labels, one per way a proposal ends.
const OUTCOMES: [&str; 6] = [
    "ok",
    "not_leader",
    "unavailable",
    "storage_error",
    "shutting_down",
    "rejected",
];

fn outcome_index(result: &Result<(), &ProposeError>) -> usize {
    match result {
        Ok(()) => 0,
        Err(ProposeError::NotLeader { .. }) => 1,
        Err(ProposeError::Unreachable { .. } | ProposeError::NoQuorum { .. }) => 2,
        Err(ProposeError::Storage { .. }) => 3,
        Err(ProposeError::ShuttingDown) => 4,
        Err(ProposeError::BadRequest { .. } | ProposeError::UnexpectedAnswer { .. }) => 5,
    }
}

/// Handles for timing and counting proposals.
#[derive(Clone)]
pub struct ProposalMetrics {
    commit_seconds: Histogram,
    outcomes: [Counter; OUTCOMES.len()],
    applied_index: Gauge,
}

impl ProposalMetrics {
    pub fn register() -> Self {
        ProposalMetrics {
            commit_seconds: histogram!(CONTROLLER_COMMIT_SECONDS),
            outcomes: OUTCOMES
                .map(|outcome| counter!(CONTROLLER_PROPOSALS_TOTAL, "outcome" => outcome)),
            applied_index: gauge!(CONTROLLER_APPLIED_INDEX),
        }
    }

    /// Counts a finished proposal; a successful one also records its latency from `started`.
    pub fn finished<T>(&self, started: Instant, result: &Result<T, ProposeError>) {
        let outcome = result.as_ref().map(|_| ());
        if let Some(counter) = self.outcomes.get(outcome_index(&outcome)) {
            counter.increment(1);
        }
        if outcome.is_ok() {
            self.commit_seconds.record(started.elapsed().as_secs_f64());
        }
    }

    /// Sets the applied-index gauge (a broker's replica reports it after each proposal).
    pub fn applied(&self, index: u64) {
        self.applied_index.set(index as f64);
    }
}

/// Keeps the leadership, term and applied-index gauges in step with openraft's metrics until
/// `stop` is cancelled. openraft publishes a change per applied entry, so this costs one
/// wake-up per commit, never work per partition.
pub async fn track_raft_gauges(
    mut raft: watch::Receiver<RaftMetrics>,
    proposals: ProposalMetrics,
    stop: CancellationToken,
) {
    let is_leader = gauge!(CONTROLLER_IS_LEADER);
    let term = gauge!(CONTROLLER_TERM);
    loop {
        {
            let m = raft.borrow_and_update();
            let leading = m.current_leader == Some(m.id);
            is_leader.set(if leading { 1.0 } else { 0.0 });
            term.set(m.current_term as f64);
            proposals.applied(m.last_applied.map_or(0, |log| log.index));
        }
        tokio::select! {
            changed = raft.changed() => if changed.is_err() { return },
            _ = stop.cancelled() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_has_its_own_outcome_label() {
        let errors = [
            ProposeError::NotLeader {
                leader: None,
                leader_addr: None,
            },
            ProposeError::NoQuorum { detail: "x".into() },
            ProposeError::Storage { detail: "x".into() },
            ProposeError::ShuttingDown,
            ProposeError::BadRequest { detail: "x".into() },
        ];
        let mut seen = vec![outcome_index(&Ok(()))];
        for error in &errors {
            seen.push(outcome_index(&Err(error)));
        }
        assert_eq!(seen, (0..OUTCOMES.len()).collect::<Vec<_>>());
    }
}

/// Counter: bytes of index entries retention and DeleteRecords dropped.
pub const RETENTION_DELETED_BYTES_TOTAL: &str = "skiff_retention_deleted_bytes_total";
/// Counter: index entries retention and DeleteRecords dropped.
pub const RETENTION_DELETED_ENTRIES_TOTAL: &str = "skiff_retention_deleted_entries_total";
/// Counter, label `kind` (`unreferenced` or `orphan`): objects the collector deleted.
pub const OBJECTS_DELETED_TOTAL: &str = "skiff_objects_deleted_total";
/// Counter, label `kind`: bytes of the objects the collector deleted.
pub const OBJECTS_DELETED_BYTES_TOTAL: &str = "skiff_objects_deleted_bytes_total";
/// Gauge: bytes of every object the controller knows (what the store holds, orphans aside).
pub const STORED_BYTES: &str = "skiff_stored_bytes";
/// Gauge: objects the controller knows.
pub const STORED_OBJECTS: &str = "skiff_stored_objects";
/// Gauge: index entries of every partition.
pub const INDEX_ENTRIES: &str = "skiff_index_entries";
/// Gauge: the most index entries any one partition has.
pub const INDEX_ENTRIES_MAX_PER_PARTITION: &str = "skiff_index_entries_max_per_partition";
/// Gauge: objects no index entry references, waiting for the collector.
pub const UNREFERENCED_OBJECTS: &str = "skiff_unreferenced_objects";
/// Counter: committed offsets `offsets.retention.minutes` expired.
pub const OFFSETS_EXPIRED_TOTAL: &str = "skiff_offsets_expired_total";
/// Counter: transactions the leader aborted because they outlived their timeout.
pub const TRANSACTIONS_TIMED_OUT_TOTAL: &str = "skiff_transactions_timed_out_total";

/// Help text for the leader's lifecycle metrics.
pub fn describe_lifecycle_metrics() {
    use metrics::{describe_counter, describe_gauge};
    describe_counter!(
        RETENTION_DELETED_BYTES_TOTAL,
        Unit::Bytes,
        "Bytes of index entries dropped by retention and DeleteRecords"
    );
    describe_counter!(
        RETENTION_DELETED_ENTRIES_TOTAL,
        Unit::Count,
        "Index entries dropped by retention and DeleteRecords"
    );
    describe_counter!(
        OBJECTS_DELETED_TOTAL,
        Unit::Count,
        "Objects deleted by the leader's collector, by kind (unreferenced, orphan)"
    );
    describe_counter!(
        OBJECTS_DELETED_BYTES_TOTAL,
        Unit::Bytes,
        "Bytes of objects deleted by the leader's collector, by kind"
    );
    describe_gauge!(
        STORED_BYTES,
        Unit::Bytes,
        "Bytes of every object the controller knows"
    );
    describe_gauge!(STORED_OBJECTS, Unit::Count, "Objects the controller knows");
    describe_gauge!(
        INDEX_ENTRIES,
        Unit::Count,
        "Index entries of every partition (merges keep them bounded)"
    );
    describe_gauge!(
        INDEX_ENTRIES_MAX_PER_PARTITION,
        Unit::Count,
        "The most index entries any one partition has"
    );
    describe_gauge!(
        UNREFERENCED_OBJECTS,
        Unit::Count,
        "Objects no index entry references, waiting for the grace period"
    );
    describe_counter!(
        OFFSETS_EXPIRED_TOTAL,
        Unit::Count,
        "Committed offsets expired by offsets.retention.minutes"
    );
    describe_counter!(
        TRANSACTIONS_TIMED_OUT_TOTAL,
        Unit::Count,
        "Transactions aborted by the controller leader after transaction.timeout.ms"
    );
}

/// The leader's lifecycle handles, registered once per controller.
#[derive(Clone)]
pub(crate) struct LifecycleMetrics {
    pub(crate) retention_bytes: Counter,
    pub(crate) retention_entries: Counter,
    pub(crate) deleted_unreferenced: Counter,
    pub(crate) deleted_unreferenced_bytes: Counter,
    pub(crate) deleted_orphans: Counter,
    pub(crate) deleted_orphan_bytes: Counter,
    pub(crate) stored_bytes: Gauge,
    pub(crate) stored_objects: Gauge,
    pub(crate) index_entries: Gauge,
    pub(crate) index_entries_max_per_partition: Gauge,
    pub(crate) unreferenced_objects: Gauge,
    pub(crate) offsets_expired: Counter,
    pub(crate) transactions_timed_out: Counter,
}

impl LifecycleMetrics {
    pub(crate) fn register() -> Self {
        LifecycleMetrics {
            retention_bytes: counter!(RETENTION_DELETED_BYTES_TOTAL),
            retention_entries: counter!(RETENTION_DELETED_ENTRIES_TOTAL),
            deleted_unreferenced: counter!(OBJECTS_DELETED_TOTAL, "kind" => "unreferenced"),
            deleted_unreferenced_bytes: counter!(OBJECTS_DELETED_BYTES_TOTAL, "kind" => "unreferenced"),
            deleted_orphans: counter!(OBJECTS_DELETED_TOTAL, "kind" => "orphan"),
            deleted_orphan_bytes: counter!(OBJECTS_DELETED_BYTES_TOTAL, "kind" => "orphan"),
            stored_bytes: gauge!(STORED_BYTES),
            stored_objects: gauge!(STORED_OBJECTS),
            index_entries: gauge!(INDEX_ENTRIES),
            index_entries_max_per_partition: gauge!(INDEX_ENTRIES_MAX_PER_PARTITION),
            unreferenced_objects: gauge!(UNREFERENCED_OBJECTS),
            offsets_expired: counter!(OFFSETS_EXPIRED_TOTAL),
            transactions_timed_out: counter!(TRANSACTIONS_TIMED_OUT_TOTAL),
        }
    }
}
