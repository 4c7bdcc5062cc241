//! Group coordinator settings, taken from the broker configuration.

use crate::config::BrokerConfig;

/// How long a member that has joined but never completed a join may stay without a response
/// before it is dropped (Kafka's fixed `GroupCoordinator.NewMemberJoinTimeoutMs`).
pub const NEW_MEMBER_JOIN_TIMEOUT_MS: u64 = 5 * 60 * 1000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupConfig {
    /// `group.initial.rebalance.delay.ms`: how long the first rebalance of an empty group waits
    /// for more members before completing.
    pub initial_rebalance_delay_ms: u64,
    pub min_session_timeout_ms: i32,
    pub max_session_timeout_ms: i32,
    /// `group.max.size`.
    pub max_size: usize,
    pub new_member_join_timeout_ms: u64,
    /// `offset.metadata.max.bytes`.
    pub offset_metadata_max_bytes: usize,
    /// Groups held in memory at once.
    pub max_groups: usize,
    /// JoinGroup and SyncGroup requests parked at once, across all groups.
    pub max_waiters: usize,
    /// Group writes (commits, metadata) queued for the controller at once.
    pub max_pending_writes: usize,
}

impl GroupConfig {
    pub fn from_broker(config: &BrokerConfig) -> GroupConfig {
        GroupConfig {
            initial_rebalance_delay_ms: config.group_initial_rebalance_delay_ms,
            min_session_timeout_ms: config.group_min_session_timeout_ms,
            max_session_timeout_ms: config.group_max_session_timeout_ms,
            max_size: config.group_max_size,
            new_member_join_timeout_ms: NEW_MEMBER_JOIN_TIMEOUT_MS,
            offset_metadata_max_bytes: config.offset_metadata_max_bytes,
            max_groups: config.max_groups,
            max_waiters: config.max_group_waiters,
            max_pending_writes: config.max_pending_group_writes,
        }
    }
}

impl Default for GroupConfig {
    fn default() -> Self {
        GroupConfig::from_broker(&BrokerConfig::default())
    }
}
