//! The cluster as Metadata describes it: brokers, controller, topics and partition leaders.

use std::collections::BTreeMap;

use kafka_protocol::messages::MetadataResponse;
use uuid::Uuid;

use crate::kafka_code::KafkaCode;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerInfo {
    pub id: i32,
    pub host: String,
    pub port: i32,
    pub rack: Option<String>,
}

impl BrokerInfo {
    /// `host:port`, with IPv6 hosts bracketed.
    pub fn addr(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionInfo {
    pub partition: i32,
    /// None while the partition has no leader.
    pub leader: Option<i32>,
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
    pub error: Option<KafkaCode>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicInfo {
    pub name: String,
    /// Known from Metadata v10 on.
    pub id: Option<Uuid>,
    pub internal: bool,
    /// Sorted by partition number.
    pub partitions: Vec<PartitionInfo>,
}

impl TopicInfo {
    pub fn partition(&self, partition: i32) -> Option<&PartitionInfo> {
        usize::try_from(partition)
            .ok()
            .and_then(|i| self.partitions.get(i))
            .filter(|p| p.partition == partition)
            .or_else(|| self.partitions.iter().find(|p| p.partition == partition))
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterMetadata {
    pub cluster_id: Option<String>,
    /// The broker the cluster names as controller (for Skiff: the broker that answered, since
    /// every broker takes admin requests).
    pub controller_id: Option<i32>,
    pub brokers: BTreeMap<i32, BrokerInfo>,
    pub topics: BTreeMap<String, TopicInfo>,
}

/// What one Metadata response says, including per-topic errors.
pub(crate) struct MetadataUpdate {
    pub cluster_id: Option<String>,
    pub controller_id: Option<i32>,
    pub brokers: BTreeMap<i32, BrokerInfo>,
    pub topics: Vec<TopicInfo>,
    pub topic_errors: Vec<(String, KafkaCode)>,
}

impl MetadataUpdate {
    pub(crate) fn from_response(response: MetadataResponse) -> Self {
        let brokers = response
            .brokers
            .into_iter()
            .map(|b| {
                let info = BrokerInfo {
                    id: b.node_id.0,
                    host: b.host.to_string(),
                    port: b.port,
                    rack: b.rack.map(|r| r.to_string()),
                };
                (info.id, info)
            })
            .collect();
        let mut topics = Vec::with_capacity(response.topics.len());
        let mut topic_errors = Vec::new();
        for topic in response.topics {
            let name = topic
                .name
                .map(|n| n.0.to_string())
                .unwrap_or_else(|| topic.topic_id.to_string());
            if topic.error_code != 0 && topic.partitions.is_empty() {
                topic_errors.push((name, KafkaCode(topic.error_code)));
                continue;
            }
            let mut partitions: Vec<PartitionInfo> = topic
                .partitions
                .into_iter()
                .map(|p| PartitionInfo {
                    partition: p.partition_index,
                    leader: (p.leader_id.0 >= 0).then_some(p.leader_id.0),
                    replicas: p.replica_nodes.iter().map(|b| b.0).collect(),
                    isr: p.isr_nodes.iter().map(|b| b.0).collect(),
                    error: (p.error_code != 0).then_some(KafkaCode(p.error_code)),
                })
                .collect();
            partitions.sort_by_key(|p| p.partition);
            topics.push(TopicInfo {
                name,
                id: (!topic.topic_id.is_nil()).then_some(topic.topic_id),
                internal: topic.is_internal,
                partitions,
            });
        }
        MetadataUpdate {
            cluster_id: response.cluster_id.map(|c| c.to_string()),
            controller_id: (response.controller_id.0 >= 0).then_some(response.controller_id.0),
            brokers,
            topics,
            topic_errors,
        }
    }
}

impl ClusterMetadata {
    /// Applies a response. With `all_topics`, topics it does not list are gone; otherwise only
    /// the topics it names change (those reported unknown are dropped).
    pub(crate) fn apply(&mut self, update: &MetadataUpdate, all_topics: bool) {
        self.cluster_id.clone_from(&update.cluster_id);
        self.controller_id = update.controller_id;
        self.brokers.clone_from(&update.brokers);
        if all_topics {
            self.topics.clear();
        }
        for (name, _) in &update.topic_errors {
            self.topics.remove(name);
        }
        for topic in &update.topics {
            self.topics.insert(topic.name.clone(), topic.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::metadata_response::{
        MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
    };
    use kafka_protocol::messages::{BrokerId, TopicName};
    use kafka_protocol::protocol::StrBytes;

    fn response() -> MetadataResponse {
        let mut r = MetadataResponse::default();
        let mut broker = MetadataResponseBroker::default();
        broker.node_id = BrokerId(1);
        broker.host = StrBytes::from_static_str("::1");
        broker.port = 9092;
        r.brokers = vec![broker];
        r.controller_id = BrokerId(1);
        let mut topic = MetadataResponseTopic::default();
        topic.name = Some(TopicName(StrBytes::from_static_str("orders")));
        topic.partitions = [1, 0]
            .into_iter()
            .map(|i| {
                let mut p = MetadataResponsePartition::default();
                p.partition_index = i;
                p.leader_id = BrokerId(if i == 0 { 1 } else { -1 });
                p
            })
            .collect();
        let mut missing = MetadataResponseTopic::default();
        missing.name = Some(TopicName(StrBytes::from_static_str("gone")));
        missing.error_code = 3;
        r.topics = vec![topic, missing];
        r
    }

    #[test]
    fn responses_become_sorted_topics_and_named_errors() {
        let update = MetadataUpdate::from_response(response());
        assert_eq!(update.brokers[&1].addr(), "[::1]:9092");
        assert_eq!(update.topics.len(), 1);
        let orders = &update.topics[0];
        assert_eq!(orders.partitions[0].partition, 0);
        assert_eq!(orders.partitions[0].leader, Some(1));
        assert_eq!(orders.partition(1).unwrap().leader, None);
        assert_eq!(update.topic_errors, [("gone".to_owned(), KafkaCode(3))]);
    }

    #[test]
    fn partial_updates_keep_other_topics_and_drop_unknown_ones() {
        let mut cache = ClusterMetadata::default();
        cache.topics.insert(
            "gone".into(),
            TopicInfo {
                name: "gone".into(),
                id: None,
                internal: false,
                partitions: vec![],
            },
        );
        cache.topics.insert(
            "other".into(),
            TopicInfo {
                name: "other".into(),
                id: None,
                internal: false,
                partitions: vec![],
            },
        );
        cache.apply(&MetadataUpdate::from_response(response()), false);
        assert!(cache.topics.contains_key("orders"));
        assert!(cache.topics.contains_key("other"));
        assert!(!cache.topics.contains_key("gone"));
        cache.apply(&MetadataUpdate::from_response(response()), true);
        assert!(!cache.topics.contains_key("other"));
    }
}
