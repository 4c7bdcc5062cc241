use std::ops::Range;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::produce_response::{
    BatchIndexAndErrorMessage, PartitionProduceResponse, TopicProduceResponse,
};
use kafka_protocol::messages::{ProduceRequest, ProduceResponse, ResponseKind, TopicName};
use skiff_meta::broker_config::EffectiveTopicConfig;
use skiff_meta::topic_config::{StoredCodec, TimestampType};
use skiff_meta::{BatchOutcome, ChunkOutcome, ControllerState};
use skiff_records::{BatchSummary, Compression, ProduceRules, TargetCodec};
use tracing::debug;

use super::str_bytes;
use crate::clock::now_ms;
use crate::context::BrokerContext;
use crate::kafka_error::{NONE, flush_failure_code, produce_error_code};
use crate::produce::{AppendTicket, PartitionAppend, PartitionKey, SegmentOutcome, SegmentWaiter};
use crate::reply::{Reply, ReplyFuture};
use crate::security::authorizer::Caller;
use skiff_meta::acl::{AclOperation, ResourceType};

/// What happens to one partition of the request.
enum PartitionPlan {
    Failed {
        code: i16,
        message: Option<String>,
        /// KIP-467: (index of the record in the record set, why it was refused).
        record_errors: Vec<(u32, String)>,
    },
    Append {
        key: PartitionKey,
        records: Bytes,
        batches: Range<usize>,
        log_append_time: Option<i64>,
    },
    Appended {
        key: PartitionKey,
        ticket: AppendTicket,
        log_append_time: Option<i64>,
    },
}

struct TopicPlan {
    name: TopicName,
    partitions: Vec<(i32, PartitionPlan)>,
}

/// Validates and appends the request's batches before returning, so batches from one
/// connection enter the segment in the order they arrived; the returned future waits for the
/// segment's commit and builds the response.
pub async fn start(
    ctx: &Arc<BrokerContext>,
    caller: &Caller,
    request: ProduceRequest,
    version: i16,
) -> ReplyFuture {
    let acks = request.acks;
    let mut summaries = Vec::new();
    let mut topics = plan(ctx, caller, request, &mut summaries);

    let appends: Vec<PartitionAppend<'_>> = topics
        .iter()
        .flat_map(|t| t.partitions.iter())
        .filter_map(|(_, plan)| match plan {
            PartitionPlan::Append {
                key,
                records,
                batches,
                ..
            } => Some(PartitionAppend {
                key: *key,
                records: records.clone(),
                batches: &summaries[batches.clone()],
            }),
            _ => None,
        })
        .collect();
    let mut waiter = None;
    if !appends.is_empty() {
        let bytes = appends.iter().map(|a| a.records.len()).sum();
        let (batches, records) = appends
            .iter()
            .flat_map(|a| a.batches)
            .fold((0u64, 0u64), |(batches, records), b| {
                (batches + 1, records + u64::from(b.record_count))
            });
        let appended = match ctx.produce.reserve(bytes).await {
            Some(memory) => ctx.produce.append(memory, appends).ok(),
            None => None,
        };
        if appended.is_some() {
            let counts = &ctx.metrics.produce;
            counts.bytes.increment(bytes as u64);
            counts.batches.increment(batches);
            counts.records.increment(records);
        }
        waiter = settle_appends(&mut topics, appended);
    }

    if acks == 0 {
        return Box::pin(std::future::ready(Reply::Nothing));
    }
    let ctx = ctx.clone();
    Box::pin(async move {
        let outcome = match waiter {
            Some(waiter) => Some(waiter.wait().await),
            None => None,
        };
        let state = ctx.controller.state();
        let state = state.read();
        Reply::Response(ResponseKind::Produce(respond(
            &state,
            topics,
            outcome.as_deref(),
            version,
        )))
    })
}

