use std::sync::Arc;

use bytes::Bytes;
use indexmap::IndexMap;
use kafka_protocol::protocol::StrBytes;

/// Record headers in order. (kafka-protocol keeps them in a map, so a repeated key keeps its
/// last value.)
pub type Headers = IndexMap<StrBytes, Option<Bytes>>;

/// A record to produce. `partition` and `timestamp` default to the partitioner's choice and
/// the current time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProducerRecord {
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
    pub headers: Headers,
    pub partition: Option<i32>,
    pub timestamp: Option<i64>,
}

impl ProducerRecord {
    /// Bytes the record adds to a batch before compression (close enough for batching).
    pub(crate) fn estimated_size(&self) -> usize {
        let headers: usize = self
            .headers
            .iter()
            .map(|(k, v)| k.len() + v.as_ref().map_or(0, Bytes::len) + 4)
            .sum();
        self.key.as_ref().map_or(0, Bytes::len)
            + self.value.as_ref().map_or(0, Bytes::len)
            + headers
            + 24
    }
}

/// A record read from a partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumedRecord {
    pub topic: Arc<str>,
    pub partition: i32,
    pub offset: i64,
    /// Milliseconds since the epoch: create time, or the broker's append time for topics with
    /// `message.timestamp.type=LogAppendTime`.
    pub timestamp: i64,
    pub log_append_time: bool,
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
    pub headers: Headers,
}
