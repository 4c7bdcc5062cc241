//! The protocol edge: internal errors become Kafka error codes here and nowhere else.

use kafka_protocol::error::ResponseError;
use skiff_controller::{ControllerError, ProduceError, TopicError};

pub fn topic_error_code(error: &TopicError) -> i16 {
    match error {
        TopicError::AlreadyExists => ResponseError::TopicAlreadyExists,
        TopicError::UnknownTopic => ResponseError::UnknownTopicOrPartition,
        TopicError::InvalidName(_) => ResponseError::InvalidTopicException,
        TopicError::InvalidPartitions(_) => ResponseError::InvalidPartitions,
        TopicError::InvalidConfig(_) => ResponseError::InvalidConfig,
    }
    .code()
}

pub fn produce_error_code(error: &ProduceError) -> i16 {
    match error {
        ProduceError::OutOfOrderSequence { .. } => ResponseError::OutOfOrderSequenceNumber,
        ProduceError::InvalidProducerEpoch { .. } => ResponseError::InvalidProducerEpoch,
        ProduceError::InvalidBatch(_) => ResponseError::InvalidRecord,
    }
    .code()
}

/// Every controller failure maps to a code clients retry on: the request may succeed once a
/// leader is back or the disk recovers.
pub fn controller_error_code(error: &ControllerError) -> i16 {
    match error {
        ControllerError::NotLeader { .. } | ControllerError::ShuttingDown => {
            ResponseError::NotLeaderOrFollower
        }
        ControllerError::Storage(_) => ResponseError::KafkaStorageError,
        _ => ResponseError::RequestTimedOut,
    }
    .code()
}

pub const NONE: i16 = 0;
