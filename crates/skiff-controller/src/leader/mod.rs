//! Work only the leader does, restarted from scratch on every change of leadership: set the
//! cluster id once, expire brokers whose leases lapsed, and collect garbage objects. State the leader keeps for this
//! (when it last saw each broker's heartbeat) lives in memory and starts fresh each term, so a
//! new leader gives every broker a full lease before expiring it.

mod gc;
mod leases;

use std::time::Duration;

use openraft::ServerState;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use skiff_meta::{Command, InitCluster, StateHandle};

use crate::raft::types::{Raft, RaftMetrics};

pub(crate) use gc::{GcSettings, ObjectGc};
pub(crate) use leases::LeaseMonitor;

/// How long a new leader waits before retrying a failed duty step.
const RETRY_PAUSE: Duration = Duration::from_millis(200);

pub(crate) struct LeaderDuties {
    raft: Raft,
    state: StateHandle,
    broker_lease: Duration,
    gc: Option<GcSettings>,
}

impl LeaderDuties {
    pub(crate) fn new(
        raft: Raft,
        state: StateHandle,
        broker_lease: Duration,
        gc: Option<GcSettings>,
    ) -> Self {
        LeaderDuties {
            raft,
            state,
            broker_lease,
            gc,
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
        let monitor = LeaseMonitor::new(self.broker_lease);
        let leases = monitor.run(&self.raft, &self.state, stop.clone());
        match &self.gc {
            Some(settings) => {
                let gc = ObjectGc::new(settings.clone()).run(&self.raft, &self.state, stop);
                tokio::join!(leases, gc);
            }
            None => leases.await,
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
