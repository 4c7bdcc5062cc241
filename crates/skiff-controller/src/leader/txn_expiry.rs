//! Transactions left open past their `transaction.timeout.ms` are aborted by the leader, with
//! an epoch bump that fences the producer (Kafka's coordinator does the same every
//! `transaction.abort.timed.out.transaction.cleanup.interval.ms`); transactional ids idle for
//! `transactional.id.expiration.ms` are forgotten. One `ExpireTxns` proposal per round, made
//! only when the state says something is due; its apply checks again at the command's time.

use std::time::Duration;

use skiff_meta::{ExpireTxns, StateHandle};

use super::{LifecycleSettings, PeriodicDuty, propose};
use crate::raft::types::Raft;

/// Transactions aborted (and ids forgotten) per proposal, so one apply stays short.
const MAX_PER_PROPOSAL: u32 = 1_000;

pub(crate) struct TxnExpiry {
    settings: LifecycleSettings,
    /// The last round hit the per-proposal bound: more may be due at once.
    more: bool,
}

impl TxnExpiry {
    pub(crate) fn new(settings: LifecycleSettings) -> Self {
        TxnExpiry {
            settings,
            more: false,
        }
    }

    fn id_expiration_ms(&self) -> i64 {
        i64::try_from(self.settings.config.transactional_id_expiration_ms).unwrap_or(i64::MAX)
    }
}

impl PeriodicDuty for TxnExpiry {
    fn period(&self) -> Duration {
        Duration::from_millis(self.settings.config.transaction_abort_check_interval_ms)
    }

    fn hurry(&self) -> Option<Duration> {
        self.more.then_some(Duration::ZERO)
    }

    async fn round(&mut self, raft: &Raft, state: &StateHandle) {
        self.more = false;
        let now = self.settings.clock.now_ms();
        let id_expiration_ms = self.id_expiration_ms();
        if !state.read().txns().expiry_due(now, id_expiration_ms) {
            return;
        }
        let proposal = ExpireTxns {
            now_ms: now,
            id_expiration_ms,
            max_aborts: MAX_PER_PROPOSAL,
        };
        match propose(raft, proposal).await {
            Ok(expired) => {
                for id in &expired.aborted {
                    tracing::info!(transactional_id = %id, "aborted a transaction open past its timeout");
                }
                if !expired.forgotten.is_empty() {
                    tracing::info!(
                        count = expired.forgotten.len(),
                        "forgot transactional ids idle past transactional.id.expiration.ms"
                    );
                }
                self.settings
                    .metrics
                    .transactions_timed_out
                    .increment(expired.aborted.len() as u64);
                let bound = MAX_PER_PROPOSAL as usize;
                self.more = expired.aborted.len() >= bound || expired.forgotten.len() >= bound;
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not expire transactions; retrying next check");
            }
        }
    }
}
