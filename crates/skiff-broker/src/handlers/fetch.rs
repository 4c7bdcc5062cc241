use std::time::Duration;

use crate::security::authorizer::Caller;
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::ProducerId;
use kafka_protocol::messages::fetch_response::{
    AbortedTransaction, FetchableTopicResponse, PartitionData,
};
use kafka_protocol::messages::{FetchRequest, FetchResponse};
use skiff_meta::ControllerState;
use skiff_meta::acl::AclOperation;
use skiff_storage::StorageError;
use tokio::time::{Instant, sleep_until};
use tracing::warn;

use crate::context::BrokerContext;
use crate::fetch::{
    PartitionReadPlan, PlannedEntry, ReadError, plan_partition_read, slice_batches,
};
use crate::kafka_error::lookup_error_code;
use crate::topics::TopicLookup;

/// Entry reads in flight at once for one fetch: enough to overlap object-store latency across
/// partitions without one request monopolising the store.
const ENTRY_READ_CONCURRENCY: usize = 8;
/// Upper bound on a long-poll, whatever the client asks: keeps a misconfigured client from
/// parking a request for hours.
const MAX_WAIT_CAP_MS: i32 = 60_000;

/// One requested partition, resolved and planned under the state lock.
struct PartitionJob {
    topic: usize,
    partition: i32,
    fetch_offset: i64,
    max_bytes: usize,
    plan: Result<PartitionReadPlan, i16>,
}

pub async fn handle(
    ctx: &BrokerContext,
    caller: &Caller,
    request: FetchRequest,
    version: i16,
) -> FetchResponse {
    let response = read_until_ready(ctx, caller, request, version).await;
    count_sent(ctx, &response);
    response
}

/// Adds the response's record bytes and records (from batch headers) to the fetch counters.
fn count_sent(ctx: &BrokerContext, response: &FetchResponse) {
    let (mut bytes, mut records) = (0u64, 0u64);
    for partition in response.responses.iter().flat_map(|t| &t.partitions) {
        let Some(data) = &partition.records else {
            continue;
        };
        bytes += data.len() as u64;
        for batch in skiff_records::batches(data).flatten() {
            records += u64::try_from(batch.record_count()).unwrap_or(0);
        }
    }
    if bytes > 0 {
        ctx.metrics.fetch.bytes.increment(bytes);
        ctx.metrics.fetch.records.increment(records);
    }
}

async fn read_until_ready(
    ctx: &BrokerContext,
    caller: &Caller,
    request: FetchRequest,
    version: i16,
) -> FetchResponse {
    let mut applied = ctx.controller.state().applied();
    let wait = Duration::from_millis(request.max_wait_ms.clamp(0, MAX_WAIT_CAP_MS) as u64);
    let deadline = Instant::now() + wait;
    let min_bytes = request.min_bytes.max(0) as usize;
    let mut waiter_permit = None;
    loop {
        applied.borrow_and_update();
        let (response, bytes, any_error) = read_once(ctx, caller, &request, version).await;
        if bytes >= min_bytes || any_error || Instant::now() >= deadline {
            return response;
        }
        if waiter_permit.is_none() {
            match ctx.fetch_waiters.clone().try_acquire_owned() {
                Ok(permit) => waiter_permit = Some(permit),
                Err(_) => return response,
            }
        }
        tokio::select! {
            changed = applied.changed() => if changed.is_err() { return response },
            _ = sleep_until(deadline) => return response,
            _ = ctx.shutdown.cancelled() => return response,
        }
    }
}

