//! Committed offsets expire as in Kafka (`offsets.retention.minutes`, checked every
//! `offsets.retention.check.interval.ms`): the leader finds groups with offsets due and
//! proposes `ExpireGroupOffsets`, whose apply checks each group again at the command's time.

use std::time::Duration;

use skiff_meta::state::GroupRecord;
use skiff_meta::{ExpireGroupOffsets, StateHandle};

use super::{LifecycleSettings, PeriodicDuty, propose};
use crate::raft::types::Raft;

const GROUPS_PER_PROPOSAL: usize = 1_000;

pub(crate) struct OffsetsExpiry {
    settings: LifecycleSettings,
}

impl OffsetsExpiry {
    pub(crate) fn new(settings: LifecycleSettings) -> Self {
        OffsetsExpiry { settings }
    }

    fn retention_ms(&self) -> i64 {
        i64::try_from(self.settings.config.offsets_retention_minutes)
            .unwrap_or(i64::MAX)
            .saturating_mul(60_000)
    }
}

impl PeriodicDuty for OffsetsExpiry {
    fn period(&self) -> Duration {
        Duration::from_millis(self.settings.config.offsets_retention_check_interval_ms)
    }

    async fn round(&mut self, raft: &Raft, state: &StateHandle) {
        let now = self.settings.clock.now_ms();
        let retention_ms = self.retention_ms();
        let cutoff = now.saturating_sub(retention_ms);
        let due: Vec<String> = state
            .read()
            .groups()
            .filter(|(_, record)| has_expired_offsets(record, cutoff))
            .map(|(id, _)| id.to_string())
            .collect();
        for chunk in due.chunks(GROUPS_PER_PROPOSAL) {
            let proposal = ExpireGroupOffsets {
                now_ms: now,
                retention_ms,
                groups: chunk.to_vec(),
            };
            match propose(raft, proposal).await {
                Ok(removed) => {
                    for (group, count) in chunk.iter().zip(removed) {
                        if count > 0 {
                            self.settings
                                .metrics
                                .offsets_expired
                                .increment(u64::from(count));
                            tracing::info!(group = %group, offsets = count, "committed offsets expired");
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "could not expire committed offsets; retrying next check");
                    return;
                }
            }
        }
    }
}

/// The same rules `ExpireGroupOffsets` applies: a group with members keeps its offsets, an
/// empty one loses them once empty long enough, standalone offsets go one by one.
fn has_expired_offsets(record: &GroupRecord, cutoff: i64) -> bool {
    match &record.metadata {
        Some(group) if !group.members.is_empty() => false,
        Some(group) => group.stored_at_ms <= cutoff,
        None => record.offsets().any(|(_, _, o)| o.commit_time_ms <= cutoff),
    }
}
