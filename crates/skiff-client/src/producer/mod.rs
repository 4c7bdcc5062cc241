//! A batching producer: records are grouped per partition (up to `batch_bytes`, waiting up to
//! `linger`), encoded as RecordBatch v2 with kafka-protocol's encoder and the chosen codec,
//! and sent to partition leaders by a sender task, one request per broker at a time so each
//! partition's records stay in order. Each `send` returns a future for that record's result.

pub(crate) mod accumulator;
pub(crate) mod encode;
pub mod partitioner;
pub(crate) mod sender;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use kafka_protocol::records::{Record, TimestampType};
use parking_lot::Mutex;
use skiff_records::Compression;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use self::accumulator::{Accumulator, BatchShared, OpenBatch};
use self::partitioner::{RoundRobin, partition_for_key};
use crate::client::KafkaClient;
use crate::error::ClientError;
use crate::record::ProducerRecord;

/// How many brokers must have a batch before it counts as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acks {
    /// Fire and forget: no response; offsets are unknown (-1).
    None,
    Leader,
    All,
}

impl Acks {
    pub(crate) fn wire(self) -> i16 {
        match self {
            Acks::None => 0,
            Acks::Leader => 1,
            Acks::All => -1,
        }
    }
}

#[derive(Debug, Clone)]
pub struct ProducerConfig {
    pub acks: Acks,
    pub compression: Compression,
    /// How long a batch waits for more records before it is sent.
    pub linger: Duration,
    /// A batch is sent once its records reach this many bytes (before compression).
    pub batch_bytes: usize,
    /// Bytes held in unsent and unanswered batches; `send` waits beyond it.
    pub max_buffered_bytes: usize,
    /// The broker's limit for satisfying `acks` (Produce `timeout_ms`).
    pub ack_timeout: Duration,
}

impl Default for ProducerConfig {
    fn default() -> Self {
        ProducerConfig {
            acks: Acks::All,
            compression: Compression::None,
            linger: Duration::from_millis(5),
            // Under the brokers' default max.message.bytes (1 MiB) even with record overhead.
            batch_bytes: 512 * 1024,
            max_buffered_bytes: 32 * 1024 * 1024,
            ack_timeout: Duration::from_secs(30),
        }
    }
}

/// Where a record landed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordMetadata {
    pub topic: Arc<str>,
    pub partition: i32,
    /// -1 with acks=0.
    pub offset: i64,
    pub timestamp: i64,
}

/// One record's delivery result.
pub struct DeliveryFuture {
    batch: Arc<BatchShared>,
    index: i64,
    timestamp: i64,
}

impl DeliveryFuture {
    pub fn partition(&self) -> i32 {
        self.batch.partition
    }

    /// The result, if the batch has been answered already.
    pub fn try_result(&self) -> Option<Result<RecordMetadata, ClientError>> {
        self.batch.outcome().cloned().map(|o| self.metadata(o))
    }

    pub async fn wait(self) -> Result<RecordMetadata, ClientError> {
        let outcome = self.batch.wait().await;
        self.metadata(outcome)
    }

    fn metadata(
        &self,
        outcome: Result<accumulator::BatchAck, ClientError>,
    ) -> Result<RecordMetadata, ClientError> {
        let ack = outcome?;
        Ok(RecordMetadata {
            topic: self.batch.topic.clone(),
            partition: self.batch.partition,
            offset: if ack.base_offset < 0 {
                -1
            } else {
                ack.base_offset + self.index
            },
            timestamp: if ack.log_append_time >= 0 {
                ack.log_append_time
            } else {
                self.timestamp
            },
        })
    }
}

/// Shared between the handle and the sender task.
pub(crate) struct ProducerShared {
    pub client: KafkaClient,
    pub config: ProducerConfig,
    pub accumulator: Mutex<Accumulator>,
    /// Wakes the sender: a batch was sealed, a linger started, a flush was asked for.
    pub wake: Notify,
    /// Wakes senders blocked on `max_buffered_bytes`, and flushers when batches finish.
    pub progress: Notify,
}

pub struct Producer {
    shared: Arc<ProducerShared>,
    partition_counts: HashMap<String, u32>,
    round_robin: RoundRobin,
    closed: watch::Sender<bool>,
    sender: JoinHandle<()>,
}

impl Producer {
    pub fn new(client: KafkaClient, config: ProducerConfig) -> Self {
        let shared = Arc::new(ProducerShared {
            client,
            config,
            accumulator: Mutex::new(Accumulator::default()),
            wake: Notify::new(),
            progress: Notify::new(),
        });
        let (closed, _) = watch::channel(false);
        let sender = tokio::spawn(sender::run(shared.clone()));
        Producer {
            shared,
            partition_counts: HashMap::new(),
            round_robin: RoundRobin::default(),
            closed,
            sender,
        }
    }

