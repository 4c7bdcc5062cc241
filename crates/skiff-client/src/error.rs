use crate::kafka_code::KafkaCode;

/// Everything a client call can fail with. Messages are one readable line naming the cause;
/// Kafka error codes become their names and plain words (see [`KafkaCode`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// No TCP connection could be made (refused, no route, DNS, or the connect timed out).
    #[error("broker unreachable at {addr} ({cause})")]
    Unreachable { addr: String, cause: String },

    #[error("the bootstrap list is empty; give at least one host:port")]
    NoBootstrap,

    #[error("{api} request to {addr} got no answer within {timeout_ms} ms")]
    Timeout {
        api: &'static str,
        addr: String,
        timeout_ms: u64,
    },

    #[error("connection to {addr} closed: {cause}")]
    ConnectionClosed { addr: String, cause: String },

    /// The broker and this client share no version of an API.
    #[error("the broker at {addr} does not support {api} in any version this client speaks")]
    UnsupportedApi { api: &'static str, addr: String },

    #[error("unknown topic {topic}")]
    UnknownTopic { topic: String },

    #[error("topic {topic} has no partition {partition} (it has {partitions})")]
    UnknownPartition {
        topic: String,
        partition: i32,
        partitions: usize,
    },

    #[error("partition {partition} of topic {topic} has no leader right now")]
    NoLeader { topic: String, partition: i32 },

    #[error("metadata names broker {broker_id}, but lists no address for it")]
    UnknownBroker { broker_id: i32 },

    /// A Kafka error code in a response, with what was being done and the broker's own words.
    #[error("{context}: {}", describe(*.code, .message.as_deref()))]
    Kafka {
        code: KafkaCode,
        context: String,
        message: Option<String>,
    },

    #[error("cannot encode the {api} request: {detail}")]
    Encode { api: &'static str, detail: String },

    #[error("cannot decode the {api} response from {addr}: {detail}")]
    Decode {
        api: &'static str,
        addr: String,
        detail: String,
    },

    #[error("corrupt records from {topic}-{partition} at offset {offset}: {detail}")]
    CorruptRecords {
        topic: String,
        partition: i32,
        offset: i64,
        detail: String,
    },

    #[error("{context}: the broker's answer leaves out what was asked for")]
    IncompleteResponse { context: String },

    #[error("{0}")]
    InvalidArgument(String),

    #[error("not a member of group {group} right now (joining or rebalancing)")]
    NotInGroup { group: String },

    #[error("the producer has been closed")]
    ProducerClosed,
}

fn describe(code: KafkaCode, message: Option<&str>) -> String {
    let description = code.description();
    match message.map(str::trim).filter(|m| !m.is_empty()) {
        // Brokers often restate the code; then their words alone say it best.
        Some(message) if restates(message, &description) => message.to_owned(),
        Some(message) => format!("{description} ({message})"),
        None => description,
    }
}

/// True when every word of `description` appears in `message` (ignoring case).
fn restates(message: &str, description: &str) -> bool {
    let message = message.to_lowercase();
    let words: Vec<&str> = message
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    description
        .split_whitespace()
        .all(|word| words.contains(&word))
}

impl ClientError {
    pub(crate) fn kafka(code: i16, context: impl Into<String>, message: Option<&str>) -> Self {
        ClientError::Kafka {
            code: KafkaCode(code),
            context: context.into(),
            message: message.map(str::to_owned),
        }
    }

    /// The Kafka error code, when the failure was one.
    pub fn kafka_code(&self) -> Option<KafkaCode> {
        match self {
            ClientError::Kafka { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// Failures after which fresh metadata may route the request somewhere that works:
    /// stale leaders and coordinators, a just-created topic not yet everywhere, lost connections.
    pub fn wants_metadata_refresh(&self) -> bool {
        match self {
            ClientError::Kafka { code, .. } => code.wants_metadata_refresh(),
            ClientError::ConnectionClosed { .. }
            | ClientError::Unreachable { .. }
            | ClientError::NoLeader { .. } => true,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafka_errors_read_as_one_line_with_the_brokers_words() {
        let e = ClientError::kafka(40, "cannot create topic orders", Some("unknown config foo"));
        assert_eq!(
            e.to_string(),
            "cannot create topic orders: invalid config (unknown config foo)"
        );
        let e = ClientError::kafka(
            36,
            "cannot create topic orders",
            Some("Topic orders already exists"),
        );
        assert_eq!(
            e.to_string(),
            "cannot create topic orders: Topic orders already exists"
        );
        let e = ClientError::kafka(36, "cannot create topic orders", None);
        assert_eq!(
            e.to_string(),
            "cannot create topic orders: topic already exists"
        );
    }

    #[test]
    fn unreachable_names_the_address() {
        let e = ClientError::Unreachable {
            addr: "127.0.0.1:9092".into(),
            cause: "connection refused".into(),
        };
        assert_eq!(
            e.to_string(),
            "broker unreachable at 127.0.0.1:9092 (connection refused)"
        );
    }
}
