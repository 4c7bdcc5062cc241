//! Typed proposals: every command payload names the answer applying it returns, so code that
//! proposes gets that type back and a wrong answer is a compile error at the call site. This is
//! the one place the wire form ([`CommandResponse`]) is read back into typed answers.

use crate::command::*;
use crate::error::ProposeError;
use crate::ids::TopicId;

/// A command payload and the answer its apply returns.
pub trait Proposal: Into<Command> {
    type Answer;

    /// How many items (and parts per item) the answer must have, read before the proposal is
    /// sent: batched commands answer one result per item.
    fn shape(&self) -> Shape {
        Shape::Any
    }

    /// The answer, when `response` is of this proposal's kind.
    fn answer(response: CommandResponse) -> Option<Self::Answer>;

    /// The shape of an answer, to compare with [`Proposal::shape`].
    fn shape_of(_answer: &Self::Answer) -> Shape {
        Shape::Any
    }
}

/// The size of a batched answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shape {
    /// Not a batched command.
    Any,
    Items(usize),
    /// Items, each with its own number of parts (offsets of several partitions per group).
    Nested(Vec<usize>),
}

/// Reads `response` as the answer to a proposal of type `P` whose [`Proposal::shape`] was
/// `shape` and whose command was `command`.
pub fn read_answer<P: Proposal>(
    command: &'static str,
    shape: &Shape,
    response: CommandResponse,
) -> Result<P::Answer, ProposeError> {
    let kind = response.kind();
    let mismatch = || ProposeError::UnexpectedAnswer {
        command: command.to_string(),
        answer: kind.to_string(),
    };
    let answer = P::answer(response).ok_or_else(mismatch)?;
    if *shape != Shape::Any && P::shape_of(&answer) != *shape {
        return Err(mismatch());
    }
    Ok(answer)
}

/// A proposal answered with `Done`.
macro_rules! done_proposal {
    ($($payload:ident),* $(,)?) => {$(
        impl From<$payload> for Command {
            fn from(payload: $payload) -> Command {
                Command::$payload(payload)
            }
        }

        impl Proposal for $payload {
            type Answer = ();

            fn answer(response: CommandResponse) -> Option<()> {
                matches!(response, CommandResponse::Done).then_some(())
            }
        }
    )*};
}

/// A batched proposal (a newtype over its items) answered with one result per item.
macro_rules! batched_proposal {
    ($($payload:ident => $response:ident($answer:ty)),* $(,)?) => {$(
        impl From<$payload> for Command {
            fn from(payload: $payload) -> Command {
                Command::$payload(payload)
            }
        }

        impl Proposal for $payload {
            type Answer = $answer;

            fn shape(&self) -> Shape {
                Shape::Items(self.0.len())
            }

            fn answer(response: CommandResponse) -> Option<$answer> {
                match response {
                    CommandResponse::$response(answer) => Some(answer),
                    _ => None,
                }
            }

            fn shape_of(answer: &$answer) -> Shape {
                Shape::Items(answer.len())
            }
        }
    )*};
}

/// A proposal whose items are one field of the payload, answered with one result per item.
macro_rules! field_batched_proposal {
    ($($payload:ident . $field:ident => $response:ident($answer:ty)),* $(,)?) => {$(
        impl From<$payload> for Command {
            fn from(payload: $payload) -> Command {
                Command::$payload(payload)
            }
        }

        impl Proposal for $payload {
            type Answer = $answer;

            fn shape(&self) -> Shape {
                Shape::Items(self.$field.len())
            }

            fn answer(response: CommandResponse) -> Option<$answer> {
                match response {
                    CommandResponse::$response(answer) => Some(answer),
                    _ => None,
                }
            }

            fn shape_of(answer: &$answer) -> Shape {
                Shape::Items(answer.len())
            }
        }
    )*};
}

done_proposal!(
    InitCluster,
    RegisterBroker,
    ExpireBroker,
    UnregisterBroker,
    ForgetObjects,
    StoreGroups,
    SetLogDefaults,
    ExpireJobs,
    AbandonJob,
);

impl From<CommitArchive> for Command {
    fn from(payload: CommitArchive) -> Command {
        Command::CommitArchive(payload)
    }
}

impl Proposal for CommitArchive {
    type Answer = Result<(), ArchiveCommitError>;

