//! Consumer groups: committed offsets and each group's last completed generation, written by
//! the broker coordinating the group.

use serde::{Deserialize, Serialize};

use crate::ids::TopicId;

/// Offsets one group commits in one request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupOffsets {
    pub group_id: String,
    /// The proposer's wall clock when the commit arrived (Kafka's commit timestamp).
    pub commit_time_ms: i64,
    pub partitions: Vec<PartitionOffset>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionOffset {
    pub topic_id: TopicId,
    pub partition: u32,
    pub offset: i64,
    /// -1 when the client did not send one.
    pub leader_epoch: i32,
    pub metadata: String,
}

/// What a new coordinator needs to take over a classic group: the last completed generation
/// with its members, their subscriptions (metadata of the selected protocol) and assignments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredGroup {
    pub group_id: String,
    /// Empty for a group that only ever stored offsets (standalone consumers).
    pub protocol_type: String,
    pub generation: i32,
    pub protocol: Option<String>,
    pub leader: Option<String>,
    pub members: Vec<StoredMember>,
    /// The proposer's wall clock when this generation was stored.
    pub stored_at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredMember {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub session_timeout_ms: i32,
    pub rebalance_timeout_ms: i32,
    /// The member's metadata for the group's selected protocol.
    pub subscription: Vec<u8>,
    pub assignment: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupOffsetDeletion {
    pub group_id: String,
    pub partitions: Vec<(TopicId, u32)>,
}

/// Committed offsets from the broker coordinating the groups, applied only if that broker is
/// live and the group's coordinator when the entry is applied. Superseded by
/// [`CommitOffsetsFenced`] (this check misses a coordinator that lost the group and got it
/// back); still applied so older Raft logs replay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitOffsetsAsCoordinator {
    pub broker_id: i32,
    pub commits: Vec<GroupOffsets>,
}

/// Group snapshots under the same check as [`CommitOffsetsAsCoordinator`]; superseded by
/// [`StoreGroupsFenced`], still applied so older Raft logs replay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreGroupsAsCoordinator {
    pub broker_id: i32,
    pub groups: Vec<StoredGroup>,
}

/// Committed offsets from the broker coordinating the groups, each fenced by the placement
/// epoch at which that broker loaded the group: a group's commit applies only if the broker
/// coordinated the group under every live broker set since then. A coordinator that lost the
/// group even for a moment (its lease lapsed and came back, or another broker held the group
/// meanwhile) is refused, and reloads the group before it writes again. Answers one result per
/// partition of each group, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitOffsetsFenced {
    pub broker_id: i32,
    pub commits: Vec<FencedOffsets>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FencedOffsets {
    /// The placement epoch at which the writing broker loaded the group.
    pub loaded_at: u64,
    pub offsets: GroupOffsets,
}

/// Group snapshots from their coordinator, fenced like [`CommitOffsetsFenced`]: an interim
/// coordinator's newer generation is never overwritten by the one a paused coordinator held.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreGroupsFenced {
    pub broker_id: i32,
    pub groups: Vec<FencedGroup>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FencedGroup {
    /// The placement epoch at which the writing broker loaded the group.
    pub loaded_at: u64,
    pub group: StoredGroup,
}

/// Removes groups: their metadata and every committed offset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteGroups(pub Vec<String>);

/// Removes committed offsets of single partitions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteOffsets(pub Vec<GroupOffsetDeletion>);

/// Committed offsets without a coordinator fence, as written before fencing existed. Still
/// applied so older Raft logs replay; brokers propose [`CommitOffsetsAsCoordinator`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitOffsets(pub Vec<GroupOffsets>);

/// Group metadata without a coordinator fence, as written before fencing existed. Still
/// applied so older Raft logs replay; brokers propose [`StoreGroupsAsCoordinator`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreGroups(pub Vec<StoredGroup>);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum GroupError {
    #[error("unknown topic or partition")]
    UnknownTopicOrPartition,
    #[error("unknown group")]
    UnknownGroup,
    #[error("the writing broker does not coordinate this group")]
    NotCoordinator,
}

/// Proposed by the controller leader: drops committed offsets older than `retention_ms` at
/// `now_ms`, as Kafka's `offsets.retention.minutes` does. A group with members keeps its
/// offsets; an empty group loses them all once it has been empty that long; offsets committed
/// without a group (standalone consumers) expire one by one from their commit time. A group
/// left with neither members nor offsets is forgotten. Answers the number of offsets removed
/// per group, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpireGroupOffsets {
    pub now_ms: i64,
    pub retention_ms: i64,
    pub groups: Vec<String>,
}
