//! The producer's sender task: seals batches whose linger ran out, and sends rounds of batches
//! to partition leaders (one request per broker per round, so each partition's batches are
//! written in order), retrying once after fresh metadata when a leader moved.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use futures::future::join_all;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{ProduceRequest, TopicName};
use kafka_protocol::protocol::StrBytes;

use super::accumulator::{BatchAck, BatchShared, SealedBatch};
use super::encode::encode_batch;
use super::{ProducerConfig, ProducerShared};
use crate::error::ClientError;

/// A batch encoded and ready for the wire.
struct ReadyBatch {
    shared: Arc<BatchShared>,
    bytes: Bytes,
    record_count: i64,
    buffered: usize,
}

type Outcome = (ReadyBatch, Result<BatchAck, ClientError>);
/// Error code, error message, base offset and log append time of one partition.
type PartitionAnswer = (i16, Option<StrBytes>, i64, i64);

pub(super) async fn run(shared: Arc<ProducerShared>) {
    let linger = shared.config.linger;
    loop {
        let wake = shared.wake.notified();
        tokio::pin!(wake);
        wake.as_mut().enable();
        let (sealed, next_linger) = {
            let mut acc = shared.accumulator.lock();
            if acc.closing && acc.unfinished == 0 {
                return;
            }
            let full = acc.buffered_bytes >= shared.config.max_buffered_bytes;
            if acc.flush_requested || acc.closing || full {
                acc.seal_open(None);
                acc.flush_requested = false;
            } else if let Some(cutoff) = Instant::now().checked_sub(linger) {
                acc.seal_open(Some(cutoff));
            }
            let sealed: Vec<SealedBatch> = acc.sealed.drain(..).collect();
            (sealed, acc.oldest_open().map(|opened| opened + linger))
        };
        if sealed.is_empty() {
            match next_linger {
                Some(deadline) => {
                    tokio::select! {
                        () = &mut wake => {}
                        () = tokio::time::sleep_until(deadline.into()) => {}
                    }
                }
                None => wake.await,
            }
            continue;
        }
        send_round(&shared, sealed).await;
    }
}

async fn send_round(shared: &ProducerShared, sealed: Vec<SealedBatch>) {
    let mut pending = Vec::with_capacity(sealed.len());
    for batch in sealed {
        let record_count = batch.records.len() as i64;
        match encode_batch(&batch.records, shared.config.compression) {
            Ok(bytes) => pending.push(ReadyBatch {
                shared: batch.shared,
                bytes,
                record_count,
                buffered: batch.bytes,
            }),
            Err(error) => finish(
                shared,
                ReadyBatch {
                    shared: batch.shared,
                    bytes: Bytes::new(),
                    record_count,
                    buffered: batch.bytes,
                },
                Err(error),
            ),
        }
    }
    for attempt in 0..2 {
        let mut by_leader: BTreeMap<i32, Vec<ReadyBatch>> = BTreeMap::new();
        let mut retry = Vec::new();
        for batch in pending.drain(..) {
            let leader = shared
                .client
                .leader_of(&batch.shared.topic, batch.shared.partition)
                .await;
            match leader {
                Ok(leader) => by_leader.entry(leader).or_default().push(batch),
                Err(error) => retry_or_finish(shared, batch, error, attempt, &mut retry),
            }
        }
        let answers = join_all(
            by_leader
                .into_iter()
                .map(|(leader, batches)| send_to_leader(shared, leader, batches)),
        )
        .await;
        for (batch, outcome) in answers.into_iter().flatten() {
            match outcome {
                Err(error) => retry_or_finish(shared, batch, error, attempt, &mut retry),
                ok => finish(shared, batch, ok),
            }
        }
        if retry.is_empty() {
            return;
        }
        pending = retry;
    }
}

fn retry_or_finish(
    shared: &ProducerShared,
    batch: ReadyBatch,
    error: ClientError,
    attempt: usize,
    retry: &mut Vec<ReadyBatch>,
) {
    if attempt == 0 && error.wants_metadata_refresh() {
        tracing::debug!(%error, topic = %batch.shared.topic, "retrying a batch with fresh metadata");
        shared.client.invalidate_topic(&batch.shared.topic);
        retry.push(batch);
    } else {
        finish(shared, batch, Err(error));
    }
}

fn finish(shared: &ProducerShared, batch: ReadyBatch, outcome: Result<BatchAck, ClientError>) {
    batch.shared.resolve(outcome);
    {
        let mut acc = shared.accumulator.lock();
        acc.buffered_bytes = acc.buffered_bytes.saturating_sub(batch.buffered);
        acc.unfinished = acc.unfinished.saturating_sub(1);
    }
    shared.progress.notify_waiters();
}