    fn answer(response: CommandResponse) -> Option<Self::Answer> {
        match response {
            CommandResponse::ArchiveCommitted(answer) => Some(answer),
            _ => None,
        }
    }
}

impl From<CommitMerges> for Command {
    fn from(payload: CommitMerges) -> Command {
        Command::CommitMerges(payload)
    }
}

impl Proposal for CommitMerges {
    type Answer = MergesCommitted;

    fn shape(&self) -> Shape {
        Shape::Items(self.merges.len())
    }

    fn answer(response: CommandResponse) -> Option<Self::Answer> {
        match response {
            CommandResponse::MergesCommitted(answer) => Some(answer),
            _ => None,
        }
    }

    fn shape_of(answer: &Self::Answer) -> Shape {
        Shape::Items(answer.merges.len())
    }
}

batched_proposal!(
    CreateAcls => AclsCreated(AclsCreated),
    DeleteAcls => AclsDeleted(AclsDeleted),
);

field_batched_proposal!(
    EnforceRetention.partitions => LogsTruncated(Vec<Result<Truncation, LogError>>),
    DeleteRecords.partitions => LogsTruncated(Vec<Result<Truncation, LogError>>),
    ExpireGroupOffsets.groups => OffsetsExpired(Vec<u32>),
    PlanJobs.jobs => JobsPlanned(Vec<Result<u64, JobError>>),
    RenewJobLeases.job_ids => LeasesRenewed(Vec<bool>),
    CondemnOrphans.keys => OrphansCondemned(Vec<bool>),
    AlterScramCredentials.changes => ScramCredentialsAltered(Vec<Result<(), UserError>>),
);

impl From<AlterBrokerConfigs> for Command {
    fn from(payload: AlterBrokerConfigs) -> Command {
        Command::AlterBrokerConfigs(payload)
    }
}

impl Proposal for AlterBrokerConfigs {
    type Answer = Result<(), crate::broker_config::BrokerConfigError>;

    fn answer(response: CommandResponse) -> Option<Self::Answer> {
        match response {
            CommandResponse::BrokerConfigsAltered(answer) => Some(answer),
            _ => None,
        }
    }
}

impl From<CommitJob> for Command {
    fn from(payload: CommitJob) -> Command {
        Command::CommitJob(payload)
    }
}

impl Proposal for CommitJob {
    type Answer = Result<JobCommitted, JobError>;

    fn answer(response: CommandResponse) -> Option<Self::Answer> {
        match response {
            CommandResponse::JobCommitted(answer) => Some(answer),
            _ => None,
        }
    }
}

impl From<CommitJobOutputs> for Command {
    fn from(payload: CommitJobOutputs) -> Command {
        Command::CommitJobOutputs(payload)
    }
}

impl Proposal for CommitJobOutputs {
    type Answer = Result<JobCommitted, JobError>;

    fn answer(response: CommandResponse) -> Option<Self::Answer> {
        match response {
            CommandResponse::JobCommitted(answer) => Some(answer),
            _ => None,
        }
    }
}

batched_proposal!(
    CreateTopics => TopicsCreated(Vec<Result<TopicId, TopicError>>),
    DeleteTopics => TopicsDeleted(Vec<Result<(), TopicError>>),
    CreatePartitions => PartitionsCreated(Vec<Result<(), TopicError>>),
    AlterTopicConfigs => ConfigsAltered(Vec<Result<(), TopicError>>),
    DeleteGroups => GroupsDeleted(Vec<Result<(), GroupError>>),
);

impl From<InitProducerId> for Command {
    fn from(payload: InitProducerId) -> Command {
        Command::InitProducerId(payload)
    }
}

impl Proposal for InitProducerId {
    type Answer = Result<ProducerIdAndEpoch, ProducerError>;

    fn answer(response: CommandResponse) -> Option<Self::Answer> {
        match response {
            CommandResponse::ProducerId(answer) => Some(answer),
            _ => None,
        }
    }
}

impl From<SegmentCommit> for Command {
    fn from(payload: SegmentCommit) -> Command {
        Command::CommitSegment(payload)
    }
}

impl Proposal for SegmentCommit {
    type Answer = SegmentCommitResult;

    fn shape(&self) -> Shape {
        Shape::Items(self.chunks.len())
    }

