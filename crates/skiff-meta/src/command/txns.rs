//! The transaction coordinator (Kafka's transactions): one proposal per transactional API call.
//! These are admin-rate calls; the produce hot path only reads the state they leave (see
//! `state/segment.rs`).

use serde::{Deserialize, Serialize};

use crate::command::{GroupOffsets, ProducerIdAndEpoch};
use crate::ids::TopicId;

/// InitProducerId with a transactional id: the first call allocates a producer id (epoch 0);
/// later calls bump the epoch, which fences every older instance of the producer, and abort
/// the transaction the old epoch left open (its markers carry the new epoch).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InitTxnProducer {
    pub transactional_id: String,
    /// `transaction.timeout.ms`; the proposer checks it against its maximum.
    pub timeout_ms: i32,
    /// KIP-360: the producer id and epoch the producer holds when it recovers from an
    /// abortable error; `None` for a fresh start.
    pub current: Option<(i64, i16)>,
    pub now_ms: i64,
}

/// The producer a transactional call comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxnProducer {
    pub transactional_id: String,
    pub producer_id: i64,
    pub epoch: i16,
}

/// AddPartitionsToTxn: the partitions the producer will write in its transaction (the first
/// call starts the transaction). All or nothing: one unknown partition adds none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddPartitionsToTxn {
    pub producer: TxnProducer,
    pub partitions: Vec<(TopicId, u32)>,
    pub now_ms: i64,
}

/// AddOffsetsToTxn: the transaction will commit offsets of this group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddOffsetsToTxn {
    pub producer: TxnProducer,
    pub group_id: String,
    pub now_ms: i64,
}

/// TxnOffsetCommit: offsets held pending in the transaction, applied to the group only when
/// the transaction commits. The proposer has checked the group generation (KIP-447).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxnOffsetCommit {
    pub producer: TxnProducer,
    pub offsets: GroupOffsets,
}

/// EndTxn: commits or aborts the ongoing transaction, writing one COMMIT or ABORT marker at
/// the next offset of every partition in it, in this one apply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndTxn {
    pub producer: TxnProducer,
    pub commit: bool,
    pub now_ms: i64,
}

/// Proposed by the controller's leader on a timer: aborts (with an epoch bump, fencing the
/// producer) up to `max_aborts` transactions open past their timeout at `now_ms`, and forgets
/// up to as many transactional ids idle (no transaction open) for `id_expiration_ms`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpireTxns {
    pub now_ms: i64,
    pub id_expiration_ms: i64,
    pub max_aborts: u32,
}

/// What EndTxn wrote: each partition's marker offset, in the transaction's partition order.
/// Partitions deleted meanwhile get none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxnEnded {
    pub markers: Vec<(TopicId, u32, i64)>,
}

/// What ExpireTxns did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxnsExpired {
    pub aborted: Vec<String>,
    pub forgotten: Vec<String>,
}

/// Where a transactional id's current transaction is. Kafka's Prepare states are not needed:
/// one apply ends a transaction, markers included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TxnStatus {
    /// No transaction since InitProducerId.
    Empty,
    Ongoing,
    CompleteCommit,
    CompleteAbort,
}

impl TxnStatus {
    /// Kafka's name for the state (DescribeTransactions, ListTransactions).
    pub fn kafka_name(self) -> &'static str {
        match self {
            TxnStatus::Empty => "Empty",
            TxnStatus::Ongoing => "Ongoing",
            TxnStatus::CompleteCommit => "CompleteCommit",
            TxnStatus::CompleteAbort => "CompleteAbort",
        }
    }
}

impl std::fmt::Display for TxnStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.kafka_name())
    }
}

pub type TxnInitAnswer = Result<ProducerIdAndEpoch, TxnError>;

/// Why a transactional call was refused; mapped to Kafka's codes at the broker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum TxnError {
    #[error("the transactional id is not known (no InitProducerId yet, or it expired)")]
    UnknownTransactionalId,
    #[error("the producer id {got} does not belong to this transactional id (it has {current})")]
    InvalidProducerIdMapping { current: i64, got: i64 },
    #[error("producer epoch {got} was fenced by a newer instance (epoch {current})")]
    ProducerFenced { current: i16, got: i16 },
    #[error("the transaction is {0}, which does not allow this call")]
    InvalidTxnState(TxnStatus),
    #[error("the group {0} was not added to the transaction (AddOffsetsToTxn)")]
    GroupNotInTransaction(String),
    #[error("unknown topic or partition in the transaction request")]
    UnknownTopicOrPartition(Vec<(TopicId, u32)>),
    #[error("transaction timeout {0} ms is not positive")]
    InvalidTransactionTimeout(i32),
    #[error("producer ids are exhausted")]
    ProducerIdsExhausted,
}
