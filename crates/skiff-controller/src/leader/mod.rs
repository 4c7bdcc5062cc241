//! Work only the leader does, restarted from scratch on every change of leadership: set the
//! cluster id once, expire brokers whose leases lapsed, run the storage lifecycle (retention,
//! offset expiry, merge, compaction and archive planning) and collect garbage objects. State the leader
//! keeps for this (when it last saw each broker's heartbeat, since when an object is garbage)
//! lives in memory and starts fresh each term, so a new leader gives every broker a full lease
//! and every object a full grace period.

mod archive_plan;
mod compact_plan;
mod gc;
mod jobs;
mod leases;
mod merge_plan;
mod offsets_expiry;
mod retention;
mod txn_expiry;

use std::sync::Arc;
use std::time::Duration;

use openraft::ServerState;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use skiff_meta::proposal::read_answer;
use skiff_meta::{
    Command, InitCluster, LogDefaults, Proposal, ProposeError, SetLogDefaults, StateHandle,
};

use crate::clock::Clock;
use crate::config::LifecycleConfig;
use crate::metrics::LifecycleMetrics;
use crate::raft::types::{Raft, RaftMetrics};
use crate::raft_errors::client_write_error;

pub(crate) use archive_plan::ArchivePlanner;
pub use archive_plan::{ARCHIVE_LAG_RECORDS, describe_archive_metrics};
pub(crate) use gc::{GcSettings, ObjectGc};
use jobs::JobPlanner;
pub(crate) use leases::LeaseMonitor;
use offsets_expiry::OffsetsExpiry;
use retention::RetentionCheck;
use txn_expiry::TxnExpiry;

/// What the lifecycle duties need besides Raft and the state.
#[derive(Clone)]
pub(crate) struct LifecycleSettings {
    pub(crate) config: LifecycleConfig,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) metrics: LifecycleMetrics,
}

/// Proposes one command from the leader and reads its typed answer.
pub(crate) async fn propose<P: Proposal>(
    raft: &Raft,
    proposal: P,
) -> Result<P::Answer, ProposeError> {
    let shape = proposal.shape();
    let command: Command = proposal.into();
    let kind = command.kind();
    let response = raft
        .client_write(command)
        .await
        .map_err(client_write_error)?;
    read_answer::<P>(kind, &shape, response.data)
}

/// A ticker that waits a whole period before its first tick and never bursts to catch up.
pub(crate) fn ticker(period: Duration) -> tokio::time::Interval {
    let period = period.max(Duration::from_millis(1));
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker
}

/// A leader duty that does one round of work per period.
pub(crate) trait PeriodicDuty {
    fn period(&self) -> Duration;
    fn round(&mut self, raft: &Raft, state: &StateHandle) -> impl Future<Output = ()> + Send;
    /// A shorter wait before the next round, while the last ones say work remains (Kafka's
    /// cleaner sleeps its backoff only when it found nothing to do).
    fn hurry(&self) -> Option<Duration> {
        None
    }
}

/// Runs a duty's rounds, the first a whole period after the term began, until `stop`; a round
/// still running then is dropped (each round's effect is one proposal, applied or not).
pub(crate) async fn run_periodically(
    mut duty: impl PeriodicDuty,
    raft: &Raft,
    state: &StateHandle,
    stop: CancellationToken,
) {
    let mut ticker = ticker(duty.period());
    loop {
        match duty.hurry() {
            Some(pause) => {
                tokio::select! {
                    _ = tokio::time::sleep(pause) => {}
                    _ = stop.cancelled() => return,
                }
                ticker.reset();
            }
            None => {
                tokio::select! {
                    _ = ticker.tick() => {}
                    _ = stop.cancelled() => return,
                }
            }
        }
        tokio::select! {
            _ = duty.round(raft, state) => {}
            _ = stop.cancelled() => return,
        }
    }
}

/// How long a new leader waits before retrying a failed duty step.
const RETRY_PAUSE: Duration = Duration::from_millis(200);

pub(crate) struct LeaderDuties {
    raft: Raft,
    state: StateHandle,
    /// `None`: brokers hold no leases (an embedded controller).
    broker_lease: Option<Duration>,
    gc: Option<GcSettings>,
    lifecycle: LifecycleSettings,
}

impl LeaderDuties {
    pub(crate) fn new(
        raft: Raft,
        state: StateHandle,
        broker_lease: Option<Duration>,
        gc: Option<GcSettings>,
        lifecycle: LifecycleSettings,
    ) -> Self {
        LeaderDuties {
            raft,
            state,
            broker_lease,
            gc,
            lifecycle,
        }
    }