    /// Queues a record; waits while `max_buffered_bytes` are in flight. The returned future
    /// resolves once the broker answered for the record's batch.
    pub async fn send(
        &mut self,
        topic: &str,
        record: ProducerRecord,
    ) -> Result<DeliveryFuture, ClientError> {
        let partitions = self.partition_count(topic).await?;
        let partition = match (record.partition, &record.key) {
            (Some(p), _) if p >= 0 && (p as u32) < partitions => p,
            (Some(p), _) => {
                return Err(ClientError::UnknownPartition {
                    topic: topic.to_owned(),
                    partition: p,
                    partitions: partitions as usize,
                });
            }
            (None, Some(key)) => partition_for_key(key, partitions),
            (None, None) => self.round_robin.next(topic, partitions),
        };
        let size = record.estimated_size();
        self.wait_for_room(size).await?;

        let timestamp = record.timestamp.unwrap_or_else(now_ms);
        let batch_bytes = self.shared.config.batch_bytes;
        let closed = &self.closed;
        let mut acc = self.shared.accumulator.lock();
        let topic_key = match acc.open.get_key_value(topic) {
            Some((key, _)) => key.clone(),
            None => Arc::from(topic),
        };
        let batches = acc.open.entry(topic_key.clone()).or_default();
        let batch = batches.entry(partition).or_insert_with(|| OpenBatch {
            shared: Arc::new(BatchShared::new(topic_key, partition, closed.subscribe())),
            records: Vec::new(),
            bytes: 0,
            opened: Instant::now(),
        });
        let index = batch.records.len() as i64;
        batch.records.push(wire_record(record, index, timestamp));
        batch.bytes += size;
        let future = DeliveryFuture {
            batch: batch.shared.clone(),
            index,
            timestamp,
        };
        let full = batch.bytes >= batch_bytes;
        let sealed = if full {
            batches.remove(&partition)
        } else {
            None
        };
        let topic_now_empty = batches.is_empty();
        if topic_now_empty {
            acc.open.remove(topic);
        }
        // A batch counts as unfinished from its first record until the broker answers.
        if index == 0 {
            acc.unfinished += 1;
        }
        acc.buffered_bytes += size;
        // The sender needs to know when a linger timer starts and when a batch is ready.
        let wake = index == 0 || sealed.is_some();
        if let Some(batch) = sealed {
            acc.seal(batch);
        }
        drop(acc);
        if wake {
            self.shared.wake.notify_one();
        }
        Ok(future)
    }

    /// Sends everything queued and waits until every batch has been answered.
    pub async fn flush(&self) -> Result<(), ClientError> {
        loop {
            let progress = self.shared.progress.notified();
            tokio::pin!(progress);
            progress.as_mut().enable();
            {
                let mut acc = self.shared.accumulator.lock();
                if acc.unfinished == 0 {
                    return Ok(());
                }
                acc.flush_requested = true;
            }
            if self.sender.is_finished() {
                return Err(ClientError::ProducerClosed);
            }
            self.shared.wake.notify_one();
            progress.await;
        }
    }

    /// Flushes, then stops the sender.
    pub async fn close(self) -> Result<(), ClientError> {
        let flushed = self.flush().await;
        self.shared.accumulator.lock().closing = true;
        self.shared.wake.notify_one();
        flushed
    }

    async fn wait_for_room(&self, size: usize) -> Result<(), ClientError> {
        let limit = self.shared.config.max_buffered_bytes;
        loop {
            let progress = self.shared.progress.notified();
            tokio::pin!(progress);
            progress.as_mut().enable();
            {
                let acc = self.shared.accumulator.lock();
                // An empty producer always takes one record, however large.
                if acc.buffered_bytes == 0 || acc.buffered_bytes + size <= limit {
                    return Ok(());
                }
            }
            if self.sender.is_finished() {
                return Err(ClientError::ProducerClosed);
            }
            // Full: make sure lingering batches go out rather than wait for their timer.
            self.shared.wake.notify_one();
            progress.await;
        }
    }

    async fn partition_count(&mut self, topic: &str) -> Result<u32, ClientError> {
        if let Some(&count) = self.partition_counts.get(topic) {
            return Ok(count);
        }
        let info = self.shared.client.topic(topic).await?;
        let count = u32::try_from(info.partitions.len()).unwrap_or(0);
        if count == 0 {
            return Err(ClientError::UnknownTopic {
                topic: topic.to_owned(),
            });
        }
        self.partition_counts.insert(topic.to_owned(), count);
        Ok(count)
    }
}

impl Drop for Producer {
    fn drop(&mut self) {
        // Delivery futures still waiting learn that nothing will answer them.
        let _ = self.closed.send(true);
        self.sender.abort();
    }
}

fn wire_record(record: ProducerRecord, index: i64, timestamp: i64) -> Record {
    Record {
        transactional: false,
        control: false,
        delete_horizon: false,
        partition_leader_epoch: -1,
        producer_id: -1,
        producer_epoch: -1,
        timestamp_type: TimestampType::Creation,
        offset: index,
        // The encoder starts a new batch whenever `offset - sequence` changes; this keeps it
        // constant and the batch's base sequence at -1 (not idempotent).
        sequence: (index as i32).wrapping_sub(1),
        timestamp,
        key: record.key,
        value: record.value,
        headers: record.headers,
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
