//! The controller's replicated state: pure and deterministic (no I/O, no clocks, no
//! randomness), so every replica applying the same commands reaches the same state.

mod acls;
mod archive;
mod broker;
mod condemned;
mod group;
mod jobs;
mod legacy;
mod lifecycle;
mod limits;
mod live_history;
mod object;
mod partition;
mod producer;
mod segment;
mod topic;
mod txn;
mod txn_apply;
mod users;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use acls::AclRegistry;
pub use archive::ArchiveProgress;
pub use broker::BrokerLease;
pub use condemned::CondemnedObjects;
pub use group::{CommittedOffset, GroupRecord, GroupRegistry};
pub use jobs::Job;
pub use legacy::{
    ControllerStateV1, ControllerStateV2, ControllerStateV3, ControllerStateV4, ControllerStateV5,
    ControllerStateV6, ControllerStateV7, ControllerStateV8, ControllerStateV9,
};
pub use lifecycle::{IndexEntryCounts, Lifecycle};
pub use limits::{ClusterLimits, DEFAULT_MAX_PARTITIONS, DEFAULT_MAX_TOPICS_PER_REQUEST};
pub use live_history::{LIVE_SETS_KEPT, LiveBrokerHistory};
pub use object::ObjectMeta;
pub use partition::{MaxTimestamp, PartitionLog};
pub use producer::{
    CACHED_BATCHES_PER_PRODUCER, FIRST_PRODUCER_ID, PRODUCER_IDLE_EXPIRY_MS,
    PRODUCER_SWEEP_INTERVAL_MS, ProducerPartitionState,
};
pub use topic::{MAX_PARTITIONS, MAX_TOPIC_NAME_LEN, Topic, validate_topic_name};
pub use txn::{AbortedRanges, AbortedTxn, Transaction, TxnRegistry};
pub use users::UserRegistry;

use crate::broker_config::{BrokerConfigs, BrokerDefaults};
use crate::command::{BrokerInfo, Command, CommandResponse};
use crate::error::ProposeError;
use crate::ids::TopicId;
use crate::proposal::{Proposal, read_answer};
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
    /// Added in snapshot format 4 (older snapshots start it from their live brokers).
    live_history: LiveBrokerHistory,
    /// Added in snapshot format 5 (derived from the objects for older snapshots).
    lifecycle: Lifecycle,
    /// Added in snapshot format 6 (empty for older snapshots).
    condemned: CondemnedObjects,
    /// Added in snapshot format 6 too (older snapshots have no archives).
    archives: BTreeMap<TopicId, ArchiveProgress>,
    /// Added in snapshot format 7 (older snapshots have no users).
    users: UserRegistry,
    /// Added in snapshot format 8 (older snapshots have no dynamic broker configs).
    broker_configs: BrokerConfigs,
    /// Added in snapshot format 9 (older snapshots have no ACLs).
    acls: AclRegistry,
    /// Added in snapshot format 10 (older snapshots have no transactions).
    txns: TxnRegistry,
}