fn plan(
    ctx: &BrokerContext,
    caller: &Caller,
    request: ProduceRequest,
    summaries: &mut Vec<BatchSummary>,
) -> Vec<TopicPlan> {
    let request_error = if !(-1..=1).contains(&request.acks) {
        Some((
            ResponseError::InvalidRequiredAcks.code(),
            format!("acks={} is not -1, 0 or 1", request.acks),
        ))
    } else {
        None
    };
    let now = now_ms();
    let mut scratch = Vec::new();
    // Kafka checks WRITE on the transactional id only when the request has transactional
    // batches; `None` here refuses them.
    let transactional_id = request
        .transactional_id
        .as_ref()
        .map(|id| id.as_str())
        .filter(|id| {
            !id.is_empty()
                && ctx.authorizer.allows(
                    caller,
                    AclOperation::Write,
                    ResourceType::TransactionalId,
                    id,
                )
        });
    let state = ctx.controller.state();
    let state = state.read();
    request
        .topic_data
        .into_iter()
        .map(|topic| {
            let may_write =
                ctx.authorizer
                    .allows_topic(caller, AclOperation::Write, topic.name.as_str());
            let partitions = topic
                .partition_data
                .into_iter()
                .map(|p| {
                    let plan = match &request_error {
                        Some((code, message)) => PartitionPlan::Failed {
                            code: *code,
                            message: Some(message.clone()),
                            record_errors: Vec::new(),
                        },
                        None if !may_write => PartitionPlan::Failed {
                            code: ResponseError::TopicAuthorizationFailed.code(),
                            message: None,
                            record_errors: Vec::new(),
                        },
                        None => plan_partition(
                            ctx,
                            &state,
                            transactional_id,
                            topic.name.as_str(),
                            p.index,
                            p.records,
                            now,
                            &mut scratch,
                            summaries,
                        ),
                    };
                    (p.index, plan)
                })
                .collect();
            TopicPlan {
                name: topic.name,
                partitions,
            }
        })
        .collect()
}

#[allow(clippy::too_many_arguments)] // one call site; a struct would only rename them
fn plan_partition(
    ctx: &BrokerContext,
    state: &ControllerState,
    transactional_id: Option<&str>,
    topic_name: &str,
    index: i32,
    records: Option<Bytes>,
    now: i64,
    scratch: &mut Vec<BatchSummary>,
    summaries: &mut Vec<BatchSummary>,
) -> PartitionPlan {
    let failed = |code: ResponseError, message: String| PartitionPlan::Failed {
        code: code.code(),
        message: Some(message),
        record_errors: Vec::new(),
    };
    let Some(topic) = state.topic_by_name(topic_name) else {
        return if skiff_meta::state::validate_topic_name(topic_name).is_ok() {
            failed(
                ResponseError::UnknownTopicOrPartition,
                format!("unknown topic {topic_name}"),
            )
        } else {
            failed(
                ResponseError::InvalidTopicException,
                format!("invalid topic name {topic_name:?}"),
            )
        };
    };
    let partition = match u32::try_from(index) {
        Ok(p) if (p as usize) < topic.partitions.len() => p,
        _ => {
            return failed(
                ResponseError::UnknownTopicOrPartition,
                format!("{topic_name} has no partition {index}"),
            );
        }
    };
    let Some(records) = records else {
        return failed(ResponseError::CorruptMessage, "no record data".into());
    };
    // Produce checks are this broker's own, so its per-broker overrides apply.
    let config = topic
        .config
        .effective(state.topic_defaults(Some(ctx.config.broker_id)));
    let rules = produce_rules(&config, ctx.config.max_decompressed_multiple, now);
    if let Err(invalid) = skiff_records::validate_record_set(&records, &rules, scratch) {
        debug!(topic = topic_name, partition, error = %invalid, "rejected produce data");
        return PartitionPlan::Failed {
            code: invalid.kafka_error_code(),
            message: Some(invalid.to_string()),
            record_errors: invalid.record_errors(),
        };
    }
    if scratch.iter().any(|b| b.transactional)
        && let Err((code, message)) = check_transactional(state, transactional_id, scratch)
    {
        return failed(code, message);
    }
    let records = match config.stored_codec() {
        None => records,
        Some(codec) => match recompress(&records, scratch, codec, rules.max_decompressed_bytes) {
            Ok(None) => records,
            Ok(Some((copy, rewritten))) => {
                // As in Kafka, a batch that grew past the limit in the topic's codec is refused.
                if let Some(large) = scratch.iter().find(|b| b.len > rules.max_batch_bytes) {
                    return failed(
                        ResponseError::MessageTooLarge,
                        format!(
                            "a batch is {} bytes in the topic's compression.type, over \
                             max.message.bytes ({})",
                            large.len, rules.max_batch_bytes
                        ),
                    );
                }
                ctx.metrics
                    .produce
                    .recompressed_batches
                    .increment(rewritten);
                copy
            }
            Err(e) => return failed(ResponseError::CorruptMessage, e.to_string()),
        },
    };
    let (records, log_append_time) = match config.timestamp_type() {
        TimestampType::CreateTime => (records, None),
        TimestampType::LogAppendTime => match stamp_log_append_time(&records, scratch, now) {
            Ok(stamped) => {
                // The index keeps what readers will see: every record at the append time.
                for batch in scratch.iter_mut() {
                    batch.max_timestamp = now;
                }
                (stamped, Some(now))
            }
            Err(e) => return failed(ResponseError::CorruptMessage, e.to_string()),
        },
    };
    let start = summaries.len();
    summaries.extend_from_slice(scratch);
    PartitionPlan::Append {
        key: PartitionKey {
            topic_id: topic.id,
            partition,
        },
        records,
        batches: start..summaries.len(),
        log_append_time,
    }
}

