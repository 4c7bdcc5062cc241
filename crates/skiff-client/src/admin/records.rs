//! DeleteRecords (move log start offsets forward) and DescribeLogDirs (bytes kept per
//! partition), each asked of the brokers that lead the partitions.

use std::collections::BTreeMap;

use bytes::Bytes;
use futures::future::try_join_all;
use kafka_protocol::messages::delete_records_request::{
    DeleteRecordsPartition, DeleteRecordsTopic,
};
use kafka_protocol::messages::describe_log_dirs_request::DescribableLogDirTopic;
use kafka_protocol::messages::{DeleteRecordsRequest, DescribeLogDirsRequest, TopicName};

use super::offsets::partition_error;
use super::{ADMIN_TIMEOUT_MS, str_bytes};
use crate::client::KafkaClient;
use crate::error::ClientError;

/// DeleteRecords' "up to the high watermark".
pub const DELETE_ALL_RECORDS: i64 = -1;

/// A partition's log start offset after DeleteRecords (Kafka's low watermark).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeletedRecords {
    pub partition: i32,
    pub low_watermark: i64,
}

/// What DescribeLogDirs says about one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionStorage {
    pub partition: i32,
    pub size_bytes: i64,
    pub log_dir: String,
    /// Tagged fields the broker added that the protocol does not define (Skiff puts its object
    /// count in one), by tag.
    pub extra: BTreeMap<i32, Bytes>,
}

pub(crate) fn delete_records_request(
    topic: &str,
    partitions: &[(i32, i64)],
) -> DeleteRecordsRequest {
    let mut entry = DeleteRecordsTopic::default();
    entry.name = TopicName(str_bytes(topic));
    entry.partitions = partitions
        .iter()
        .map(|&(partition, offset)| {
            let mut p = DeleteRecordsPartition::default();
            p.partition_index = partition;
            p.offset = offset;
            p
        })
        .collect();
    let mut request = DeleteRecordsRequest::default();
    request.topics = vec![entry];
    request.timeout_ms = ADMIN_TIMEOUT_MS;
    request
}

pub(crate) fn describe_log_dirs_request(
    topic: &str,
    partitions: Vec<i32>,
) -> DescribeLogDirsRequest {
    let mut wanted = DescribableLogDirTopic::default();
    wanted.topic = TopicName(str_bytes(topic));
    wanted.partitions = partitions;
    let mut request = DescribeLogDirsRequest::default();
    request.topics = Some(vec![wanted]);
    request
}

impl KafkaClient {
    /// Deletes the records of `topic` before each partition's given offset
    /// ([`DELETE_ALL_RECORDS`]: all of them), partition by partition.
    pub async fn delete_records(
        &self,
        topic: &str,
        offsets: &[(i32, i64)],
    ) -> Result<Vec<DeletedRecords>, ClientError> {
        let mut by_leader: BTreeMap<i32, Vec<(i32, i64)>> = BTreeMap::new();
        for &(partition, offset) in offsets {
            let leader = self.leader_of(topic, partition).await?;
            by_leader
                .entry(leader)
                .or_default()
                .push((partition, offset));
        }
        let answers = try_join_all(
            by_leader
                .into_iter()
                .map(|(leader, partitions)| async move {
                    let connection = self.broker(leader).await?;
                    let request = delete_records_request(topic, &partitions);
                    let response = connection.send(&request).await?;
                    let mut done = Vec::new();
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
                            done.push(DeletedRecords {
                                partition: p.partition_index,
                                low_watermark: p.low_watermark,
                            });
                        }
                    }
                    Ok::<_, ClientError>(done)
                }),
        )
        .await?;
        let mut done: Vec<DeletedRecords> = answers.into_iter().flatten().collect();
        done.sort_by_key(|d| d.partition);
        if done.len() != offsets.len() {
            return Err(ClientError::IncompleteResponse {
                context: format!("cannot delete records of topic {topic}"),
            });
        }
        Ok(done)
    }

    /// The bytes each partition of `topic` keeps, asked of every broker that leads one (a
    /// broker reports the partitions it leads). Partitions nobody reports are left out.
    pub async fn describe_partition_storage(
        &self,
        topic: &str,
    ) -> Result<Vec<PartitionStorage>, ClientError> {
        let info = self.topic(topic).await?;
        let mut by_leader: BTreeMap<i32, Vec<i32>> = BTreeMap::new();
        for p in &info.partitions {
            let leader = self.leader_of(topic, p.partition).await?;
            by_leader.entry(leader).or_default().push(p.partition);
        }
        let answers = try_join_all(
            by_leader
                .into_iter()
                .map(|(leader, partitions)| async move {
                    let connection = self.broker(leader).await?;
                    let request = describe_log_dirs_request(topic, partitions);
                    let response = connection.send(&request).await?;
                    let mut found = Vec::new();
                    for dir in response.results {
                        for t in dir
                            .topics
                            .into_iter()
                            .filter(|t| t.name.0.as_str() == topic)
                        {
                            for p in t.partitions {
                                found.push(PartitionStorage {
                                    partition: p.partition_index,
                                    size_bytes: p.partition_size,
                                    log_dir: dir.log_dir.to_string(),
                                    extra: p.unknown_tagged_fields,
                                });
                            }
                        }
                    }
                    Ok::<_, ClientError>(found)
                }),
        )
        .await?;
        let mut found: Vec<PartitionStorage> = answers.into_iter().flatten().collect();
        found.sort_by_key(|p| p.partition);
        Ok(found)
    }
}
