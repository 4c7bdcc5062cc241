//! The leader's retention check (Kafka's `log.retention.check.interval.ms`): find the
//! partitions whose oldest entries `retention.ms` or `retention.bytes` no longer keep and
//! propose `EnforceRetention` for them. Finding them reads each partition's first entries under
//! a short read lock per topic; applying the command decides again from the state at that
//! point, so a config change or a write that lands in between is respected.

use std::time::Duration;

use skiff_meta::{ControllerState, EnforceRetention, PartitionRef, StateHandle, TopicId};

use super::{LifecycleSettings, PeriodicDuty, propose};
use crate::raft::types::Raft;

/// Partitions named in one proposal, so a cluster-wide expiry is several modest log entries.
const PARTITIONS_PER_PROPOSAL: usize = 1_000;

pub(crate) struct RetentionCheck {
    settings: LifecycleSettings,
}

impl RetentionCheck {
    pub(crate) fn new(settings: LifecycleSettings) -> Self {
        RetentionCheck { settings }
    }
}

impl PeriodicDuty for RetentionCheck {
    fn period(&self) -> Duration {
        Duration::from_millis(self.settings.config.retention_check_interval_ms)
    }

    async fn round(&mut self, raft: &Raft, state: &StateHandle) {
        let now = self.settings.clock.now_ms();
        let due = due_partitions(state, now);
        for chunk in due.chunks(PARTITIONS_PER_PROPOSAL) {
            let proposal = EnforceRetention {
                now_ms: now,
                partitions: chunk.to_vec(),
            };
            let answers = match propose(raft, proposal).await {
                Ok(answers) => answers,
                Err(e) => {
                    tracing::warn!(error = %e, "could not enforce retention; retrying next check");
                    return;
                }
            };
            for (at, answer) in chunk.iter().zip(answers) {
                let Ok(truncation) = answer else { continue };
                if truncation.dropped_entries == 0 {
                    continue;
                }
                let metrics = &self.settings.metrics;
                metrics.retention_bytes.increment(truncation.dropped_bytes);
                metrics
                    .retention_entries
                    .increment(u64::from(truncation.dropped_entries));
                tracing::info!(
                    topic = %topic_name(state, at.topic_id),
                    partition = at.partition,
                    log_start_offset = truncation.log_start_offset,
                    entries = truncation.dropped_entries,
                    bytes = truncation.dropped_bytes,
                    "retention deleted old data"
                );
            }
        }
    }
}

/// Every partition with at least one entry retention would drop at `now_ms`. One read lock per
/// topic, so applies are held off for one topic's partitions at most.
fn due_partitions(state: &StateHandle, now_ms: i64) -> Vec<PartitionRef> {
    let topic_ids: Vec<TopicId> = state.read().topics().map(|t| t.id).collect();
    let mut due = Vec::new();
    for id in topic_ids {
        let state = state.read();
        due_in_topic(&state, id, now_ms, &mut due);
    }
    due
}

fn due_in_topic(state: &ControllerState, id: TopicId, now_ms: i64, due: &mut Vec<PartitionRef>) {
    let Some(topic) = state.topic(&id) else {
        return;
    };
    let config = topic.config.effective(state.topic_defaults(None));
    if !config.cleanup_policy().delete {
        return;
    }
    let retention_ms = config.retention_ms();
    let retention_bytes = config.retention_bytes();
    if retention_ms < 0 && retention_bytes < 0 {
        return;
    }
    for (partition, log) in (0u32..).zip(&topic.partitions) {
        let at = PartitionRef {
            topic_id: id,
            partition,
        };
        // Open transactions and an archiving topic's unarchived data hold it back, as in apply.
        if state
            .retention_cut(at, log, now_ms, retention_ms, retention_bytes)
            .is_some()
        {
            due.push(at);
        }
    }
}

fn topic_name(state: &StateHandle, id: TopicId) -> String {
    state
        .read()
        .topic(&id)
        .map_or_else(|| id.to_string(), |t| t.name.clone())
}