    pub(crate) async fn run(self, stop: CancellationToken) {
        let mut metrics = self.raft.metrics();
        loop {
            let leading_term = {
                let m = metrics.borrow_and_update();
                (m.state == ServerState::Leader).then_some(m.current_term)
            };
            if let Some(term) = leading_term {
                tracing::info!(term, "this controller node leads: starting leader duties");
                let term_stop = stop.child_token();
                tokio::select! {
                    _ = self.lead(term_stop.clone()) => {}
                    _ = leadership_lost(self.raft.metrics(), term) => {
                        tracing::info!(term, "leadership lost: stopping leader duties");
                    }
                    _ = stop.cancelled() => return,
                }
                term_stop.cancel();
            }
            tokio::select! {
                changed = metrics.changed() => if changed.is_err() { return },
                _ = stop.cancelled() => return,
            }
        }
    }

    async fn lead(&self, stop: CancellationToken) {
        self.ensure_cluster_id(&stop).await;
        self.ensure_log_defaults(&stop).await;
        let leases = async {
            if let Some(lease) = self.broker_lease {
                LeaseMonitor::new(lease)
                    .run(&self.raft, &self.state, stop.clone())
                    .await;
            }
        };
        let (raft, state) = (&self.raft, &self.state);
        let retention = run_periodically(
            RetentionCheck::new(self.lifecycle.clone()),
            raft,
            state,
            stop.clone(),
        );
        let offsets = run_periodically(
            OffsetsExpiry::new(self.lifecycle.clone()),
            raft,
            state,
            stop.clone(),
        );
        let jobs = run_periodically(
            JobPlanner::new(self.lifecycle.clone()),
            raft,
            state,
            stop.clone(),
        );
        let archive = run_periodically(
            ArchivePlanner::new(self.lifecycle.clone()),
            raft,
            state,
            stop.clone(),
        );
        let txns = run_periodically(
            TxnExpiry::new(self.lifecycle.clone()),
            raft,
            state,
            stop.clone(),
        );
        let gc = async {
            if let Some(settings) = &self.gc {
                let collector = ObjectGc::new(settings.clone(), self.lifecycle.clone());
                run_periodically(collector, raft, state, stop.clone()).await;
            }
        };
        tokio::join!(leases, retention, offsets, jobs, archive, txns, gc);
    }

    /// Replicates this node's retention defaults when they differ from the cluster's, so every
    /// broker describes, and every apply uses, the defaults of the node that leads.
    async fn ensure_log_defaults(&self, stop: &CancellationToken) {
        let wanted = LogDefaults {
            retention_ms: self.lifecycle.config.log_retention_ms,
            retention_bytes: self.lifecycle.config.log_retention_bytes,
        };
        while !stop.is_cancelled() {
            if self.state.read().log_defaults() == wanted {
                return;
            }
            match propose(&self.raft, SetLogDefaults(wanted)).await {
                Ok(()) => {
                    tracing::info!(
                        retention_ms = wanted.retention_ms,
                        retention_bytes = wanted.retention_bytes,
                        "set the cluster's retention defaults"
                    );
                    return;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "could not set the retention defaults");
                    pause(stop).await;
                }
            }
        }
    }

    async fn ensure_cluster_id(&self, stop: &CancellationToken) {
        while !stop.is_cancelled() {
            // The state may lag the log right after an election: read only once applied.
            if let Err(e) = self.raft.ensure_linearizable().await {
                tracing::debug!(error = %e, "not ready to act as leader yet");
                pause(stop).await;
                continue;
            }
            if self.state.read().cluster_id().is_some() {
                return;
            }
            let cluster_id = crate::cluster_id::new_cluster_id();
            tracing::info!(%cluster_id, "setting the cluster id");
            match self
                .raft
                .client_write(Command::from(InitCluster { cluster_id }))
                .await
            {
                Ok(_) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "could not set the cluster id");
                    pause(stop).await;
                }
            }
        }
    }
}

async fn pause(stop: &CancellationToken) {
    tokio::select! {
        _ = tokio::time::sleep(RETRY_PAUSE) => {}
        _ = stop.cancelled() => {}
    }
}

/// Resolves once this node no longer leads in `term`.
async fn leadership_lost(mut metrics: watch::Receiver<RaftMetrics>, term: u64) {
    loop {
        {
            let m = metrics.borrow_and_update();
            if m.state != ServerState::Leader || m.current_term != term {
                return;
            }
        }
        if metrics.changed().await.is_err() {
            return;
        }
    }
}