impl ControllerState {
    /// Applies one command: the only way the state changes.
    pub fn apply(&mut self, cmd: &Command) -> CommandResponse {
        match cmd {
            Command::InitCluster(init) => {
                if self.cluster_id.is_none() {
                    self.cluster_id = Some(init.cluster_id.clone());
                }
                CommandResponse::Done
            }
            Command::RegisterBroker(register) => {
                self.register_broker(&register.0);
                self.record_live_set();
                CommandResponse::Done
            }
            Command::BrokerHeartbeat(heartbeat) => {
                self.clock_ms = self.clock_ms.max(heartbeat.now_ms);
                let answer = self.broker_heartbeat(heartbeat.broker_id);
                self.record_live_set();
                CommandResponse::Heartbeat(answer)
            }
            Command::ExpireBroker(expire) => {
                self.expire_broker(expire.broker_id, expire.heartbeats_seen);
                self.record_live_set();
                CommandResponse::Done
            }
            Command::UnregisterBroker(unregister) => {
                self.unregister_broker(unregister.broker_id);
                self.record_live_set();
                CommandResponse::Done
            }
            Command::ForgetObjects(forget) => {
                self.forget_objects(&forget.0);
                CommandResponse::Done
            }
            Command::CreateTopics(create) => CommandResponse::TopicsCreated(
                create.0.iter().map(|t| self.create_topic(t)).collect(),
            ),
            Command::DeleteTopics(delete) => CommandResponse::TopicsDeleted(
                delete.0.iter().map(|id| self.delete_topic(id)).collect(),
            ),
            Command::CreatePartitions(grow) => CommandResponse::PartitionsCreated(
                grow.0.iter().map(|c| self.grow_partitions(c)).collect(),
            ),
            Command::AlterTopicConfigs(alter) => CommandResponse::ConfigsAltered(
                alter.0.iter().map(|c| self.alter_topic_config(c)).collect(),
            ),
            Command::InitProducerId(init) => {
                CommandResponse::ProducerId(self.producers.init(init.current, self.clock_ms))
            }
            Command::CommitSegment(commit) => {
                CommandResponse::SegmentCommitted(self.commit_segment(commit))
            }
            Command::CommitOffsets(commit) => {
                CommandResponse::OffsetsCommitted(self.commit_offsets(&commit.0))
            }
            Command::StoreGroups(store) => {
                self.store_groups(&store.0);
                CommandResponse::Done
            }
            Command::DeleteGroups(delete) => {
                CommandResponse::GroupsDeleted(self.delete_groups(&delete.0))
            }
            Command::DeleteOffsets(delete) => {
                CommandResponse::OffsetsDeleted(self.delete_offsets(&delete.0))
            }
            Command::CommitOffsetsAsCoordinator(commit) => CommandResponse::OffsetsCommitted(
                self.commit_offsets_as(commit.broker_id, &commit.commits),
            ),
            Command::StoreGroupsAsCoordinator(store) => {
                CommandResponse::GroupsStored(self.store_groups_as(store.broker_id, &store.groups))
            }
            Command::CommitOffsetsFenced(commit) => CommandResponse::OffsetsCommitted(
                self.commit_offsets_fenced(commit.broker_id, &commit.commits),
            ),
            Command::StoreGroupsFenced(store) => CommandResponse::GroupsStored(
                self.store_groups_fenced(store.broker_id, &store.groups),
            ),
            Command::SetLogDefaults(set) => {
                self.set_log_defaults(set.0);
                CommandResponse::Done
            }
            Command::EnforceRetention(enforce) => CommandResponse::LogsTruncated(
                self.enforce_retention(enforce.now_ms, &enforce.partitions),
            ),
            Command::DeleteRecords(delete) => CommandResponse::LogsTruncated(
                self.delete_records(delete.now_ms, &delete.partitions),
            ),
            Command::ExpireGroupOffsets(expire) => CommandResponse::OffsetsExpired(
                self.expire_group_offsets(expire.now_ms, expire.retention_ms, &expire.groups),
            ),
            Command::PlanJobs(plan) => CommandResponse::JobsPlanned(self.plan_jobs(plan)),
            Command::RenewJobLeases(renew) => {
                CommandResponse::LeasesRenewed(self.renew_job_leases(renew))
            }
            Command::ExpireJobs(expire) => {
                self.expire_jobs(expire);
                CommandResponse::Done
            }
            Command::AbandonJob(abandon) => {
                self.abandon_job(abandon);
                CommandResponse::Done
            }
            Command::CommitJob(commit) => CommandResponse::JobCommitted(self.commit_job(commit)),
            Command::CommitJobOutputs(commit) => {
                CommandResponse::JobCommitted(self.commit_job_outputs(commit))
            }
            Command::CommitMerges(commit) => {
                CommandResponse::MergesCommitted(self.commit_merges(commit))
            }
            Command::CondemnOrphans(condemn) => {
                CommandResponse::OrphansCondemned(self.condemn_orphans(condemn))
            }
            Command::RenewBrokerLease(renew) => {
                self.clock_ms = self.clock_ms.max(renew.now_ms);
                CommandResponse::Heartbeat(self.renew_broker_lease(renew.broker_id))
            }
            Command::CommitArchive(commit) => {
                CommandResponse::ArchiveCommitted(self.commit_archive(commit))
            }
            Command::AlterScramCredentials(alter) => {
                CommandResponse::ScramCredentialsAltered(self.alter_scram_credentials(alter))
            }
            Command::AlterBrokerConfigs(alter) => CommandResponse::BrokerConfigsAltered(
                self.broker_configs
                    .alter(alter.broker, &alter.set, &alter.delete),
            ),
            Command::CreateAcls(create) => CommandResponse::AclsCreated(self.create_acls(create)),
            Command::DeleteAcls(delete) => CommandResponse::AclsDeleted(self.delete_acls(delete)),
            Command::InitTxnProducer(init) => {
                CommandResponse::TxnProducerId(self.init_txn_producer(init))
            }
            Command::AddPartitionsToTxn(add) => {
                CommandResponse::TxnUpdated(self.add_partitions_to_txn(add))
            }
            Command::AddOffsetsToTxn(add) => {
                CommandResponse::TxnUpdated(self.add_offsets_to_txn(add))
            }
            Command::TxnOffsetCommit(commit) => {
                CommandResponse::TxnUpdated(self.txn_offset_commit(commit))
            }
            Command::EndTxn(end) => CommandResponse::TxnEnded(self.end_txn(end)),
            Command::ExpireTxns(expire) => CommandResponse::TxnsExpired(self.expire_txns(expire)),
        }
    }

