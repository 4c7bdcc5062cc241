use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::{ListOffsetsRequest, ListOffsetsResponse};
use skiff_meta::{ControllerState, PartitionLog};

use crate::context::BrokerContext;
use crate::fetch::{PlannedEntry, offset_for_max_timestamp, offset_for_timestamp};
use crate::kafka_error::lookup_error_code;
use crate::security::authorizer::Caller;
use crate::topics::TopicLookup;
use skiff_meta::acl::AclOperation;

const LATEST: i64 = -1;
const EARLIEST: i64 = -2;
const MAX_TIMESTAMP: i64 = -3;
const EARLIEST_LOCAL: i64 = -4;
/// Entries searched for a timestamp before giving up: only more than one when clients wrote
/// batch max timestamps that no record carries.
const TIMESTAMP_SEARCH_ENTRIES: usize = 8;

/// What answering one partition takes, decided under the state lock.
enum Lookup {
    Answer {
        offset: i64,
        timestamp: i64,
    },
    Failed(i16),
    ByTimestamp {
        candidates: Vec<PlannedEntry>,
        target: i64,
    },
    MaxTimestamp {
        entry: PlannedEntry,
        batch_base_offset: i64,
        timestamp: i64,
    },
}

const NOT_FOUND: Lookup = Lookup::Answer {
    offset: -1,
    timestamp: -1,
};

pub async fn handle(
    ctx: &BrokerContext,
    caller: &Caller,
    request: ListOffsetsRequest,
    version: i16,
) -> ListOffsetsResponse {
    // Kafka's isolation levels: 0 READ_UNCOMMITTED, 1 READ_COMMITTED (the latest offset is
    // then the last stable offset).
    let read_committed = request.isolation_level == 1;
    let lookups: Vec<Vec<(i32, Lookup)>> = {
        let state = ctx.controller.state();
        let state = state.read();
        request
            .topics
            .iter()
            .map(|t| {
                let topic =
                    if ctx
                        .authorizer
                        .allows_topic(caller, AclOperation::Describe, t.name.as_str())
                    {
                        TopicLookup::Name(t.name.as_str())
                            .resolve(&state)
                            .map_err(lookup_error_code)
                    } else {
                        Err(ResponseError::TopicAuthorizationFailed.code())
                    };
                t.partitions
                    .iter()
                    .map(|p| {
                        let lookup = match &topic {
                            Err(code) => Lookup::Failed(*code),
                            Ok(topic) => match usize::try_from(p.partition_index)
                                .ok()
                                .and_then(|i| topic.partitions.get(i))
                            {
                                None => {
                                    Lookup::Failed(ResponseError::UnknownTopicOrPartition.code())
                                }
                                Some(log) => {
                                    let at = (
                                        topic.id,
                                        u32::try_from(p.partition_index).unwrap_or(u32::MAX),
                                    );
                                    let latest = match read_committed {
                                        true => state.last_stable_offset(at.0, at.1, log),
                                        false => log.high_watermark(),
                                    };
                                    plan(&state, log, p.timestamp, latest)
                                }
                            },
                        };
                        (p.partition_index, lookup)
                    })
                    .collect()
            })
            .collect()
    };

    let mut response = ListOffsetsResponse::default();
    for (topic, partitions) in request.topics.into_iter().zip(lookups) {
        let mut entry = ListOffsetsTopicResponse::default();
        entry.name = topic.name;
        for (index, lookup) in partitions {
            let mut p = ListOffsetsPartitionResponse::default();
            p.partition_index = index;
            match resolve(ctx, lookup).await {
                Ok((offset, timestamp)) => {
                    p.offset = offset;
                    p.timestamp = timestamp;
                }
                Err(code) => {
                    p.error_code = code;
                    p.offset = -1;
                    p.timestamp = -1;
                }
            }
            if version >= 4 {
                p.leader_epoch = -1;
            }
            entry.partitions.push(p);
        }
        response.topics.push(entry);
    }
    response
}

fn plan(state: &ControllerState, log: &PartitionLog, timestamp: i64, latest: i64) -> Lookup {
    let entry_at = |offset: i64| {
        log.entries_from(offset)
            .next()
            .and_then(|e| PlannedEntry::new(state, e))
    };
    match timestamp {
        LATEST => Lookup::Answer {
            offset: latest,
            timestamp: -1,
        },
        EARLIEST | EARLIEST_LOCAL => Lookup::Answer {
            offset: log.log_start_offset(),
            timestamp: -1,
        },
        MAX_TIMESTAMP => match log.max_timestamp() {
            None => NOT_FOUND,
            Some(max) => match entry_at(max.batch_base_offset) {
                Some(entry) => Lookup::MaxTimestamp {
                    entry,
                    batch_base_offset: max.batch_base_offset,
                    timestamp: max.timestamp,
                },
                None => NOT_FOUND,
            },
        },
        target if target >= 0 => {
            let Some(first) = log.first_entry_with_max_timestamp_at_or_after(target) else {
                return NOT_FOUND;
            };
            let candidates: Vec<PlannedEntry> = log
                .entries_from(first.base_offset)
                .filter(|e| e.max_timestamp >= target)
                .take(TIMESTAMP_SEARCH_ENTRIES)
                .filter_map(|e| PlannedEntry::new(state, e))
                .collect();
            Lookup::ByTimestamp { candidates, target }
        }
        _ => Lookup::Failed(ResponseError::InvalidRequest.code()),
    }
}

async fn resolve(ctx: &BrokerContext, lookup: Lookup) -> Result<(i64, i64), i16> {
    // Only a store that is down right now is an error (a retriable one); unreadable stored
    // batches are answered around and logged, so one bad batch cannot fail lookups forever.
    let storage_error = |_| ResponseError::KafkaStorageError.code();
    let found = match lookup {
        Lookup::Answer { offset, timestamp } => return Ok((offset, timestamp)),
        Lookup::Failed(code) => return Err(code),
        Lookup::ByTimestamp { candidates, target } => {
            offset_for_timestamp(&ctx.chunks, &candidates, target)
                .await
                .map_err(storage_error)?
        }
        Lookup::MaxTimestamp {
            entry,
            batch_base_offset,
            timestamp,
        } => offset_for_max_timestamp(&ctx.chunks, &entry, batch_base_offset, timestamp)
            .await
            .map_err(storage_error)?,
    };
    for skipped in &found.unreadable {
        ctx.warnings
            .unreadable_stored_data(&skipped.object_key, "ListOffsets", &skipped.reason);
    }
    Ok(found.found.unwrap_or((-1, -1)))
}