    fn answer(response: CommandResponse) -> Option<Self::Answer> {
        match response {
            CommandResponse::SegmentCommitted(answer) => Some(answer),
            _ => None,
        }
    }

    fn shape_of(answer: &Self::Answer) -> Shape {
        Shape::Items(answer.chunks.len())
    }
}

impl From<BrokerHeartbeat> for Command {
    fn from(payload: BrokerHeartbeat) -> Command {
        Command::BrokerHeartbeat(payload)
    }
}

impl Proposal for BrokerHeartbeat {
    type Answer = HeartbeatAnswer;

    fn answer(response: CommandResponse) -> Option<Self::Answer> {
        match response {
            CommandResponse::Heartbeat(answer) => Some(answer),
            _ => None,
        }
    }
}

impl From<RenewBrokerLease> for Command {
    fn from(payload: RenewBrokerLease) -> Command {
        Command::RenewBrokerLease(payload)
    }
}

impl Proposal for RenewBrokerLease {
    type Answer = HeartbeatAnswer;

    fn answer(response: CommandResponse) -> Option<Self::Answer> {
        match response {
            CommandResponse::Heartbeat(answer) => Some(answer),
            _ => None,
        }
    }
}

/// Offsets answered one result per partition of each group.
fn nested<T>(answer: &[Vec<T>]) -> Shape {
    Shape::Nested(answer.iter().map(Vec::len).collect())
}

fn offsets_answer(response: CommandResponse) -> Option<Vec<Vec<Result<(), GroupError>>>> {
    match response {
        CommandResponse::OffsetsCommitted(answer) => Some(answer),
        _ => None,
    }
}

impl From<CommitOffsetsAsCoordinator> for Command {
    fn from(payload: CommitOffsetsAsCoordinator) -> Command {
        Command::CommitOffsetsAsCoordinator(payload)
    }
}

impl Proposal for CommitOffsetsAsCoordinator {
    type Answer = Vec<Vec<Result<(), GroupError>>>;

    fn shape(&self) -> Shape {
        Shape::Nested(self.commits.iter().map(|c| c.partitions.len()).collect())
    }

    fn answer(response: CommandResponse) -> Option<Self::Answer> {
        offsets_answer(response)
    }

    fn shape_of(answer: &Self::Answer) -> Shape {
        nested(answer)
    }
}

impl From<CommitOffsets> for Command {
    fn from(payload: CommitOffsets) -> Command {
        Command::CommitOffsets(payload)
    }
}

impl Proposal for CommitOffsets {
    type Answer = Vec<Vec<Result<(), GroupError>>>;

    fn shape(&self) -> Shape {
        Shape::Nested(self.0.iter().map(|c| c.partitions.len()).collect())
    }

    fn answer(response: CommandResponse) -> Option<Self::Answer> {
        offsets_answer(response)
    }

    fn shape_of(answer: &Self::Answer) -> Shape {
        nested(answer)
    }
}

impl From<DeleteOffsets> for Command {
    fn from(payload: DeleteOffsets) -> Command {
        Command::DeleteOffsets(payload)
    }
}

impl Proposal for DeleteOffsets {
    type Answer = Vec<Vec<Result<(), GroupError>>>;

    fn shape(&self) -> Shape {
        Shape::Nested(self.0.iter().map(|d| d.partitions.len()).collect())
    }

    fn answer(response: CommandResponse) -> Option<Self::Answer> {
        match response {
            CommandResponse::OffsetsDeleted(answer) => Some(answer),
            _ => None,
        }
    }

    fn shape_of(answer: &Self::Answer) -> Shape {
        nested(answer)
    }
}

impl From<CommitOffsetsFenced> for Command {
    fn from(payload: CommitOffsetsFenced) -> Command {
        Command::CommitOffsetsFenced(payload)
    }
}

impl Proposal for CommitOffsetsFenced {
    type Answer = Vec<Vec<Result<(), GroupError>>>;

    fn shape(&self) -> Shape {
        Shape::Nested(
            self.commits
                .iter()
                .map(|c| c.offsets.partitions.len())
                .collect(),
        )
    }

    fn answer(response: CommandResponse) -> Option<Self::Answer> {
        offsets_answer(response)
    }

    fn shape_of(answer: &Self::Answer) -> Shape {
        nested(answer)
    }
}

