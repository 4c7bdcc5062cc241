//! Consumer-group administration: FindCoordinator, ListGroups, DescribeGroups, OffsetFetch,
//! OffsetCommit (standalone, outside any generation) and DeleteGroups.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::future::join_all;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use kafka_protocol::messages::{
    ApiKey, DeleteGroupsRequest, DescribeGroupsRequest, FindCoordinatorRequest, GroupId,
    ListGroupsRequest, OffsetCommitRequest, OffsetFetchRequest, TopicName,
};

use super::consumer_protocol::{MemberAssignment, MemberSubscription};
use super::str_bytes;
use super::topics::missing;
use crate::client::KafkaClient;
use crate::connection::BrokerConnection;
use crate::error::ClientError;
use crate::kafka_code::KafkaCode;
use crate::metadata::BrokerInfo;

const GROUP_KEY: i8 = 0;
const CONSUMER_PROTOCOL: &str = "consumer";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupListing {
    pub group_id: String,
    pub protocol_type: String,
    /// Known from ListGroups v4 on.
    pub state: Option<String>,
    pub coordinator: i32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMember {
    pub member_id: String,
    pub instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    /// Decoded for consumer groups; None for other protocols or undecodable bytes.
    pub subscription: Option<MemberSubscription>,
    pub assignment: Option<MemberAssignment>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupDescription {
    pub group_id: String,
    pub state: String,
    pub protocol_type: String,
    /// The assignor in use (e.g. `range`), empty while rebalancing.
    pub protocol: String,
    pub members: Vec<GroupMember>,
    pub coordinator: BrokerInfo,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommittedOffset {
    pub topic: String,
    pub partition: i32,
    /// -1 when nothing is committed.
    pub offset: i64,
    pub metadata: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetToCommit {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub metadata: Option<String>,
}

pub(crate) fn find_coordinator_request(group: &str, version: i16) -> FindCoordinatorRequest {
    let mut request = FindCoordinatorRequest::default();
    request.key_type = GROUP_KEY;
    // v4 batches keys; earlier versions carry one.
    if version >= 4 {
        request.coordinator_keys = vec![str_bytes(group)];
    } else {
        request.key = str_bytes(group);
    }
    request
}

pub(crate) fn offset_fetch_request(
    group: &str,
    topics: Option<&[(String, Vec<i32>)]>,
) -> OffsetFetchRequest {
    let mut request = OffsetFetchRequest::default();
    request.group_id = GroupId(str_bytes(group));
    request.topics = topics.map(|topics| {
        topics
            .iter()
            .map(|(topic, partitions)| {
                let mut entry = OffsetFetchRequestTopic::default();
                entry.name = TopicName(str_bytes(topic));
                entry.partition_indexes.clone_from(partitions);
                entry
            })
            .collect()
    });
    request
}

/// A commit as a group member, in the generation it belongs to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MemberCommit<'a> {
    pub generation_id: i32,
    pub member_id: &'a str,
}

/// An OffsetCommit request: standalone (generation -1, no member) without `member`.
pub(crate) fn offset_commit_request(
    group: &str,
    offsets: &[OffsetToCommit],
    member: Option<MemberCommit<'_>>,
) -> OffsetCommitRequest {
    let mut by_topic: BTreeMap<&str, Vec<OffsetCommitRequestPartition>> = BTreeMap::new();
    for o in offsets {
        let mut partition = OffsetCommitRequestPartition::default();
        partition.partition_index = o.partition;
        partition.committed_offset = o.offset;
        partition.committed_metadata = Some(str_bytes(o.metadata.as_deref().unwrap_or("")));
        by_topic.entry(&o.topic).or_default().push(partition);
    }
    let mut request = OffsetCommitRequest::default();
    request.group_id = GroupId(str_bytes(group));
    match member {
        Some(member) => {
            request.generation_id_or_member_epoch = member.generation_id;
            request.member_id = str_bytes(member.member_id);
        }
        // Generation -1 and no member: a standalone commit, as assign()-consumers and tools make.
        None => request.generation_id_or_member_epoch = -1,
    }
    request.topics = by_topic
        .into_iter()
        .map(|(topic, partitions)| {
            let mut entry = OffsetCommitRequestTopic::default();
            entry.name = TopicName(str_bytes(topic));
            entry.partitions = partitions;
            entry
        })
        .collect();
    request
}

pub(crate) fn delete_groups_request(groups: &[&str]) -> DeleteGroupsRequest {
    let mut request = DeleteGroupsRequest::default();
    request.groups_names = groups.iter().map(|g| GroupId(str_bytes(g))).collect();
    request
}

impl KafkaClient {
    /// The broker coordinating `group`, asked with FindCoordinator and cached.
    pub async fn find_coordinator(&self, group: &str) -> Result<BrokerInfo, ClientError> {
        if let Some(known) = self.cached_coordinator(group) {
            return Ok(known);
        }
        let context = format!("cannot find the coordinator of group {group}");
        let connection = self.any_broker().await?;
        let version = connection.require_version(ApiKey::FindCoordinator)?;
        let response = connection
            .send(&find_coordinator_request(group, version))
            .await?;
        let (code, message, node_id, host, port) = if version >= 4 {
            let c = response
                .coordinators
                .into_iter()
                .next()
                .ok_or_else(|| missing(&context))?;
            (c.error_code, c.error_message, c.node_id, c.host, c.port)
        } else {
            (
                response.error_code,
                response.error_message,
                response.node_id,
                response.host,
                response.port,
            )
        };
        if code != 0 {
            return Err(ClientError::kafka(code, context, message.as_deref()));
        }
        let broker = BrokerInfo {
            id: node_id.0,
            host: host.to_string(),
            port,
            rack: None,
        };
        self.remember_coordinator(group, broker.clone());
        Ok(broker)
    }

    /// A connection to the group's coordinator.
    pub async fn coordinator(&self, group: &str) -> Result<Arc<BrokerConnection>, ClientError> {
        let broker = self.find_coordinator(group).await?;
        self.connection_to_broker(&broker).await
    }

    /// Runs `attempt` against the coordinator; after NOT_COORDINATOR and friends, finds the
    /// coordinator again and retries once.
    async fn with_coordinator<T>(
        &self,
        group: &str,
        mut attempt: impl AsyncFnMut(Arc<BrokerConnection>) -> Result<T, ClientError>,
    ) -> Result<T, ClientError> {
        let connection = self.coordinator(group).await?;
        match attempt(connection).await {
            Err(error) if error.wants_metadata_refresh() => {
                self.forget_coordinator(group);
                let connection = self.coordinator(group).await?;
                attempt(connection).await
            }
            result => result,
        }
    }

    /// Every group on every broker, sorted by id.
    pub async fn list_groups(&self) -> Result<Vec<GroupListing>, ClientError> {
        let metadata = self.fetch_metadata(Some(&[])).await?;
        let answers = join_all(metadata.brokers.keys().map(|&id| async move {
            let connection = self.broker(id).await?;
            let response = connection.send(&ListGroupsRequest::default()).await?;
            if response.error_code != 0 {
                return Err(ClientError::kafka(
                    response.error_code,
                    format!("cannot list the groups of broker {id}"),
                    None,
                ));
            }
            Ok(response
                .groups
                .into_iter()
                .map(|g| GroupListing {
                    group_id: g.group_id.0.to_string(),
                    protocol_type: g.protocol_type.to_string(),
                    state: Some(g.group_state.to_string()).filter(|s| !s.is_empty()),
                    coordinator: id,
                })
                .collect::<Vec<_>>())
        }))
        .await;
        let mut groups = Vec::new();
        for answer in answers {
            groups.extend(answer?);
        }
        groups.sort_by(|a, b| a.group_id.cmp(&b.group_id));
        Ok(groups)
    }

    /// A group's state and members, with consumer subscriptions and assignments decoded.
    pub async fn describe_group(&self, group: &str) -> Result<GroupDescription, ClientError> {
        let context = format!("cannot describe group {group}");
        let mut request = DescribeGroupsRequest::default();
        request.groups = vec![GroupId(str_bytes(group))];
        self.with_coordinator(group, async |connection| {
            let response = connection.send(&request).await?;
            let described = response
                .groups
                .into_iter()
                .next()
                .ok_or_else(|| missing(&context))?;
            if described.error_code != 0 {
                return Err(ClientError::kafka(
                    described.error_code,
                    context.as_str(),
                    described.error_message.as_deref(),
                ));
            }
            let consumer = described.protocol_type.as_str() == CONSUMER_PROTOCOL;
            let members = described
                .members
                .into_iter()
                .map(|m| GroupMember {
                    member_id: m.member_id.to_string(),
                    instance_id: m.group_instance_id.map(|i| i.to_string()),
                    client_id: m.client_id.to_string(),
                    client_host: m.client_host.to_string(),
                    subscription: consumer
                        .then(|| MemberSubscription::decode(&m.member_metadata).ok())
                        .flatten(),
                    assignment: consumer
                        .then(|| MemberAssignment::decode(&m.member_assignment).ok())
                        .flatten(),
                })
                .collect();
            Ok(GroupDescription {
                group_id: described.group_id.0.to_string(),
                state: described.group_state.to_string(),
                protocol_type: described.protocol_type.to_string(),
                protocol: described.protocol_data.to_string(),
                members,
                coordinator: self.find_coordinator(group).await?,
            })
        })
        .await
    }

    /// Committed offsets of a group: of the given topic partitions, or of everything it has
    /// committed (`None`, OffsetFetch v2+).
    pub async fn fetch_committed_offsets(
        &self,
        group: &str,
        topics: Option<&[(String, Vec<i32>)]>,
    ) -> Result<Vec<CommittedOffset>, ClientError> {
        let context = format!("cannot fetch the committed offsets of group {group}");
        let request = offset_fetch_request(group, topics);
        self.with_coordinator(group, async |connection| {
            if request.topics.is_none()
                && connection.version_for(ApiKey::OffsetFetch).unwrap_or(0) < 2
            {
                return Err(ClientError::UnsupportedApi {
                    api: "OffsetFetch for all topics",
                    addr: connection.addr().to_owned(),
                });
            }
            let response = connection.send(&request).await?;
            if response.error_code != 0 {
                return Err(ClientError::kafka(
                    response.error_code,
                    context.as_str(),
                    None,
                ));
            }
            let mut offsets = Vec::new();
            for topic in response.topics {
                for p in topic.partitions {
                    if p.error_code != 0 {
                        return Err(ClientError::Kafka {
                            code: KafkaCode(p.error_code),
                            context: format!("{context} ({}-{})", topic.name.0, p.partition_index),
                            message: None,
                        });
                    }
                    offsets.push(CommittedOffset {
                        topic: topic.name.0.to_string(),
                        partition: p.partition_index,
                        offset: p.committed_offset,
                        metadata: p.metadata.map(|m| m.to_string()),
                    });
                }
            }
            offsets.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
            Ok(offsets)
        })
        .await
    }

    /// Commits offsets outside any generation (what reset tools and assign()-consumers do).
    pub async fn commit_offsets(
        &self,
        group: &str,
        offsets: &[OffsetToCommit],
    ) -> Result<(), ClientError> {
        let context = format!("cannot commit offsets of group {group}");
        let request = offset_commit_request(group, offsets, None);
        self.with_coordinator(group, async |connection| {
            let response = connection.send(&request).await?;
            for topic in &response.topics {
                for p in &topic.partitions {
                    if p.error_code != 0 {
                        return Err(ClientError::Kafka {
                            code: KafkaCode(p.error_code),
                            context: format!("{context} ({}-{})", topic.name.0, p.partition_index),
                            message: None,
                        });
                    }
                }
            }
            Ok(())
        })
        .await
    }

    /// Deletes a group and its committed offsets (refused by brokers while it has members).
    pub async fn delete_group(&self, group: &str) -> Result<(), ClientError> {
        let context = format!("cannot delete group {group}");
        let request = delete_groups_request(&[group]);
        self.with_coordinator(group, async |connection| {
            let response = connection.send(&request).await?;
            let result = response
                .results
                .iter()
                .find(|r| r.group_id.0.as_str() == group)
                .ok_or_else(|| missing(&context))?;
            match result.error_code {
                0 => Ok(()),
                code => Err(ClientError::kafka(code, context.as_str(), None)),
            }
        })
        .await
    }
}