/// One Produce request with every batch for this leader; each partition's batches are
/// concatenated in order into its record set.
async fn send_to_leader(
    shared: &ProducerShared,
    leader: i32,
    batches: Vec<ReadyBatch>,
) -> Vec<Outcome> {
    let mut partitions: BTreeMap<(Arc<str>, i32), Vec<ReadyBatch>> = BTreeMap::new();
    for batch in batches {
        partitions
            .entry((batch.shared.topic.clone(), batch.shared.partition))
            .or_default()
            .push(batch);
    }
    let request = produce_request(&shared.config, &partitions);
    let all = |error: ClientError| -> Vec<Outcome> {
        partitions
            .values()
            .flatten()
            .map(|b| {
                (
                    ReadyBatch {
                        shared: b.shared.clone(),
                        bytes: b.bytes.clone(),
                        record_count: b.record_count,
                        buffered: b.buffered,
                    },
                    Err(error.clone()),
                )
            })
            .collect()
    };
    let connection = match shared.client.broker(leader).await {
        Ok(connection) => connection,
        Err(error) => return all(error),
    };
    if shared.config.acks.wire() == 0 {
        if let Err(error) = connection.send_without_response(&request).await {
            return all(error);
        }
        let ack = BatchAck {
            base_offset: -1,
            log_append_time: -1,
        };
        return partitions
            .into_values()
            .flatten()
            .map(|b| (b, Ok(ack)))
            .collect();
    }
    let response = match connection.send(&request).await {
        Ok(response) => response,
        Err(error) => return all(error),
    };
    let mut answers: BTreeMap<(&str, i32), PartitionAnswer> = BTreeMap::new();
    for topic in &response.responses {
        for p in &topic.partition_responses {
            answers.insert(
                (topic.name.0.as_str(), p.index),
                (
                    p.error_code,
                    p.error_message.clone(),
                    p.base_offset,
                    p.log_append_time_ms,
                ),
            );
        }
    }
    let mut outcomes = Vec::new();
    for ((topic, partition), batches) in partitions {
        let answer = answers.get(&(topic.as_ref(), partition)).cloned();
        let mut next_offset = None;
        for batch in batches {
            let outcome = match &answer {
                None => Err(ClientError::IncompleteResponse {
                    context: format!("produce to {topic}-{partition}"),
                }),
                Some((0, _, base_offset, log_append_time)) => {
                    let base = next_offset.unwrap_or(*base_offset);
                    next_offset = Some(base + batch.record_count);
                    Ok(BatchAck {
                        base_offset: base,
                        log_append_time: *log_append_time,
                    })
                }
                Some((code, message, _, _)) => Err(ClientError::kafka(
                    *code,
                    format!("cannot produce to {topic}-{partition}"),
                    message.as_deref(),
                )),
            };
            outcomes.push((batch, outcome));
        }
    }
    outcomes
}

fn produce_request(
    config: &ProducerConfig,
    partitions: &BTreeMap<(Arc<str>, i32), Vec<ReadyBatch>>,
) -> ProduceRequest {
    let mut topics: Vec<TopicProduceData> = Vec::new();
    for ((topic, partition), batches) in partitions {
        let records = match batches.as_slice() {
            [one] => one.bytes.clone(),
            many => {
                let mut joined = BytesMut::with_capacity(many.iter().map(|b| b.bytes.len()).sum());
                for b in many {
                    joined.extend_from_slice(&b.bytes);
                }
                joined.freeze()
            }
        };
        let mut data = PartitionProduceData::default();
        data.index = *partition;
        data.records = Some(records);
        match topics.last_mut() {
            Some(last) if last.name.0.as_str() == topic.as_ref() => last.partition_data.push(data),
            _ => {
                let mut entry = TopicProduceData::default();
                entry.name = TopicName(StrBytes::from_string(topic.to_string()));
                entry.partition_data = vec![data];
                topics.push(entry);
            }
        }
    }
    let mut request = ProduceRequest::default();
    request.acks = config.acks.wire();
    request.timeout_ms = i32::try_from(config.ack_timeout.as_millis()).unwrap_or(i32::MAX);
    request.topic_data = topics;
    request
}

#[cfg(test)]
pub(crate) fn produce_request_for_tests(config: &ProducerConfig) -> ProduceRequest {
    let (_closed, receiver) = tokio::sync::watch::channel(false);
    let mut partitions = BTreeMap::new();
    for partition in 0..2 {
        let shared = Arc::new(BatchShared::new(
            Arc::from("t"),
            partition,
            receiver.clone(),
        ));
        partitions.insert(
            (Arc::from("t"), partition),
            vec![ReadyBatch {
                shared,
                bytes: super::encode::encode_batch_for_tests(
                    &["a"],
                    skiff_records::Compression::None,
                ),
                record_count: 1,
                buffered: 1,
            }],
        );
    }
    produce_request(config, &partitions)
}