/// The broker's own check of transactional batches against its replica of the coordinator's
/// state, with no proposal: what only a newer state could make right is answered with a
/// retriable error. Whether the partition is in the open transaction is decided where it is
/// certain, when the segment commit applies (`ProduceError::InvalidTxnState`), since an
/// AddPartitionsToTxn through another broker may not have reached this replica yet.
fn check_transactional(
    state: &ControllerState,
    transactional_id: Option<&str>,
    batches: &[BatchSummary],
) -> Result<(), (ResponseError, String)> {
    let Some(transactional_id) = transactional_id else {
        return Err((
            ResponseError::TransactionalIdAuthorizationFailed,
            "transactional batches need an authorized transactional id".into(),
        ));
    };
    let txn = state.txns().get(transactional_id);
    for batch in batches.iter().filter(|b| b.transactional) {
        match txn {
            Some(txn) if txn.producer_id() == batch.producer_id => {
                if batch.producer_epoch < txn.epoch() {
                    return Err((
                        ResponseError::InvalidProducerEpoch,
                        format!(
                            "producer epoch {} was fenced by epoch {}",
                            batch.producer_epoch,
                            txn.epoch()
                        ),
                    ));
                }
                if batch.producer_epoch > txn.epoch() {
                    return Err(not_known_yet(transactional_id));
                }
            }
            // A producer id this replica handed out that is not the id's current one was
            // replaced (an exhausted epoch moves to a new id; an expired id starts over): the
            // zombie is fenced, with the code Kafka's produce path gives a fenced producer
            // (KIP-588 keeps PRODUCER_FENCED off Produce).
            _ if state.producer_id_allocated(batch.producer_id) => {
                return Err((
                    ResponseError::InvalidProducerEpoch,
                    format!(
                        "producer id {} no longer belongs to transaction {transactional_id:?}",
                        batch.producer_id
                    ),
                ));
            }
            // Ids only move forward: a producer id this replica has not handed out yet was
            // set up through another broker moments ago. The client retries, as it does when
            // Kafka cannot verify a transaction (KIP-890).
            _ => return Err(not_known_yet(transactional_id)),
        }
    }
    Ok(())
}

fn not_known_yet(transactional_id: &str) -> (ResponseError, String) {
    (
        ResponseError::NotEnoughReplicas,
        format!("the producer of transaction {transactional_id:?} is not known to this broker yet"),
    )
}

/// What the topic's configs ask of produced records (Kafka's LogValidator settings).
fn produce_rules(
    config: &EffectiveTopicConfig<'_>,
    max_decompressed_multiple: usize,
    now: i64,
) -> ProduceRules {
    let max_batch_bytes = usize::try_from(config.max_message_bytes()).unwrap_or(0);
    let timestamp_range = match config.timestamp_type() {
        // The broker's clock replaces every timestamp: the producer's do not matter.
        TimestampType::LogAppendTime => None,
        TimestampType::CreateTime => {
            // The deprecated symmetric bound still applies when set, as in Kafka 3.x.
            let difference = config.message_timestamp_difference_max_ms();
            let before = config.message_timestamp_before_max_ms().min(difference);
            let after = config.message_timestamp_after_max_ms().min(difference);
            (before < i64::MAX || after < i64::MAX)
                .then(|| (now.saturating_sub(before), now.saturating_add(after)))
        }
    };
    ProduceRules {
        max_batch_bytes,
        max_decompressed_bytes: max_batch_bytes.saturating_mul(max_decompressed_multiple),
        require_keys: config.cleanup_policy().compact,
        timestamp_range,
    }
}

