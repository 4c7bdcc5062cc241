use std::collections::{BTreeMap, BTreeSet};

use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use kafka_protocol::messages::{GroupId, OffsetFetchRequest, OffsetFetchResponse};
use skiff_meta::{ControllerState, TopicId, TxnStatus};

use super::group_common::{authorize_group, check_group, error_code};
use super::{str_bytes, topic_name};
use crate::context::BrokerContext;
use crate::security::authorizer::Caller;
use kafka_protocol::error::ResponseError;
use skiff_meta::acl::AclOperation;

/// One partition's committed offset, or -1 with empty metadata when nothing was committed.
struct FetchedOffset {
    partition: i32,
    error_code: i16,
    offset: i64,
    leader_epoch: i32,
    metadata: String,
}

/// Topic name → its partitions' offsets, in request (or topic id) order.
type FetchedTopics = Vec<(String, Vec<FetchedOffset>)>;

/// Offsets are read from the controller's state, where commits are applied before they are
/// acknowledged, so a consumer always reads back what it committed.
pub fn handle(
    ctx: &BrokerContext,
    caller: &Caller,
    request: OffsetFetchRequest,
    version: i16,
) -> OffsetFetchResponse {
    let mut response = OffsetFetchResponse::default();
    // KIP-447 (v7+): a consumer that must not read past an open transaction's offsets.
    let require_stable = version >= 7 && request.require_stable;
    if version >= 8 {
        response.groups = request
            .groups
            .into_iter()
            .map(|g| {
                let wanted = g.topics.map(|topics| {
                    topics
                        .into_iter()
                        .map(|t| (t.name.0.to_string(), t.partition_indexes))
                        .collect()
                });
                group_entry(ctx, caller, g.group_id, wanted, require_stable)
            })
            .collect();
        return response;
    }
    let wanted = request.topics.as_ref().map(|topics| {
        topics
            .iter()
            .map(|t| (t.name.0.to_string(), t.partition_indexes.clone()))
            .collect()
    });
    match fetch(
        ctx,
        caller,
        request.group_id.0.as_str(),
        wanted,
        require_stable,
    ) {
        Ok(topics) => response.topics = topics.into_iter().map(legacy_topic).collect(),
        // v1 has no group-level error: it goes on every requested partition instead.
        Err(code) if version < 2 => {
            response.topics = request_topics_with_error(&request.topics, code);
        }
        Err(code) => response.error_code = code,
    }
    response
}

fn group_entry(
    ctx: &BrokerContext,
    caller: &Caller,
    group_id: GroupId,
    wanted: Option<Vec<(String, Vec<i32>)>>,
    require_stable: bool,
) -> OffsetFetchResponseGroup {
    let mut group = OffsetFetchResponseGroup::default();
    match fetch(ctx, caller, group_id.0.as_str(), wanted, require_stable) {
        Ok(topics) => {
            group.topics = topics
                .into_iter()
                .map(|(name, partitions)| {
                    let mut topic = OffsetFetchResponseTopics::default();
                    topic.name = topic_name(&name);
                    topic.partitions = partitions
                        .into_iter()
                        .map(|p| {
                            let mut out = OffsetFetchResponsePartitions::default();
                            out.partition_index = p.partition;
                            out.committed_offset = p.offset;
                            out.committed_leader_epoch = p.leader_epoch;
                            out.metadata = Some(str_bytes(&p.metadata));
                            out.error_code = p.error_code;
                            out
                        })
                        .collect();
                    topic
                })
                .collect();
        }
        Err(code) => group.error_code = code,
    }
    group.group_id = group_id;
    group
}

fn legacy_topic((name, partitions): (String, Vec<FetchedOffset>)) -> OffsetFetchResponseTopic {
    let mut topic = OffsetFetchResponseTopic::default();
    topic.name = topic_name(&name);
    topic.partitions = partitions
        .into_iter()
        .map(|p| {
            let mut out = OffsetFetchResponsePartition::default();
            out.partition_index = p.partition;
            out.committed_offset = p.offset;
            out.committed_leader_epoch = p.leader_epoch;
            out.metadata = Some(str_bytes(&p.metadata));
            out.error_code = p.error_code;
            out
        })
        .collect();
    topic
}

fn request_topics_with_error(
    topics: &Option<Vec<kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic>>,
    code: i16,
) -> Vec<OffsetFetchResponseTopic> {
    topics
        .iter()
        .flatten()
        .map(|t| {
            let mut topic = OffsetFetchResponseTopic::default();
            topic.name = t.name.clone();
            topic.partitions = t
                .partition_indexes
                .iter()
                .map(|p| {
                    let mut out = OffsetFetchResponsePartition::default();
                    out.partition_index = *p;
                    out.committed_offset = -1;
                    out.error_code = code;
                    out
                })
                .collect();
            topic
        })
        .collect()
}