impl From<StoreGroupsFenced> for Command {
    fn from(payload: StoreGroupsFenced) -> Command {
        Command::StoreGroupsFenced(payload)
    }
}

impl Proposal for StoreGroupsFenced {
    type Answer = Vec<Result<(), GroupError>>;

    fn shape(&self) -> Shape {
        Shape::Items(self.groups.len())
    }

    fn answer(response: CommandResponse) -> Option<Self::Answer> {
        match response {
            CommandResponse::GroupsStored(answer) => Some(answer),
            _ => None,
        }
    }

    fn shape_of(answer: &Self::Answer) -> Shape {
        Shape::Items(answer.len())
    }
}

impl From<StoreGroupsAsCoordinator> for Command {
    fn from(payload: StoreGroupsAsCoordinator) -> Command {
        Command::StoreGroupsAsCoordinator(payload)
    }
}

impl Proposal for StoreGroupsAsCoordinator {
    type Answer = Vec<Result<(), GroupError>>;

    fn shape(&self) -> Shape {
        Shape::Items(self.groups.len())
    }

    fn answer(response: CommandResponse) -> Option<Self::Answer> {
        match response {
            CommandResponse::GroupsStored(answer) => Some(answer),
            _ => None,
        }
    }

    fn shape_of(answer: &Self::Answer) -> Shape {
        Shape::Items(answer.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_of_another_kind_is_an_error_naming_both() {
        let err =
            read_answer::<CreateTopics>("CreateTopics", &Shape::Items(1), CommandResponse::Done)
                .expect_err("a mismatch");
        assert_eq!(
            err,
            ProposeError::UnexpectedAnswer {
                command: "CreateTopics".into(),
                answer: "Done".into()
            }
        );
        assert_eq!(
            err.to_string(),
            "the controller answered CreateTopics with Done"
        );
    }

    #[test]
    fn a_batched_answer_must_have_one_result_per_item() {
        let proposal = DeleteGroups(vec!["a".into(), "b".into()]);
        let shape = proposal.shape();
        let short = CommandResponse::GroupsDeleted(vec![Ok(())]);
        assert!(read_answer::<DeleteGroups>("DeleteGroups", &shape, short).is_err());
        let right = CommandResponse::GroupsDeleted(vec![Ok(()), Err(GroupError::UnknownGroup)]);
        assert_eq!(
            read_answer::<DeleteGroups>("DeleteGroups", &shape, right),
            Ok(vec![Ok(()), Err(GroupError::UnknownGroup)])
        );
    }

    #[test]
    fn nested_answers_are_checked_per_item() {
        let proposal = DeleteOffsets(vec![GroupOffsetDeletion {
            group_id: "g".into(),
            partitions: vec![(TopicId::nil(), 0), (TopicId::nil(), 1)],
        }]);
        let shape = proposal.shape();
        let one_part = CommandResponse::OffsetsDeleted(vec![vec![Ok(())]]);
        assert!(read_answer::<DeleteOffsets>("DeleteOffsets", &shape, one_part).is_err());
        let both = CommandResponse::OffsetsDeleted(vec![vec![Ok(()), Ok(())]]);
        assert!(read_answer::<DeleteOffsets>("DeleteOffsets", &shape, both).is_ok());
    }
}

/// A proposal answered by one `CommandResponse` variant holding its whole answer.
macro_rules! single_proposal {
    ($($payload:ident => $response:ident($answer:ty)),* $(,)?) => {$(
        impl From<$payload> for Command {
            fn from(payload: $payload) -> Command {
                Command::$payload(payload)
            }
        }

        impl Proposal for $payload {
            type Answer = $answer;

            fn answer(response: CommandResponse) -> Option<$answer> {
                match response {
                    CommandResponse::$response(answer) => Some(answer),
                    _ => None,
                }
            }
        }
    )*};
}

single_proposal!(
    InitTxnProducer => TxnProducerId(TxnInitAnswer),
    AddPartitionsToTxn => TxnUpdated(Result<(), TxnError>),
    AddOffsetsToTxn => TxnUpdated(Result<(), TxnError>),
    TxnOffsetCommit => TxnUpdated(Result<(), TxnError>),
    EndTxn => TxnEnded(Result<TxnEnded, TxnError>),
    ExpireTxns => TxnsExpired(TxnsExpired),
);