/// A topic whose `compression.type` is not `producer` stores every batch in that codec, as
/// Kafka's LogValidator does; batches already in it are copied unchanged. Returns the new
/// record set and how many batches were rewritten, or `None` when every batch was already in
/// the codec (the record set is then stored as it came, without a copy).
fn recompress(
    records: &Bytes,
    batches: &mut [BatchSummary],
    codec: StoredCodec,
    max_decompressed_bytes: usize,
) -> Result<Option<(Bytes, u64)>, skiff_records::RecordsError> {
    let target = match codec {
        StoredCodec::Uncompressed => TargetCodec::new(Compression::None),
        StoredCodec::Gzip { level } => TargetCodec {
            codec: Compression::Gzip,
            level: level.and_then(|l| i32::try_from(l).ok()),
        },
        StoredCodec::Snappy => TargetCodec::new(Compression::Snappy),
        StoredCodec::Lz4 => TargetCodec::new(Compression::Lz4),
        StoredCodec::Zstd { level } => TargetCodec {
            codec: Compression::Zstd,
            level: Some(level),
        },
    };
    if !skiff_records::needs_recompression(batches, target) {
        return Ok(None);
    }
    let rewritten = batches
        .iter()
        .filter(|b| b.compression != target.codec)
        .count() as u64;
    let mut copy = Vec::with_capacity(records.len());
    skiff_records::recompress_record_set(
        records,
        batches,
        target,
        max_decompressed_bytes,
        &mut copy,
    )?;
    Ok(Some((Bytes::from(copy), rewritten)))
}

/// On LogAppendTime topics the broker's clock replaces the batch timestamp, and the CRC is
/// recomputed.
fn stamp_log_append_time(
    records: &Bytes,
    batches: &[BatchSummary],
    now: i64,
) -> Result<Bytes, skiff_records::RecordsError> {
    let mut copy = BytesMut::from(&records[..]);
    for b in batches {
        skiff_records::set_log_append_time(&mut copy[b.position..b.position + b.len], now)?;
    }
    Ok(copy.freeze())
}

/// Turns `Append` plans into `Appended` with their tickets, or into failures when the buffer
/// refused them (broker shutting down: clients retry against the next broker).
fn settle_appends(
    topics: &mut [TopicPlan],
    appended: Option<(SegmentWaiter, Vec<AppendTicket>)>,
) -> Option<SegmentWaiter> {
    let (waiter, tickets) = match appended {
        Some((waiter, tickets)) => (Some(waiter), tickets),
        None => (None, Vec::new()),
    };
    let mut tickets = tickets.into_iter();
    for (_, plan) in topics.iter_mut().flat_map(|t| t.partitions.iter_mut()) {
        let PartitionPlan::Append {
            key,
            log_append_time,
            ..
        } = *plan
        else {
            continue;
        };
        *plan = match tickets.next() {
            Some(ticket) => PartitionPlan::Appended {
                key,
                ticket,
                log_append_time,
            },
            None => PartitionPlan::Failed {
                code: ResponseError::NotLeaderOrFollower.code(),
                message: Some("broker is shutting down".into()),
                record_errors: Vec::new(),
            },
        };
    }
    waiter
}

fn respond(
    state: &ControllerState,
    topics: Vec<TopicPlan>,
    outcome: Option<&SegmentOutcome>,
    version: i16,
) -> ProduceResponse {
    let mut response = ProduceResponse::default();
    response.responses = topics
        .into_iter()
        .map(|topic| {
            let mut entry = TopicProduceResponse::default();
            entry.name = topic.name;
            entry.partition_responses = topic
                .partitions
                .into_iter()
                .map(|(index, plan)| partition_response(state, index, plan, outcome, version))
                .collect();
            entry
        })
        .collect();
    response
}

fn partition_response(
    state: &ControllerState,
    index: i32,
    plan: PartitionPlan,
    outcome: Option<&SegmentOutcome>,
    version: i16,
) -> PartitionProduceResponse {
    let mut response = PartitionProduceResponse::default();
    response.index = index;
    response.base_offset = -1;
    response.log_append_time_ms = -1;
    response.log_start_offset = -1;
    let (code, message) = match plan {
        PartitionPlan::Failed {
            code,
            message,
            record_errors,
        } => {
            if version >= 8 {
                response.record_errors = record_errors
                    .into_iter()
                    .map(|(index, message)| {
                        let mut error = BatchIndexAndErrorMessage::default();
                        error.batch_index = i32::try_from(index).unwrap_or(i32::MAX);
                        error.batch_index_error_message = Some(str_bytes(&message));
                        error
                    })
                    .collect();
            }
            (code, message)
        }
        PartitionPlan::Append { .. } => (ResponseError::UnknownServerError.code(), None),
        PartitionPlan::Appended {
            key,
            ticket,
            log_append_time,
        } => match committed_base_offset(outcome, ticket) {
            Ok(base_offset) => {
                response.base_offset = base_offset;
                response.log_append_time_ms = log_append_time.unwrap_or(-1);
                if version >= 5 {
                    response.log_start_offset = state
                        .topic(&key.topic_id)
                        .and_then(|t| t.partitions.get(key.partition as usize))
                        .map_or(-1, |p| p.log_start_offset());
                }
                (NONE, None)
            }
            Err((code, message)) => (code, Some(message)),
        },
    };
    response.error_code = code;
    if version >= 8 {
        response.error_message = message.as_deref().map(str_bytes);
    }
    response
}