/// The group's offsets for the wanted topics (`None`: every topic it committed to), or the
/// group-level error code.
fn fetch(
    ctx: &BrokerContext,
    caller: &Caller,
    group_id: &str,
    wanted: Option<Vec<(String, Vec<i32>)>>,
    require_stable: bool,
) -> Result<FetchedTopics, i16> {
    // Kafka needs DESCRIBE on the group, and DESCRIBE on each topic whose offsets it returns.
    authorize_group(ctx, caller, AclOperation::Describe, group_id)
        .and_then(|()| check_group(ctx, group_id, false))
        .map_err(error_code)?;
    let may_describe = |topic: &str| {
        ctx.authorizer
            .allows_topic(caller, AclOperation::Describe, topic)
    };
    let state = ctx.controller.state();
    let state = state.read();
    let mut fetched = match wanted {
        Some(topics) => topics
            .into_iter()
            .map(|(name, partitions)| {
                let allowed = may_describe(&name);
                let offsets = partitions
                    .into_iter()
                    .map(|p| {
                        if allowed {
                            committed(&state, group_id, &name, p)
                        } else {
                            FetchedOffset {
                                error_code: ResponseError::TopicAuthorizationFailed.code(),
                                ..nothing_committed(p)
                            }
                        }
                    })
                    .collect();
                (name, offsets)
            })
            .collect(),
        None => {
            let mut all = all_committed(&state, group_id);
            all.retain(|(name, _)| may_describe(name));
            all
        }
    };
    if require_stable {
        mark_unstable(&state, group_id, &mut fetched);
    }
    Ok(fetched)
}

/// Partitions an open transaction holds offsets for (TxnOffsetCommit, not committed yet) are
/// answered UNSTABLE_OFFSET_COMMIT, which the consumer retries, as Kafka does for
/// `require_stable`. Costs the transactional ids in the state, at consumer start and
/// rebalance only.
fn mark_unstable(state: &ControllerState, group_id: &str, fetched: &mut FetchedTopics) {
    let pending: BTreeSet<(TopicId, u32)> = state
        .txns()
        .iter()
        .filter(|(_, txn)| txn.status() == TxnStatus::Ongoing)
        .flat_map(|(_, txn)| txn.groups())
        .filter(|(group, _)| *group == group_id)
        .filter_map(|(_, offsets)| offsets)
        .flat_map(|offsets| offsets.partitions.iter())
        .map(|p| (p.topic_id, p.partition))
        .collect();
    if pending.is_empty() {
        return;
    }
    for (name, partitions) in fetched.iter_mut() {
        let Some(topic) = state.topic_by_name(name) else {
            continue;
        };
        for p in partitions.iter_mut() {
            let at = u32::try_from(p.partition).map(|index| (topic.id, index));
            if at.is_ok_and(|at| pending.contains(&at)) {
                *p = FetchedOffset {
                    error_code: ResponseError::UnstableOffsetCommit.code(),
                    ..nothing_committed(p.partition)
                };
            }
        }
    }
}

fn nothing_committed(partition: i32) -> FetchedOffset {
    FetchedOffset {
        partition,
        error_code: 0,
        offset: -1,
        leader_epoch: -1,
        metadata: String::new(),
    }
}

fn committed(
    state: &ControllerState,
    group_id: &str,
    topic: &str,
    partition: i32,
) -> FetchedOffset {
    let found = state
        .topic_by_name(topic)
        .zip(u32::try_from(partition).ok())
        .and_then(|(t, p)| state.group(group_id)?.offset(t.id, p));
    match found {
        Some(o) => FetchedOffset {
            partition,
            error_code: 0,
            offset: o.offset,
            leader_epoch: o.leader_epoch,
            metadata: o.metadata.clone(),
        },
        None => nothing_committed(partition),
    }
}

fn all_committed(state: &ControllerState, group_id: &str) -> FetchedTopics {
    let Some(group) = state.group(group_id) else {
        return Vec::new();
    };
    let mut by_topic: BTreeMap<String, Vec<FetchedOffset>> = BTreeMap::new();
    for (topic_id, partition, o) in group.offsets() {
        // Offsets of deleted topics are dropped with the topic; skip any in between.
        let Some(topic) = state.topic(&topic_id) else {
            continue;
        };
        by_topic
            .entry(topic.name.clone())
            .or_default()
            .push(FetchedOffset {
                partition: i32::try_from(partition).unwrap_or(i32::MAX),
                error_code: 0,
                offset: o.offset,
                leader_epoch: o.leader_epoch,
                metadata: o.metadata.clone(),
            });
    }
    by_topic.into_iter().collect()
}
