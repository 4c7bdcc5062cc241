//! Kafka error codes as names and plain words, for one-line messages.

use std::fmt;

use kafka_protocol::error::ResponseError;

/// A non-zero Kafka error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KafkaCode(pub i16);

pub(crate) const OFFSET_OUT_OF_RANGE: i16 = 1;
pub(crate) const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
pub(crate) const LEADER_NOT_AVAILABLE: i16 = 5;
pub(crate) const NOT_LEADER_OR_FOLLOWER: i16 = 6;
pub(crate) const COORDINATOR_LOAD_IN_PROGRESS: i16 = 14;
pub(crate) const COORDINATOR_NOT_AVAILABLE: i16 = 15;
pub(crate) const NOT_COORDINATOR: i16 = 16;
pub(crate) const UNSUPPORTED_VERSION: i16 = 35;
pub(crate) const NOT_CONTROLLER: i16 = 41;
pub(crate) const UNKNOWN_TOPIC_ID: i16 = 100;
pub(crate) const FENCED_LEADER_EPOCH: i16 = 74;
pub(crate) const UNKNOWN_LEADER_EPOCH: i16 = 75;

impl KafkaCode {
    pub const ILLEGAL_GENERATION: KafkaCode = KafkaCode(22);
    pub const UNKNOWN_MEMBER_ID: KafkaCode = KafkaCode(25);
    pub const REBALANCE_IN_PROGRESS: KafkaCode = KafkaCode(27);
    pub const NON_EMPTY_GROUP: KafkaCode = KafkaCode(68);
    pub const GROUP_ID_NOT_FOUND: KafkaCode = KafkaCode(69);
    pub const MEMBER_ID_REQUIRED: KafkaCode = KafkaCode(79);
    pub const FENCED_INSTANCE_ID: KafkaCode = KafkaCode(82);

    /// Whether a group member that got this answer must join its group again (its generation
    /// or membership is over).
    pub fn needs_rejoin(self) -> bool {
        matches!(
            self,
            KafkaCode::ILLEGAL_GENERATION
                | KafkaCode::UNKNOWN_MEMBER_ID
                | KafkaCode::REBALANCE_IN_PROGRESS
                | KafkaCode::FENCED_INSTANCE_ID
        )
    }

    /// Kafka's name for the code, e.g. `UNKNOWN_TOPIC_OR_PARTITION`.
    pub fn name(self) -> String {
        match ResponseError::try_from_code(self.0) {
            Some(ResponseError::Unknown(_)) | None => format!("ERROR_{}", self.0),
            Some(known) => screaming_snake(&format!("{known:?}")),
        }
    }

    /// Plain words for the code, e.g. "unknown topic or partition".
    pub fn description(self) -> String {
        let words = match self.0 {
            -1 => "the broker hit an unexpected error",
            1 => "offset out of range",
            2 => "corrupt message",
            3 => "unknown topic or partition",
            5 => "partition has no leader right now",
            6 => "broker is not the partition leader",
            7 => "request timed out on the broker",
            10 => "message too large for the broker",
            14 => "group coordinator is still loading",
            15 => "group coordinator not available",
            16 => "broker is not the group coordinator",
            17 => "invalid topic name",
            18 => "record list too large",
            19 => "not enough in-sync replicas",
            22 => "illegal generation",
            24 => "invalid group id",
            25 => "unknown member id",
            27 => "rebalance in progress",
            29 => "topic authorization failed",
            30 => "group authorization failed",
            31 => "cluster authorization failed",
            35 => "unsupported version",
            36 => "topic already exists",
            37 => "invalid number of partitions",
            38 => "invalid replication factor",
            40 => "invalid config",
            41 => "broker is not the controller",
            42 => "invalid request",
            44 => "policy violation",
            56 => "the broker's storage failed",
            58 => "SASL authentication failed",
            68 => "group is not empty",
            69 => "group id not found",
            79 => "the member needs a member id from the coordinator first",
            81 => "the group has reached its maximum size",
            82 => "another consumer took over this group.instance.id",
            73 => "topic deletion is disabled",
            87 => "invalid record",
            100 => "unknown topic id",
            _ => return self.name().to_ascii_lowercase().replace('_', " "),
        };
        words.to_owned()
    }

    /// Whether retrying after a metadata refresh can succeed.
    pub fn wants_metadata_refresh(self) -> bool {
        matches!(
            self.0,
            UNKNOWN_TOPIC_OR_PARTITION
                | LEADER_NOT_AVAILABLE
                | NOT_LEADER_OR_FOLLOWER
                | COORDINATOR_LOAD_IN_PROGRESS
                | COORDINATOR_NOT_AVAILABLE
                | NOT_COORDINATOR
                | NOT_CONTROLLER
                | UNKNOWN_TOPIC_ID
                | FENCED_LEADER_EPOCH
                | UNKNOWN_LEADER_EPOCH
        )
    }

    /// Kafka's own view of whether the error is transient.
    pub fn is_retriable(self) -> bool {
        ResponseError::try_from_code(self.0).is_some_and(|e| e.is_retriable())
    }
}

impl fmt::Display for KafkaCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// `UnknownTopicOrPartition` → `UNKNOWN_TOPIC_OR_PARTITION`.
fn screaming_snake(camel: &str) -> String {
    let mut out = String::with_capacity(camel.len() + 8);
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_have_kafkas_names() {
        assert_eq!(KafkaCode(3).name(), "UNKNOWN_TOPIC_OR_PARTITION");
        assert_eq!(KafkaCode(36).name(), "TOPIC_ALREADY_EXISTS");
        assert_eq!(KafkaCode(-1).name(), "UNKNOWN_SERVER_ERROR");
        assert_eq!(KafkaCode(30000).name(), "ERROR_30000");
    }

    #[test]
    fn codes_without_own_words_fall_back_to_their_name() {
        assert_eq!(KafkaCode(3).description(), "unknown topic or partition");
        assert_eq!(KafkaCode(39).description(), "invalid replica assignment");
        assert_eq!(KafkaCode(30000).description(), "error 30000");
    }

    #[test]
    fn routing_errors_ask_for_fresh_metadata() {
        assert!(KafkaCode(NOT_LEADER_OR_FOLLOWER).wants_metadata_refresh());
        assert!(KafkaCode(NOT_COORDINATOR).wants_metadata_refresh());
        assert!(!KafkaCode(36).wants_metadata_refresh());
    }
}