/// Builds one complete response from the current state. Returns it with the record bytes it
/// carries and whether any partition has an error (errors answer immediately, as in Kafka).
async fn read_once(
    ctx: &BrokerContext,
    caller: &Caller,
    request: &FetchRequest,
    version: i16,
) -> (FetchResponse, usize, bool) {
    let mut jobs = {
        let state = ctx.controller.state();
        let state = state.read();
        plan_jobs(
            &state,
            &|topic| {
                ctx.authorizer
                    .allows_topic(caller, AclOperation::Read, topic)
            },
            request,
            version,
            response_limit(ctx, request),
            ctx.config.max_partition_fetch_bytes,
        )
    };

    // The plans' entries are only needed to read them; moving them out avoids cloning keys.
    let reads: Vec<(usize, PlannedEntry)> = jobs
        .iter_mut()
        .enumerate()
        .flat_map(|(i, job)| {
            let entries = job
                .plan
                .as_mut()
                .map(|plan| std::mem::take(&mut plan.entries))
                .unwrap_or_default();
            entries.into_iter().map(move |e| (i, e))
        })
        .collect();
    let mut fetched: Vec<Vec<EntryRead>> = jobs.iter().map(|_| Vec::new()).collect();
    let results: Vec<(usize, EntryRead)> = futures::stream::iter(reads)
        .map(|(job, planned)| read_entry(ctx, job, planned))
        .buffered(ENTRY_READ_CONCURRENCY)
        .collect()
        .await;
    for (job, bytes) in results {
        fetched[job].push(bytes);
    }

    let mut response = FetchResponse::default();
    response.responses = request
        .topics
        .iter()
        .map(|t| {
            let mut entry = FetchableTopicResponse::default();
            if version >= 13 {
                entry.topic_id = t.topic_id;
            } else {
                entry.topic = t.topic.clone();
            }
            entry
        })
        .collect();
    let max_bytes = response_limit(ctx, request);
    let mut total = 0usize;
    let mut any_error = false;
    for (job, entries) in jobs.into_iter().zip(fetched) {
        let mut data = PartitionData::default();
        data.partition_index = job.partition;
        match job.plan {
            Err(code) => {
                data.error_code = code;
                data.high_watermark = -1;
                any_error = true;
            }
            Ok(plan) => {
                data.high_watermark = plan.high_watermark;
                data.last_stable_offset = plan.last_stable_offset;
                data.log_start_offset = plan.log_start_offset;
                if let Some(aborted) = plan.aborted {
                    data.aborted_transactions = Some(
                        aborted
                            .into_iter()
                            .map(|(producer_id, first_offset)| {
                                AbortedTransaction::default()
                                    .with_producer_id(ProducerId(producer_id))
                                    .with_first_offset(first_offset)
                            })
                            .collect(),
                    );
                }
                let budget = job.max_bytes.min(max_bytes.saturating_sub(total));
                let range = (job.fetch_offset, plan.read_until);
                let (records, error) = assemble(ctx, entries, range, budget, total == 0);
                if let Some(message) = error {
                    warn!(partition = job.partition, error = %message, "fetch could not read stored data");
                    if records.is_empty() {
                        data.error_code = ResponseError::KafkaStorageError.code();
                        any_error = true;
                    }
                }
                total += records.len();
                data.records = Some(records);
            }
        }
        response.responses[job.topic].partitions.push(data);
    }
    (response, total, any_error)
}

/// One entry's bytes, or why they could not be had.
struct EntryRead {
    object_key: String,
    bytes: Result<Bytes, StorageError>,
}

async fn read_entry(ctx: &BrokerContext, job: usize, planned: PlannedEntry) -> (usize, EntryRead) {
    let bytes = ctx.chunks.entry_bytes(&planned).await;
    let object_key = planned.object_key;
    (job, EntryRead { object_key, bytes })
}

/// The most record bytes one response carries: the client's `max_bytes`, capped by the
/// broker's `fetch.max.bytes` as Kafka does (a first batch larger than that still goes out
/// alone, KIP-74).
fn response_limit(ctx: &BrokerContext, request: &FetchRequest) -> usize {
    let asked = usize::try_from(request.max_bytes).unwrap_or(0);
    match asked {
        0 => ctx.config.fetch_max_bytes,
        asked => asked.min(ctx.config.fetch_max_bytes),
    }
}

