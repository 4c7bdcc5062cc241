use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{BrokerId, MetadataRequest, MetadataResponse};
use skiff_meta::{BrokerInfo, ControllerState, Topic, TopicId};

use super::{str_bytes, topic_name};
use crate::authorized;
use crate::context::BrokerContext;
use crate::kafka_error::lookup_error_code;
use crate::security::authorizer::Caller;
use crate::topics::{TopicLookup, create_missing_topics};
use skiff_meta::acl::AclOperation;
use skiff_meta::placement::partition_leader;

pub async fn handle(
    ctx: &BrokerContext,
    caller: &Caller,
    request: MetadataRequest,
    version: i16,
) -> MetadataResponse {
    let authorizer = &ctx.authorizer;
    let may_describe = |name: &str| authorizer.allows_topic(caller, AclOperation::Describe, name);
    // Auto-creation needs CREATE on the cluster or on the topic, as in Kafka.
    let may_create_any = authorizer.allows_cluster(caller, AclOperation::Create);
    let may_create =
        |name: &str| may_create_any || authorizer.allows_topic(caller, AclOperation::Create, name);
    // Before v4 there was no opt-out: every Metadata request allowed auto-creation.
    let auto_create =
        ctx.config.auto_create_topics && (version < 4 || request.allow_auto_topic_creation);
    if auto_create && let Some(topics) = &request.topics {
        let names = topics
            .iter()
            .filter_map(|t| t.name.as_ref().map(|n| n.0.as_str()))
            .filter(|name| may_describe(name) && may_create(name))
            .map(str::to_string)
            .collect::<Vec<_>>();
        create_missing_topics(ctx, names.into_iter()).await;
    }

    let state = ctx.controller.state();
    let state = state.read();
    // Only live brokers lead partitions or appear to clients: an expired one may be dead.
    let brokers: Vec<BrokerInfo> = state.live_brokers().cloned().collect();
    let mut response = MetadataResponse::default();
    response.brokers = brokers.iter().map(|b| broker_entry(b, version)).collect();
    if version >= 2 {
        response.cluster_id = state.cluster_id().map(str_bytes);
    }
    if version >= 1 {
        // Admin requests may go to any broker (each one proposes to the controller), so the
        // answering broker names itself.
        response.controller_id = BrokerId(ctx.config.broker_id);
    }
    // Metadata v0 has no null topic list: there an empty list means every topic.
    let requested = request
        .topics
        .as_ref()
        .filter(|t| !(version == 0 && t.is_empty()));
    response.topics = match requested {
        // Topics the caller may not describe are left out, as Kafka does.
        None => state
            .topics()
            .filter(|t| may_describe(&t.name))
            .map(|t| topic_entry(t, &brokers, version))
            .collect(),
        Some(requested) => requested
            .iter()
            .map(|t| {
                let lookup = match &t.name {
                    Some(name) => TopicLookup::Name(name.0.as_str()),
                    None => TopicLookup::Id(t.topic_id),
                };
                let denied = match lookup {
                    TopicLookup::Name(name) => (!may_describe(name)
                        || (auto_create
                            && state.topic_by_name(name).is_none()
                            && !may_create(name)))
                    .then_some(ResponseError::TopicAuthorizationFailed),
                    // An id the caller may not describe is not confirmed to exist.
                    TopicLookup::Id(id) => state
                        .topic(&id)
                        .is_some_and(|topic| !may_describe(&topic.name))
                        .then_some(ResponseError::UnknownTopicId),
                };
                match denied {
                    Some(error) => denied_entry(lookup, error),
                    None => lookup_entry(&state, lookup, &brokers, version),
                }
            })
            .collect(),
    };
    // KIP-430: v8+ may ask for what the caller may do with each topic (and, up to v10, with
    // the cluster); the field's default says "not asked".
    if version >= 8 && request.include_topic_authorized_operations {
        for topic in response.topics.iter_mut().filter(|t| t.error_code == 0) {
            if let Some(name) = &topic.name {
                topic.topic_authorized_operations =
                    authorized::topic_operations(authorizer, caller, name.as_str());
            }
        }
    }
    if (8..=10).contains(&version) && request.include_cluster_authorized_operations {
        response.cluster_authorized_operations = authorized::cluster_operations(authorizer, caller);
    }
    response
}

fn denied_entry(lookup: TopicLookup<'_>, error: ResponseError) -> MetadataResponseTopic {
    let mut entry = MetadataResponseTopic::default();
    entry.error_code = error.code();
    match lookup {
        TopicLookup::Name(name) => entry.name = Some(topic_name(name)),
        TopicLookup::Id(id) => entry.topic_id = id,
    }
    entry
}

fn lookup_entry(
    state: &ControllerState,
    lookup: TopicLookup<'_>,
    brokers: &[BrokerInfo],
    version: i16,
) -> MetadataResponseTopic {
    match lookup.resolve(state) {
        Ok(topic) => topic_entry(topic, brokers, version),
        Err(e) => {
            let mut entry = MetadataResponseTopic::default();
            entry.error_code = lookup_error_code(e);
            match lookup {
                TopicLookup::Name(name) => entry.name = Some(topic_name(name)),
                TopicLookup::Id(id) => entry.topic_id = id,
            }
            entry
        }
    }
}

fn broker_entry(broker: &BrokerInfo, version: i16) -> MetadataResponseBroker {
    let mut entry = MetadataResponseBroker::default();
    entry.node_id = BrokerId(broker.id);
    entry.host = str_bytes(&broker.host);
    entry.port = i32::from(broker.port);
    if version >= 1 {
        entry.rack = broker.rack.as_deref().map(str_bytes);
    }
    entry
}

pub(crate) fn topic_entry(
    topic: &Topic,
    brokers: &[BrokerInfo],
    version: i16,
) -> MetadataResponseTopic {
    let mut entry = MetadataResponseTopic::default();
    entry.name = Some(topic_name(&topic.name));
    if version >= 10 {
        entry.topic_id = topic.id;
    }
    entry.partitions = (0..topic.partitions.len() as u32)
        .map(|p| partition_entry(&topic.id, p, brokers, version))
        .collect();
    entry
}

fn partition_entry(
    topic: &TopicId,
    partition: u32,
    brokers: &[BrokerInfo],
    version: i16,
) -> MetadataResponsePartition {
    let mut entry = MetadataResponsePartition::default();
    entry.partition_index = partition as i32;
    match partition_leader(topic, partition, brokers) {
        Some(leader) => {
            entry.leader_id = BrokerId(leader);
            entry.replica_nodes = vec![BrokerId(leader)];
            entry.isr_nodes = vec![BrokerId(leader)];
        }
        None => {
            entry.error_code = ResponseError::LeaderNotAvailable.code();
            entry.leader_id = BrokerId(-1);
        }
    }
    if version >= 7 {
        // Skiff has no replica log to diverge, so it reports no leader epoch and clients skip
        // epoch-based truncation checks (OffsetForLeaderEpoch) entirely.
        entry.leader_epoch = -1;
    }
    entry
}
