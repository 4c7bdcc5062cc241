//! The controller's replicated state: pure and deterministic (no I/O, no clocks, no
//! randomness), so every replica applying the same commands reaches the same state.

mod broker;
mod group;
mod legacy;
mod object;
mod partition;
mod producer;
mod segment;
mod topic;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use broker::BrokerLease;
pub use group::{CommittedOffset, GroupRecord, GroupRegistry};
pub(crate) use legacy::{ControllerStateV1, ControllerStateV2};
pub use object::ObjectMeta;
pub use partition::{IndexEntry, MaxTimestamp, PartitionLog};
pub use producer::{
    CACHED_BATCHES_PER_PRODUCER, FIRST_PRODUCER_ID, PRODUCER_IDLE_EXPIRY_MS,
    PRODUCER_SWEEP_INTERVAL_MS, ProducerPartitionState,
};
pub use topic::{MAX_PARTITIONS, MAX_TOPIC_NAME_LEN, Topic, validate_topic_name};

use crate::command::{BrokerInfo, Command, CommandResponse, TopicId};
use producer::{ProducerExpiryIndex, ProducerRegistry};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControllerState {
    cluster_id: Option<String>,
    brokers: BTreeMap<i32, BrokerInfo>,
    topics: BTreeMap<TopicId, Topic>,
    topic_names: BTreeMap<String, TopicId>,
    objects: BTreeMap<u64, ObjectMeta>,
    next_object_id: u64,
    /// The latest command time seen; the state machine's only clock.
    clock_ms: i64,
    last_producer_sweep_ms: Option<i64>,
    producers: ProducerRegistry,
    producer_expiry: ProducerExpiryIndex,
    /// Added in snapshot format 2; format-1 snapshots load through [`ControllerStateV1`].
    groups: GroupRegistry,
    /// Added in snapshot format 3 (older snapshots load every registered broker as live).
    broker_leases: BTreeMap<i32, BrokerLease>,
}

impl ControllerState {
    pub fn apply(&mut self, cmd: &Command) -> CommandResponse {
        match cmd {
            Command::InitCluster { cluster_id } => {
                if self.cluster_id.is_none() {
                    self.cluster_id = Some(cluster_id.clone());
                }
                CommandResponse::Done
            }
            Command::RegisterBroker(broker) => {
                self.register_broker(broker);
                CommandResponse::Done
            }
            Command::BrokerHeartbeat { broker_id, now_ms } => {
                self.clock_ms = self.clock_ms.max(*now_ms);
                self.broker_heartbeat(*broker_id)
            }
            Command::ExpireBroker {
                broker_id,
                heartbeats_seen,
            } => {
                self.expire_broker(*broker_id, *heartbeats_seen);
                CommandResponse::Done
            }
            Command::UnregisterBroker { broker_id } => {
                self.unregister_broker(*broker_id);
                CommandResponse::Done
            }
            Command::ForgetObjects(ids) => {
                for id in ids {
                    if self.objects.get(id).is_some_and(|o| o.live_entries == 0) {
                        self.objects.remove(id);
                    }
                }
                CommandResponse::Done
            }
            Command::CreateTopics(topics) => CommandResponse::TopicsCreated(
                topics.iter().map(|t| self.create_topic(t)).collect(),
            ),
            Command::DeleteTopics(ids) => {
                CommandResponse::TopicsDeleted(ids.iter().map(|id| self.delete_topic(id)).collect())
            }
            Command::CreatePartitions(changes) => CommandResponse::PartitionsCreated(
                changes.iter().map(|c| self.grow_partitions(c)).collect(),
            ),
            Command::AlterTopicConfigs(changes) => CommandResponse::ConfigsAltered(
                changes.iter().map(|c| self.alter_topic_config(c)).collect(),
            ),
            Command::InitProducerId { current } => {
                CommandResponse::ProducerId(self.producers.init(*current, self.clock_ms))
            }
            Command::CommitSegment(commit) => {
                CommandResponse::SegmentCommitted(self.commit_segment(commit))
            }
            Command::CommitOffsets(commits) => {
                CommandResponse::OffsetsCommitted(self.commit_offsets(commits))
            }
            Command::StoreGroups(groups) => {
                self.store_groups(groups);
                CommandResponse::Done
            }
            Command::DeleteGroups(ids) => CommandResponse::GroupsDeleted(self.delete_groups(ids)),
            Command::DeleteOffsets(deletions) => {
                CommandResponse::OffsetsDeleted(self.delete_offsets(deletions))
            }
            Command::CommitOffsetsAsCoordinator { broker_id, commits } => {
                CommandResponse::OffsetsCommitted(self.commit_offsets_as(*broker_id, commits))
            }
            Command::StoreGroupsAsCoordinator { broker_id, groups } => {
                CommandResponse::GroupsStored(self.store_groups_as(*broker_id, groups))
            }
        }
    }

