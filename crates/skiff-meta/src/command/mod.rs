//! Commands carried in Raft log entries, and the answers applying them returns.
//!
//! [`Command`] and [`CommandResponse`] are the wire and log form only: code that proposes uses
//! the payload types (each a [`Proposal`](crate::Proposal) with its own answer type), and
//! `ControllerState::apply` is the one place that turns a command into its response.
//!
//! Commands are serialised with postcard inside the Raft log and snapshots, so variant order
//! and field order are part of the on-disk format: append new fields and variants at the end
//! only. A payload struct with the fields of an older struct variant encodes exactly as that
//! variant did (postcard writes neither names nor lengths for structs).

mod acls;
mod archive;
mod broker_configs;
mod brokers;
mod groups;
mod jobs;
mod producers;
mod retention;
mod segments;
mod topics;
mod txns;
mod users;

use serde::{Deserialize, Serialize};

pub use acls::{AclsCreated, AclsDeleted, CreateAcls, DeleteAcls};
pub use archive::{ArchiveCommitError, CommitArchive};
pub use broker_configs::AlterBrokerConfigs;
pub use brokers::{
    BrokerHeartbeat, BrokerInfo, ExpireBroker, ForgetObjects, HeartbeatAnswer, InitCluster,
    RegisterBroker, RenewBrokerLease, UnregisterBroker,
};
pub use groups::{
    CommitOffsets, CommitOffsetsAsCoordinator, CommitOffsetsFenced, DeleteGroups, DeleteOffsets,
    ExpireGroupOffsets, FencedGroup, FencedOffsets, GroupError, GroupOffsetDeletion, GroupOffsets,
    PartitionOffset, StoreGroups, StoreGroupsAsCoordinator, StoreGroupsFenced, StoredGroup,
    StoredMember,
};
pub use jobs::{
    ARCHIVE_JOB_PARTITION, AbandonJob, CommitJob, CommitJobOutputs, CommitMerges, EntryRef,
    ExpireJobs, JobCommitted, JobError, JobKind, JobOutput, JobSpec, MergeSwap, MergesCommitted,
    OutputEntry, OutputProblem, PlanJobs, PlannedJob, RenewJobLeases,
};
pub use producers::{InitProducerId, ProducerError, ProducerIdAndEpoch};
pub use retention::{
    CONDEMNED_KEYS_KEPT_MS, CondemnOrphans, DEFAULT_LOG_RETENTION_MS, DELETE_TO_HIGH_WATERMARK,
    DeleteRecords, EnforceRetention, LogDefaults, LogError, PartitionRef, RecordDeletion,
    SetLogDefaults, Truncation,
};
pub use segments::{
    BatchCommit, BatchOutcome, BatchProblem, COLLECTED_OBJECT_ID, ChunkCommit, ChunkOutcome,
    ProduceError, SegmentCommit, SegmentCommitResult,
};
pub use topics::{
    AlterTopicConfigs, CreatePartitions, CreateTopics, DeleteTopics, LimitError, NewTopic,
    PartitionCountError, PartitionIncrease, TopicConfigChange, TopicError, TopicNameError,
};
pub use txns::{
    AddOffsetsToTxn, AddPartitionsToTxn, EndTxn, ExpireTxns, InitTxnProducer, TxnEnded, TxnError,
    TxnInitAnswer, TxnOffsetCommit, TxnProducer, TxnStatus, TxnsExpired,
};
pub use users::{
    AlterScramCredentials, MAX_SCRAM_ITERATIONS, MAX_USER_NAME_LEN, MIN_SCRAM_ITERATIONS,
    ScramChange, ScramCredential, ScramMechanism, UserError,
};

use crate::ids::TopicId;