/// Plans every partition, spending one response budget across them so the entries read for a
/// response stay near its limit however many partitions it names (the first partition with
/// data always gets at least one entry).
fn plan_jobs(
    state: &ControllerState,
    may_read: &dyn Fn(&str) -> bool,
    request: &FetchRequest,
    version: i16,
    response_limit: usize,
    partition_cap: usize,
) -> Vec<PartitionJob> {
    let mut jobs = Vec::new();
    let mut left = response_limit;
    // Kafka's isolation levels: 0 READ_UNCOMMITTED, 1 READ_COMMITTED (Fetch v4+).
    let read_committed = request.isolation_level == 1;
    for (topic_index, t) in request.topics.iter().enumerate() {
        let lookup = if version >= 13 {
            TopicLookup::Id(t.topic_id)
        } else {
            TopicLookup::Name(t.topic.as_str())
        };
        // By name the check comes first, as in Kafka, so a refused caller learns nothing of
        // whether the topic exists.
        let by_name = matches!(lookup, TopicLookup::Name(_));
        let named_and_refused = matches!(lookup, TopicLookup::Name(name) if !may_read(name));
        let topic = if named_and_refused {
            Err(ResponseError::TopicAuthorizationFailed.code())
        } else {
            lookup
                .resolve(state)
                .map_err(lookup_error_code)
                .and_then(|topic| {
                    if by_name || may_read(&topic.name) {
                        Ok(topic)
                    } else {
                        Err(ResponseError::TopicAuthorizationFailed.code())
                    }
                })
        };
        for p in &t.partitions {
            let asked = usize::try_from(p.partition_max_bytes).unwrap_or(0);
            let max_bytes = asked.min(partition_cap);
            let plan_bytes = max_bytes.min(left);
            let plan = topic.and_then(|topic| {
                let log = usize::try_from(p.partition)
                    .ok()
                    .and_then(|i| topic.partitions.get(i))
                    .ok_or(ResponseError::UnknownTopicOrPartition.code())?;
                let at = (topic.id, u32::try_from(p.partition).unwrap_or(u32::MAX));
                plan_partition_read(state, at, log, p.fetch_offset, plan_bytes, read_committed)
                    .map_err(|e| match e {
                        ReadError::OffsetOutOfRange => ResponseError::OffsetOutOfRange.code(),
                    })
            });
            if let Ok(plan) = &plan {
                let planned: usize = plan.entries.iter().map(|e| e.entry.len as usize).sum();
                left = left.saturating_sub(planned);
            }
            jobs.push(PartitionJob {
                topic: topic_index,
                partition: p.partition,
                fetch_offset: p.fetch_offset,
                max_bytes,
                plan,
            });
        }
    }
    jobs
}

/// Cuts the partition's answer out of its entries' bytes, in offset order, within `budget`.
/// Returns the records and the first read error, if reading stopped on one. An entry that can
/// never be read (its object gone or its bytes not matching the index) is stepped over with a
/// logged error, so the partition stays readable past it; a store that is down stops the read
/// for a retry.
fn assemble(
    ctx: &BrokerContext,
    entries: Vec<EntryRead>,
    (from_offset, until_offset): (i64, i64),
    budget: usize,
    first_in_response: bool,
) -> (Bytes, Option<String>) {
    let mut slices: Vec<Bytes> = Vec::new();
    let mut taken = 0usize;
    let mut error = None;
    for entry in entries {
        let bytes = match entry.bytes {
            Ok(bytes) => bytes,
            Err(e) if e.is_retriable() => {
                error = Some(e.to_string());
                break;
            }
            Err(e) => {
                ctx.warnings
                    .unreadable_stored_data(&entry.object_key, "Fetch", &e.to_string());
                continue;
            }
        };
        let allow_oversized = first_in_response && taken == 0;
        let (slice, full) = slice_batches(
            &bytes,
            from_offset,
            until_offset,
            budget.saturating_sub(taken),
            allow_oversized,
        );
        taken += slice.len();
        if !slice.is_empty() {
            slices.push(slice);
        }
        if full {
            break;
        }
    }
    let records = match slices.len() {
        0 => Bytes::new(),
        1 => slices.pop().unwrap_or_default(),
        _ => {
            let mut joined = BytesMut::with_capacity(taken);
            for s in &slices {
                joined.extend_from_slice(s);
            }
            joined.freeze()
        }
    };
    (records, error)
}
