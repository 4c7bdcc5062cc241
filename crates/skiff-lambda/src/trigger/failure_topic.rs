//! `--on-failure-topic`: records that exhausted their retries are written there (key, value,
//! timestamp and headers as they were) with headers that say why, before their offsets are
//! committed.

use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rdkafka::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord};
use serde::Deserialize;

use super::partition::EncodedRecord;
use super::runtime::TokioRuntime;

/// Header names on records in the failure topic.
pub const HEADER_CONDITION: &str = "skiff-trigger-condition";
pub const HEADER_ERROR: &str = "skiff-trigger-error";
pub const HEADER_ATTEMPTS: &str = "skiff-trigger-attempts";
pub const HEADER_FUNCTION: &str = "skiff-trigger-function";
pub const HEADER_SOURCE_TOPIC: &str = "skiff-trigger-source-topic";
pub const HEADER_SOURCE_PARTITION: &str = "skiff-trigger-source-partition";
pub const HEADER_SOURCE_OFFSET: &str = "skiff-trigger-source-offset";

/// Longest error text a failure header carries.
const MAX_ERROR_HEADER_BYTES: usize = 4096;
/// How long librdkafka may take to deliver one failed record.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(60);

/// Why records left the normal path, named as Lambda names its discard conditions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    RetryAttemptsExhausted,
    RecordAgeExceeded,
}

impl Condition {
    pub fn as_str(self) -> &'static str {
        match self {
            Condition::RetryAttemptsExhausted => "RetryAttemptsExhausted",
            Condition::RecordAgeExceeded => "RecordAgeExceeded",
        }
    }
}

/// What the failure headers say about a set of records.
#[derive(Debug, Clone)]
pub struct Exhausted<'a> {
    pub condition: Condition,
    pub attempts: u32,
    /// The last error the function (or Lambda) gave; empty when the records were never tried.
    pub error: &'a str,
    pub function_name: &'a str,
    pub source_topic: &'a str,
    pub source_partition: i32,
}

/// Where exhausted records go; the trigger's tests put their own here.
pub trait FailureSink: Send + Sync + 'static {
    fn send(
        &self,
        records: &[EncodedRecord],
        why: &Exhausted<'_>,
    ) -> impl Future<Output = Result<(), FailureTopicError>> + Send;
    fn topic(&self) -> &str;
}

#[derive(Debug, thiserror::Error)]
pub enum FailureTopicError {
    #[error("cannot write to the on-failure topic {topic:?}: {source}")]
    Produce { topic: String, source: KafkaError },
    #[error("record {offset} cannot be read back for the on-failure topic: {reason}")]
    Decode { offset: i64, reason: String },
}

/// The on-failure topic on the trigger's cluster.
pub struct FailureTopic {
    producer: FutureProducer<rdkafka::client::DefaultClientContext, TokioRuntime>,
    topic: String,
}

impl FailureTopic {
    pub fn new(config: &ClientConfig, topic: &str) -> Result<FailureTopic, KafkaError> {
        let mut config = config.clone();
        config
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", "5")
            .set(
                "message.timeout.ms",
                DELIVERY_TIMEOUT.as_millis().to_string(),
            );
        Ok(FailureTopic {
            producer: config.create()?,
            topic: topic.to_owned(),
        })
    }
}

/// The parts of an encoded event record the failure topic needs back.
#[derive(Deserialize)]
struct StoredRecord {
    offset: i64,
    timestamp: i64,
    key: Option<String>,
    value: Option<String>,
    #[serde(default)]
    headers: Vec<BTreeMap<String, Vec<i8>>>,
}

impl FailureSink for FailureTopic {
    async fn send(
        &self,
        records: &[EncodedRecord],
        why: &Exhausted<'_>,
    ) -> Result<(), FailureTopicError> {
        let attempts = why.attempts.to_string();
        let partition = why.source_partition.to_string();
        let error = truncate(why.error, MAX_ERROR_HEADER_BYTES);
        let produce_error = |source| FailureTopicError::Produce {
            topic: self.topic.clone(),
            source,
        };
        let mut pending: VecDeque<DeliveryFuture> = VecDeque::with_capacity(records.len());
        for record in records {
            let stored: StoredRecord =
                serde_json::from_slice(&record.json).map_err(|e| FailureTopicError::Decode {
                    offset: record.offset,
                    reason: e.to_string(),
                })?;
            let decode = |text: Option<String>| {
                text.map(|t| STANDARD.decode(t)).transpose().map_err(|e| {
                    FailureTopicError::Decode {
                        offset: stored.offset,
                        reason: e.to_string(),
                    }
                })
            };
            let key = decode(stored.key.clone())?;
            let value = decode(stored.value.clone())?;
            let offset = stored.offset.to_string();
            let original: Vec<(String, Vec<u8>)> = stored
                .headers
                .iter()
                .flat_map(|h| {
                    h.iter()
                        .map(|(k, v)| (k.clone(), v.iter().map(|b| *b as u8).collect()))
                })
                .collect();
            let mut headers = OwnedHeaders::new_with_capacity(original.len() + 7);
            for (name, bytes) in &original {
                headers = headers.insert(Header {
                    key: name,
                    value: Some(bytes.as_slice()),
                });
            }
            for (name, text) in [
                (HEADER_CONDITION, why.condition.as_str()),
                (HEADER_ERROR, error),
                (HEADER_ATTEMPTS, &attempts),
                (HEADER_FUNCTION, why.function_name),
                (HEADER_SOURCE_TOPIC, why.source_topic),
                (HEADER_SOURCE_PARTITION, &partition),
                (HEADER_SOURCE_OFFSET, &offset),
            ] {
                headers = headers.insert(Header {
                    key: name,
                    value: Some(text.as_bytes()),
                });
            }
            let mut message: FutureRecord<'_, [u8], [u8]> =
                FutureRecord::to(&self.topic).headers(headers);
            if let Some(key) = &key {
                message = message.key(key.as_slice());
            }
            if let Some(value) = &value {
                message = message.payload(value.as_slice());
            }
            if stored.timestamp >= 0 {
                message = message.timestamp(stored.timestamp);
            }
            // Enqueue everything first and wait for the acknowledgements together; a full
            // local queue waits for the oldest delivery and tries again.
            loop {
                match self.producer.send_result(message) {
                    Ok(delivery) => {
                        pending.push_back(delivery);
                        break;
                    }
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back))
                        if !pending.is_empty() =>
                    {
                        message = back;
                        if let Some(oldest) = pending.pop_front() {
                            await_delivery(oldest).await.map_err(produce_error)?;
                        }
                    }
                    Err((e, _)) => return Err(produce_error(e)),
                }
            }
        }
        for delivery in pending {
            await_delivery(delivery).await.map_err(produce_error)?;
        }
        Ok(())
    }

    fn topic(&self) -> &str {
        &self.topic
    }
}

async fn await_delivery(delivery: DeliveryFuture) -> Result<(), KafkaError> {
    match delivery.await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err((e, _))) => Err(e),
        // librdkafka dropped the message without a report: only when the producer closes.
        Err(_) => Err(KafkaError::Canceled),
    }
}

fn truncate(text: &str, limit: usize) -> &str {
    if text.len() <= limit {
        return text;
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}