/// A change to the controller state. Applying a command is deterministic: it depends only on the
/// command and the state before it, never on clocks or randomness of the applying node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    InitCluster(InitCluster),
    RegisterBroker(RegisterBroker),
    CreateTopics(CreateTopics),
    DeleteTopics(DeleteTopics),
    CreatePartitions(CreatePartitions),
    AlterTopicConfigs(AlterTopicConfigs),
    InitProducerId(InitProducerId),
    CommitSegment(SegmentCommit),
    CommitOffsets(CommitOffsets),
    StoreGroups(StoreGroups),
    DeleteGroups(DeleteGroups),
    DeleteOffsets(DeleteOffsets),
    BrokerHeartbeat(BrokerHeartbeat),
    ExpireBroker(ExpireBroker),
    UnregisterBroker(UnregisterBroker),
    ForgetObjects(ForgetObjects),
    CommitOffsetsAsCoordinator(CommitOffsetsAsCoordinator),
    StoreGroupsAsCoordinator(StoreGroupsAsCoordinator),
    CommitOffsetsFenced(CommitOffsetsFenced),
    StoreGroupsFenced(StoreGroupsFenced),
    SetLogDefaults(SetLogDefaults),
    EnforceRetention(EnforceRetention),
    DeleteRecords(DeleteRecords),
    ExpireGroupOffsets(ExpireGroupOffsets),
    PlanJobs(PlanJobs),
    RenewJobLeases(RenewJobLeases),
    ExpireJobs(ExpireJobs),
    AbandonJob(AbandonJob),
    CommitJob(CommitJob),
    CondemnOrphans(CondemnOrphans),
    RenewBrokerLease(RenewBrokerLease),
    CommitArchive(CommitArchive),
    CommitJobOutputs(CommitJobOutputs),
    AlterScramCredentials(AlterScramCredentials),
    AlterBrokerConfigs(AlterBrokerConfigs),
    CommitMerges(CommitMerges),
    CreateAcls(CreateAcls),
    DeleteAcls(DeleteAcls),
    InitTxnProducer(InitTxnProducer),
    AddPartitionsToTxn(AddPartitionsToTxn),
    AddOffsetsToTxn(AddOffsetsToTxn),
    TxnOffsetCommit(TxnOffsetCommit),
    EndTxn(EndTxn),
    ExpireTxns(ExpireTxns),
}

impl Command {
    /// The command's name, for logs and error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Command::InitCluster(_) => "InitCluster",
            Command::RegisterBroker(_) => "RegisterBroker",
            Command::CreateTopics(_) => "CreateTopics",
            Command::DeleteTopics(_) => "DeleteTopics",
            Command::CreatePartitions(_) => "CreatePartitions",
            Command::AlterTopicConfigs(_) => "AlterTopicConfigs",
            Command::InitProducerId(_) => "InitProducerId",
            Command::CommitSegment(_) => "CommitSegment",
            Command::CommitOffsets(_) => "CommitOffsets",
            Command::StoreGroups(_) => "StoreGroups",
            Command::DeleteGroups(_) => "DeleteGroups",
            Command::DeleteOffsets(_) => "DeleteOffsets",
            Command::BrokerHeartbeat(_) => "BrokerHeartbeat",
            Command::ExpireBroker(_) => "ExpireBroker",
            Command::UnregisterBroker(_) => "UnregisterBroker",
            Command::ForgetObjects(_) => "ForgetObjects",
            Command::CommitOffsetsAsCoordinator(_) => "CommitOffsetsAsCoordinator",
            Command::StoreGroupsAsCoordinator(_) => "StoreGroupsAsCoordinator",
            Command::CommitOffsetsFenced(_) => "CommitOffsetsFenced",
            Command::StoreGroupsFenced(_) => "StoreGroupsFenced",
            Command::SetLogDefaults(_) => "SetLogDefaults",
            Command::EnforceRetention(_) => "EnforceRetention",
            Command::DeleteRecords(_) => "DeleteRecords",
            Command::ExpireGroupOffsets(_) => "ExpireGroupOffsets",
            Command::PlanJobs(_) => "PlanJobs",
            Command::RenewJobLeases(_) => "RenewJobLeases",
            Command::ExpireJobs(_) => "ExpireJobs",
            Command::AbandonJob(_) => "AbandonJob",
            Command::CommitJob(_) => "CommitJob",
            Command::CondemnOrphans(_) => "CondemnOrphans",
            Command::RenewBrokerLease(_) => "RenewBrokerLease",
            Command::CommitArchive(_) => "CommitArchive",
            Command::CommitJobOutputs(_) => "CommitJobOutputs",
            Command::AlterScramCredentials(_) => "AlterScramCredentials",
            Command::AlterBrokerConfigs(_) => "AlterBrokerConfigs",
            Command::CommitMerges(_) => "CommitMerges",
            Command::CreateAcls(_) => "CreateAcls",
            Command::DeleteAcls(_) => "DeleteAcls",
            Command::InitTxnProducer(_) => "InitTxnProducer",
            Command::AddPartitionsToTxn(_) => "AddPartitionsToTxn",
            Command::AddOffsetsToTxn(_) => "AddOffsetsToTxn",
            Command::TxnOffsetCommit(_) => "TxnOffsetCommit",
            Command::EndTxn(_) => "EndTxn",
            Command::ExpireTxns(_) => "ExpireTxns",
        }
    }
}

