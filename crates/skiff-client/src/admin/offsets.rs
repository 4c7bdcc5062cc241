//! ListOffsets: earliest, latest and by-timestamp offsets of a topic's partitions, asked of
//! each partition's leader.

use std::collections::BTreeMap;

use futures::future::try_join_all;
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::{BrokerId, ListOffsetsRequest, TopicName};

use super::str_bytes;
use crate::client::KafkaClient;
use crate::error::ClientError;
use crate::kafka_code::KafkaCode;

const LATEST: i64 = -1;
const EARLIEST: i64 = -2;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetSpec {
    /// The log start offset.
    Earliest,
    /// The high watermark: the offset the next record will get.
    Latest,
    /// The first offset whose record timestamp is at or after this (ms since the epoch).
    Timestamp(i64),
}

impl OffsetSpec {
    fn wire(self) -> i64 {
        match self {
            OffsetSpec::Earliest => EARLIEST,
            OffsetSpec::Latest => LATEST,
            OffsetSpec::Timestamp(ms) => ms,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionOffset {
    pub partition: i32,
    /// -1 when asked by timestamp and no record is that recent.
    pub offset: i64,
    /// The found record's timestamp (by-timestamp lookups), otherwise -1.
    pub timestamp: i64,
}

pub(crate) fn list_offsets_request(
    topic: &str,
    partitions: &[i32],
    spec: OffsetSpec,
) -> ListOffsetsRequest {
    let mut entry = ListOffsetsTopic::default();
    entry.name = TopicName(str_bytes(topic));
    entry.partitions = partitions
        .iter()
        .map(|&p| {
            let mut partition = ListOffsetsPartition::default();
            partition.partition_index = p;
            partition.timestamp = spec.wire();
            partition
        })
        .collect();
    let mut request = ListOffsetsRequest::default();
    // A consumer, not a replica.
    request.replica_id = BrokerId(-1);
    request.topics = vec![entry];
    request
}

impl KafkaClient {
    /// Offsets of `partitions` of `topic` (every partition when empty), sorted by partition.
    pub async fn list_offsets(
        &self,
        topic: &str,
        partitions: &[i32],
        spec: OffsetSpec,
    ) -> Result<Vec<PartitionOffset>, ClientError> {
        self.retry_once(Some(topic), async || {
            self.list_offsets_once(topic, partitions, spec).await
        })
        .await
    }

    async fn list_offsets_once(
        &self,
        topic: &str,
        partitions: &[i32],
        spec: OffsetSpec,
    ) -> Result<Vec<PartitionOffset>, ClientError> {
        let info = self.topic(topic).await?;
        let wanted: Vec<i32> = if partitions.is_empty() {
            info.partitions.iter().map(|p| p.partition).collect()
        } else {
            partitions.to_vec()
        };
        let mut by_leader: BTreeMap<i32, Vec<i32>> = BTreeMap::new();
        for &partition in &wanted {
            let leader = self.leader_of(topic, partition).await?;
            by_leader.entry(leader).or_default().push(partition);
        }
        let answers = try_join_all(
            by_leader
                .into_iter()
                .map(|(leader, partitions)| async move {
                    let connection = self.broker(leader).await?;
                    let request = list_offsets_request(topic, &partitions, spec);
                    let response = connection.send(&request).await?;
                    let mut found = Vec::with_capacity(partitions.len());
                    for t in response
                        .topics
                        .into_iter()
                        .filter(|t| t.name.0.as_str() == topic)
                    {
                        for p in t.partitions {
                            if p.error_code != 0 {
                                return Err(partition_error(
                                    topic,
                                    p.partition_index,
                                    p.error_code,
                                ));
                            }
                            found.push(PartitionOffset {
                                partition: p.partition_index,
                                offset: p.offset,
                                timestamp: p.timestamp,
                            });
                        }
                    }
                    Ok::<_, ClientError>(found)
                }),
        )
        .await?;
        let mut offsets: Vec<PartitionOffset> = answers.into_iter().flatten().collect();
        offsets.sort_by_key(|o| o.partition);
        if offsets.len() != wanted.len() {
            return Err(ClientError::IncompleteResponse {
                context: format!("cannot list offsets of topic {topic}"),
            });
        }
        Ok(offsets)
    }
}

pub(crate) fn partition_error(topic: &str, partition: i32, code: i16) -> ClientError {
    ClientError::Kafka {
        code: KafkaCode(code),
        context: format!("{topic}-{partition}"),
        message: None,
    }
}
