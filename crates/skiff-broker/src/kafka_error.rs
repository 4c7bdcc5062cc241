//! The protocol edge: internal errors become Kafka error codes here and nowhere else.

use kafka_protocol::error::ResponseError;
use skiff_meta::{
    LimitError, LogError, ProduceError, ProducerError, ProposeError, TopicError, TxnError,
    UserError,
};

use crate::log_levels::LogLevelError;
use crate::produce::FlushFailure;
use crate::topics::LookupError;

pub const NONE: i16 = 0;

pub fn topic_error_code(error: &TopicError) -> i16 {
    match error {
        TopicError::AlreadyExists => ResponseError::TopicAlreadyExists,
        TopicError::UnknownTopic => ResponseError::UnknownTopicOrPartition,
        TopicError::InvalidName(_) => ResponseError::InvalidTopicException,
        TopicError::InvalidPartitions(_) => ResponseError::InvalidPartitions,
        TopicError::InvalidConfig(_) => ResponseError::InvalidConfig,
        TopicError::OverLimit(LimitError::TooManyTopicsInRequest { .. }) => {
            ResponseError::InvalidRequest
        }
        TopicError::OverLimit(LimitError::ClusterPartitions { .. }) => {
            ResponseError::PolicyViolation
        }
    }
    .code()
}

pub fn lookup_error_code(error: LookupError) -> i16 {
    match error {
        LookupError::UnknownName => ResponseError::UnknownTopicOrPartition,
        LookupError::InvalidName => ResponseError::InvalidTopicException,
        LookupError::UnknownId => ResponseError::UnknownTopicId,
    }
    .code()
}

pub fn produce_error_code(error: &ProduceError) -> i16 {
    match error {
        ProduceError::OutOfOrderSequence { .. } => ResponseError::OutOfOrderSequenceNumber,
        ProduceError::InvalidProducerEpoch { .. } => ResponseError::InvalidProducerEpoch,
        ProduceError::InvalidBatch(_) => ResponseError::InvalidRecord,
        ProduceError::InvalidTxnState => ResponseError::InvalidTxnState,
    }
    .code()
}

/// A BROKER_LOGGER change refused (IncrementalAlterConfigs), as Kafka answers each.
pub fn log_level_error_code(error: &LogLevelError) -> i16 {
    match error {
        LogLevelError::BadLoggerName(_) | LogLevelError::BadLevel { .. } => {
            ResponseError::InvalidConfig
        }
        LogLevelError::RootRemoved => ResponseError::InvalidRequest,
        LogLevelError::Reload(_) => ResponseError::UnknownServerError,
    }
    .code()
}

/// A log start offset that could not move (DeleteRecords).
pub fn log_error_code(error: &LogError) -> i16 {
    match error {
        LogError::UnknownTopicOrPartition => ResponseError::UnknownTopicOrPartition,
        LogError::OffsetOutOfRange { .. } => ResponseError::OffsetOutOfRange,
    }
    .code()
}

pub fn producer_error_code(error: &ProducerError) -> i16 {
    match error {
        ProducerError::InvalidProducerEpoch => ResponseError::InvalidProducerEpoch,
        ProducerError::UnknownProducerId | ProducerError::ProducerIdsExhausted => {
            ResponseError::UnknownProducerId
        }
    }
    .code()
}

/// A refused transactional call, as Kafka's transaction coordinator answers it. Requests older
/// than KIP-588 (`fenced_is_epoch`) learn of a fence as INVALID_PRODUCER_EPOCH, the only code
/// those clients know for it.
pub fn txn_error_code(error: &TxnError, fenced_is_epoch: bool) -> i16 {
    match error {
        // Kafka answers an unknown transactional id with the mapping error: the client's
        // producer id maps to nothing.
        TxnError::UnknownTransactionalId | TxnError::InvalidProducerIdMapping { .. } => {
            ResponseError::InvalidProducerIdMapping
        }
        TxnError::ProducerFenced { .. } if fenced_is_epoch => ResponseError::InvalidProducerEpoch,
        TxnError::ProducerFenced { .. } => ResponseError::ProducerFenced,
        TxnError::InvalidTxnState(_) | TxnError::GroupNotInTransaction(_) => {
            ResponseError::InvalidTxnState
        }
        TxnError::UnknownTopicOrPartition(_) => ResponseError::UnknownTopicOrPartition,
        TxnError::InvalidTransactionTimeout(_) => ResponseError::InvalidTransactionTimeout,
        TxnError::ProducerIdsExhausted => ResponseError::UnknownProducerId,
    }
    .code()
}

/// Every controller failure maps to a code clients retry on: the request may succeed once a
/// leader is back or the disk recovers.
pub fn propose_error_code(error: &ProposeError) -> i16 {
    match error {
        ProposeError::NotLeader { .. } | ProposeError::ShuttingDown => {
            ResponseError::NotLeaderOrFollower
        }
        ProposeError::Storage { .. } => ResponseError::KafkaStorageError,
        ProposeError::Unreachable { .. }
        | ProposeError::NoQuorum { .. }
        | ProposeError::BadRequest { .. }
        | ProposeError::UnexpectedAnswer { .. } => ResponseError::RequestTimedOut,
    }
    .code()
}

/// A segment that was not committed: each cause is retriable, so producers send again.
pub fn flush_failure_code(failure: &FlushFailure) -> i16 {
    match failure {
        FlushFailure::Upload(_) | FlushFailure::UploadTask(_) => {
            ResponseError::KafkaStorageError.code()
        }
        FlushFailure::Commit(e) => propose_error_code(e),
        FlushFailure::Abandoned => ResponseError::NotLeaderOrFollower.code(),
    }
}

/// A request for an API or version this broker does not serve.
pub fn user_error_code(error: &UserError) -> i16 {
    match error {
        UserError::NoCredential(_) => ResponseError::ResourceNotFound,
        UserError::InvalidUserName | UserError::Iterations(_) | UserError::MalformedCredential => {
            ResponseError::UnacceptableCredential
        }
    }
    .code()
}

pub fn unsupported_version_code() -> i16 {
    ResponseError::UnsupportedVersion.code()
}