/// The base offset the controller gave this record set, or why it has none.
fn committed_base_offset(
    outcome: Option<&SegmentOutcome>,
    ticket: AppendTicket,
) -> Result<i64, (i16, String)> {
    let result = match outcome {
        Some(Ok(result)) => result,
        Some(Err(failure)) => return Err((flush_failure_code(failure), failure.to_string())),
        None => {
            return Err((
                ResponseError::UnknownServerError.code(),
                "no commit outcome".into(),
            ));
        }
    };
    match result.chunks.get(ticket.chunk) {
        Some(ChunkOutcome::Committed { batches, .. }) => {
            let ours = batches
                .get(ticket.first_batch..ticket.first_batch + ticket.batch_count)
                .ok_or((
                    ResponseError::UnknownServerError.code(),
                    "commit result misses batches".to_string(),
                ))?;
            let mut base = None;
            for batch in ours {
                match batch {
                    BatchOutcome::Appended { base_offset }
                    | BatchOutcome::Duplicate { base_offset } => {
                        base.get_or_insert(*base_offset);
                    }
                    BatchOutcome::Rejected(e) => {
                        return Err((produce_error_code(e), e.to_string()));
                    }
                }
            }
            base.ok_or((
                ResponseError::UnknownServerError.code(),
                "empty record set".to_string(),
            ))
        }
        Some(ChunkOutcome::UnknownTopicOrPartition) => Err((
            ResponseError::UnknownTopicOrPartition.code(),
            "the topic or partition was deleted before the write committed".into(),
        )),
        // Retriable: the producer sends the batch again and it goes out in a new segment.
        Some(ChunkOutcome::ObjectCollected) => Err((
            ResponseError::KafkaStorageError.code(),
            "the segment took longer than the collector's grace period to commit and was \
             collected; nothing was written"
                .into(),
        )),
        None => Err((
            ResponseError::UnknownServerError.code(),
            "commit result misses a chunk".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use skiff_meta::{Command, CommandResponse, InitTxnProducer};
    use skiff_records::{BatchSummary, Compression};

    use super::*;

    fn init(state: &mut ControllerState) -> (i64, i16) {
        let command = Command::InitTxnProducer(InitTxnProducer {
            transactional_id: "app".into(),
            timeout_ms: 60_000,
            current: None,
            now_ms: 1,
        });
        match state.apply(&command) {
            CommandResponse::TxnProducerId(Ok(p)) => (p.id, p.epoch),
            other => panic!("InitTxnProducer answered {other:?}"),
        }
    }

    fn batch((producer_id, producer_epoch): (i64, i16)) -> BatchSummary {
        BatchSummary {
            position: 0,
            len: 100,
            offset_count: 1,
            record_count: 1,
            base_timestamp: 1,
            max_timestamp: 1,
            producer_id,
            producer_epoch,
            base_sequence: 0,
            transactional: true,
            compression: Compression::None,
        }
    }

    fn code(state: &ControllerState, producer: (i64, i16)) -> Option<ResponseError> {
        check_transactional(state, Some("app"), &[batch(producer)])
            .err()
            .map(|(code, _)| code)
    }

    #[test]
    fn a_zombie_whose_producer_id_was_replaced_is_fenced_not_told_to_retry() {
        let mut state = ControllerState::default();
        let first = init(&mut state);
        let mut current = first;
        while current.1 < i16::MAX - 1 {
            current = init(&mut state);
        }
        assert_eq!(code(&state, current), None);
        // The exhausted epoch moves the transactional id to a new producer id.
        let next = init(&mut state);
        assert_ne!(next.0, first.0);
        assert_eq!(code(&state, next), None);
        assert_eq!(
            code(&state, current),
            Some(ResponseError::InvalidProducerEpoch)
        );
        assert_eq!(
            code(&state, first),
            Some(ResponseError::InvalidProducerEpoch)
        );
        // An id this replica has not handed out yet is a producer set up elsewhere a moment
        // ago: retriable.
        assert_eq!(
            code(&state, (next.0 + 1, 0)),
            Some(ResponseError::NotEnoughReplicas)
        );
    }
}