/// What applying a command returned, as it travels from the controller to the proposer. Each
/// command has exactly one variant; [`Proposal`](crate::Proposal) says which.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CommandResponse {
    /// Commands whose only answer is that they were applied, and Raft's own blank and
    /// membership entries.
    Done,
    /// One per `NewTopic`, same order.
    TopicsCreated(Vec<Result<TopicId, TopicError>>),
    /// One per topic id, same order.
    TopicsDeleted(Vec<Result<(), TopicError>>),
    /// One per `PartitionIncrease`, same order.
    PartitionsCreated(Vec<Result<(), TopicError>>),
    /// One per `TopicConfigChange`, same order.
    ConfigsAltered(Vec<Result<(), TopicError>>),
    ProducerId(Result<ProducerIdAndEpoch, ProducerError>),
    SegmentCommitted(SegmentCommitResult),
    /// One entry per `GroupOffsets`, each with one result per partition, same order.
    OffsetsCommitted(Vec<Vec<Result<(), GroupError>>>),
    /// One per group id, same order.
    GroupsDeleted(Vec<Result<(), GroupError>>),
    /// One entry per `GroupOffsetDeletion`, each with one result per partition, same order.
    OffsetsDeleted(Vec<Vec<Result<(), GroupError>>>),
    Heartbeat(HeartbeatAnswer),
    /// One per stored group, same order.
    GroupsStored(Vec<Result<(), GroupError>>),
    /// One per partition of `EnforceRetention` or `DeleteRecords`, same order.
    LogsTruncated(Vec<Result<Truncation, LogError>>),
    /// Offsets removed, one count per group of `ExpireGroupOffsets`, same order.
    OffsetsExpired(Vec<u32>),
    /// One per planned job, same order: the job's id.
    JobsPlanned(Vec<Result<u64, JobError>>),
    JobCommitted(Result<JobCommitted, JobError>),
    /// One per job id of `RenewJobLeases`: whether the job is still leased to that broker.
    LeasesRenewed(Vec<bool>),
    /// One per key of `CondemnOrphans`, same order: whether the key was unknown (so it is
    /// now marked collected and may be deleted).
    OrphansCondemned(Vec<bool>),
    ArchiveCommitted(Result<(), ArchiveCommitError>),
    /// One per change of `AlterScramCredentials`, same order.
    ScramCredentialsAltered(Vec<Result<(), UserError>>),
    BrokerConfigsAltered(Result<(), crate::broker_config::BrokerConfigError>),
    MergesCommitted(MergesCommitted),
    /// One per binding of `CreateAcls`, same order.
    AclsCreated(AclsCreated),
    /// One list of removed bindings per filter of `DeleteAcls`, same order.
    AclsDeleted(AclsDeleted),
    TxnProducerId(TxnInitAnswer),
    /// AddPartitionsToTxn, AddOffsetsToTxn and TxnOffsetCommit.
    TxnUpdated(Result<(), TxnError>),
    TxnEnded(Result<TxnEnded, TxnError>),
    TxnsExpired(TxnsExpired),
}

impl CommandResponse {
    /// The response's name, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            CommandResponse::Done => "Done",
            CommandResponse::TopicsCreated(_) => "TopicsCreated",
            CommandResponse::TopicsDeleted(_) => "TopicsDeleted",
            CommandResponse::PartitionsCreated(_) => "PartitionsCreated",
            CommandResponse::ConfigsAltered(_) => "ConfigsAltered",
            CommandResponse::ProducerId(_) => "ProducerId",
            CommandResponse::SegmentCommitted(_) => "SegmentCommitted",
            CommandResponse::OffsetsCommitted(_) => "OffsetsCommitted",
            CommandResponse::GroupsDeleted(_) => "GroupsDeleted",
            CommandResponse::OffsetsDeleted(_) => "OffsetsDeleted",
            CommandResponse::Heartbeat(_) => "Heartbeat",
            CommandResponse::GroupsStored(_) => "GroupsStored",
            CommandResponse::LogsTruncated(_) => "LogsTruncated",
            CommandResponse::OffsetsExpired(_) => "OffsetsExpired",
            CommandResponse::JobsPlanned(_) => "JobsPlanned",
            CommandResponse::JobCommitted(_) => "JobCommitted",
            CommandResponse::LeasesRenewed(_) => "LeasesRenewed",
            CommandResponse::OrphansCondemned(_) => "OrphansCondemned",
            CommandResponse::ArchiveCommitted(_) => "ArchiveCommitted",
            CommandResponse::ScramCredentialsAltered(_) => "ScramCredentialsAltered",
            CommandResponse::BrokerConfigsAltered(_) => "BrokerConfigsAltered",
            CommandResponse::MergesCommitted(_) => "MergesCommitted",
            CommandResponse::AclsCreated(_) => "AclsCreated",
            CommandResponse::AclsDeleted(_) => "AclsDeleted",
            CommandResponse::TxnProducerId(_) => "TxnProducerId",
            CommandResponse::TxnUpdated(_) => "TxnUpdated",
            CommandResponse::TxnEnded(_) => "TxnEnded",
            CommandResponse::TxnsExpired(_) => "TxnsExpired",
        }
    }
}