    pub fn cluster_id(&self) -> Option<&str> {
        self.cluster_id.as_deref()
    }

    /// Registered brokers, live or not, ordered by id.
    pub fn brokers(&self) -> impl Iterator<Item = &BrokerInfo> {
        self.brokers.values()
    }

    /// Registered brokers whose lease has not lapsed, ordered by id: the ones partitions and
    /// groups are assigned to.
    pub fn live_brokers(&self) -> impl Iterator<Item = &BrokerInfo> {
        self.brokers
            .values()
            .filter(|b| self.broker_leases.get(&b.id).is_some_and(|l| l.live))
    }

    /// A registered broker's lease.
    pub fn broker_lease(&self, id: i32) -> Option<&BrokerLease> {
        self.broker_leases.get(&id)
    }

    /// Every known object (committed segments), by id.
    pub fn objects(&self) -> impl Iterator<Item = (u64, &ObjectMeta)> {
        self.objects.iter().map(|(id, o)| (*id, o))
    }

    pub fn broker(&self, id: i32) -> Option<&BrokerInfo> {
        self.brokers.get(&id)
    }

    pub fn topic(&self, id: &TopicId) -> Option<&Topic> {
        self.topics.get(id)
    }

    pub fn topic_by_name(&self, name: &str) -> Option<&Topic> {
        self.topic_names
            .get(name)
            .and_then(|id| self.topics.get(id))
    }

    /// All topics, ordered by name.
    pub fn topics(&self) -> impl Iterator<Item = &Topic> {
        self.topic_names
            .values()
            .filter_map(|id| self.topics.get(id))
    }

    pub fn topic_count(&self) -> usize {
        self.topics.len()
    }

    pub fn object(&self, object_id: u64) -> Option<&ObjectMeta> {
        self.objects.get(&object_id)
    }

    pub fn object_key(&self, object_id: u64) -> Option<&str> {
        self.objects.get(&object_id).map(|o| o.key.as_str())
    }

    /// Objects no index entry points into any more: candidates for garbage collection.
    pub fn unreferenced_objects(&self) -> impl Iterator<Item = (u64, &ObjectMeta)> {
        self.objects
            .iter()
            .filter(|(_, o)| o.live_entries == 0)
            .map(|(id, o)| (*id, o))
    }

    /// The current epoch of a registered producer id.
    pub fn producer_epoch(&self, producer_id: i64) -> Option<i16> {
        self.producers.epoch(producer_id)
    }

    /// Number of registered producer ids.
    pub fn registered_producer_count(&self) -> usize {
        self.producers.len()
    }

    /// Number of (producer, partition) idempotence states, across all partitions.
    pub fn producer_state_count(&self) -> usize {
        self.producer_expiry.len()
    }

    /// A consumer group's persisted metadata and committed offsets.
    pub fn group(&self, group_id: &str) -> Option<&GroupRecord> {
        self.groups.get(group_id)
    }

    /// Every group with persisted metadata or offsets, ordered by id.
    pub fn groups(&self) -> impl Iterator<Item = (&str, &GroupRecord)> {
        self.groups.iter()
    }

    pub fn group_count(&self) -> usize {
        self.groups.len()
    }

    /// The latest command time applied (the state machine's clock).
    pub fn clock_ms(&self) -> i64 {
        self.clock_ms
    }
}

#[cfg(test)]
mod tests;