    /// Applies one proposal and reads its typed answer back, as a proposer would: what tests
    /// of the model and single-process tools use.
    pub fn execute<P: Proposal>(&mut self, proposal: P) -> Result<P::Answer, ProposeError> {
        let shape = proposal.shape();
        let command: Command = proposal.into();
        let response = self.apply(&command);
        read_answer::<P>(command.kind(), &shape, response)
    }

    /// Notes the live broker set after a lease change (a no-op when it did not change).
    pub(super) fn record_live_set(&mut self) {
        let live = self.live_brokers().map(|b| b.id).collect();
        self.live_history.record(live);
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

    /// The recent live broker sets and the current placement epoch.
    pub fn live_history(&self) -> &LiveBrokerHistory {
        &self.live_history
    }

    /// The placement epoch: changes whenever the set of live brokers does.
    pub fn placement_epoch(&self) -> u64 {
        self.live_history.epoch()
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

    /// The current epoch of a registered producer id.
    pub fn producer_epoch(&self, producer_id: i64) -> Option<i16> {
        self.producers.epoch(producer_id)
    }

    /// Whether this state has handed out `producer_id` (idempotent or transactional). A
    /// producer id it has not is one allocated by a later command this replica has not seen.
    pub fn producer_id_allocated(&self, producer_id: i64) -> bool {
        self.producers.allocated(producer_id)
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

    /// The dynamic broker configs (cluster default and per-broker overrides).
    pub fn broker_configs(&self) -> &BrokerConfigs {
        &self.broker_configs
    }

    /// What topic configs fall back on as seen from `broker` (`None`: cluster-wide, as the
    /// controller plans): dynamic broker configs, then the static retention flags.
    pub fn topic_defaults(&self, broker: Option<i32>) -> BrokerDefaults<'_> {
        BrokerDefaults::new(&self.broker_configs, broker, self.lifecycle.defaults)
    }

    /// The transaction coordinator's state.
    pub fn txns(&self) -> &TxnRegistry {
        &self.txns
    }

    /// The last stable offset of a partition with high watermark `high_watermark` and log
    /// start `log_start`: the first offset of its oldest open transaction, else the high
    /// watermark. READ_COMMITTED readers stop there.
    pub fn last_stable_offset(&self, topic: TopicId, partition: u32, log: &PartitionLog) -> i64 {
        self.txns
            .first_open_offset(topic, partition)
            .map_or(log.high_watermark(), |first| {
                first.max(log.log_start_offset())
            })
    }

    /// The latest command time applied (the state machine's clock).
    pub fn clock_ms(&self) -> i64 {
        self.clock_ms
    }
}

#[cfg(test)]
mod tests;
