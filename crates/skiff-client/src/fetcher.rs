//! Reads assigned partitions from their leaders: one Fetch per leader per poll, long-polling
//! up to `max_wait`, records decoded with kafka-protocol's `RecordBatchDecoder` and
//! skiff-records' bounded decompression.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::future::join_all;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::{BrokerId, FetchRequest, FetchResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{RecordBatchDecoder, TimestampType};
use skiff_records::{BatchView, batches};

use crate::client::KafkaClient;
use crate::codec::decompressor;
use crate::error::ClientError;
use crate::kafka_code::{KafkaCode, OFFSET_OUT_OF_RANGE};
use crate::record::ConsumedRecord;

#[derive(Debug, Clone)]
pub struct FetchConfig {
    /// How long a broker may hold a fetch while it has less than `min_bytes`.
    pub max_wait: Duration,
    pub min_bytes: i32,
    pub max_bytes: i32,
    pub partition_max_bytes: i32,
    /// Read only committed transactional data (isolation level 1).
    pub read_committed: bool,
}

impl Default for FetchConfig {
    fn default() -> Self {
        FetchConfig {
            max_wait: Duration::from_millis(500),
            min_bytes: 1,
            max_bytes: 50 * 1024 * 1024,
            partition_max_bytes: 1024 * 1024,
            read_committed: false,
        }
    }
}

/// Where reading continues in one assigned partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionPosition {
    pub topic: Arc<str>,
    pub partition: i32,
    /// The next offset to read.
    pub offset: i64,
    /// The partition's end as of the last fetch, -1 before the first.
    pub high_watermark: i64,
}

pub struct Fetcher {
    client: KafkaClient,
    config: FetchConfig,
    positions: Vec<PartitionPosition>,
}

impl Fetcher {
    pub fn new(client: KafkaClient, config: FetchConfig) -> Self {
        Fetcher {
            client,
            config,
            positions: Vec::new(),
        }
    }

    /// Reads `partition` of `topic` from `offset` on (replacing an earlier position).
    pub fn assign(&mut self, topic: &str, partition: i32, offset: i64) {
        match self
            .positions
            .iter_mut()
            .find(|p| &*p.topic == topic && p.partition == partition)
        {
            Some(position) => position.offset = offset,
            None => self.positions.push(PartitionPosition {
                topic: Arc::from(topic),
                partition,
                offset,
                high_watermark: -1,
            }),
        }
    }

    pub fn unassign(&mut self, topic: &str, partition: i32) {
        self.positions
            .retain(|p| !(&*p.topic == topic && p.partition == partition));
    }

    pub fn positions(&self) -> &[PartitionPosition] {
        &self.positions
    }

    /// One fetch round: every leader is asked for its partitions at once. Returns the records
    /// that arrived (possibly none, after `max_wait`), in partition order.
    pub async fn poll(&mut self) -> Result<Vec<ConsumedRecord>, ClientError> {
        let mut by_leader: BTreeMap<i32, Vec<usize>> = BTreeMap::new();
        for (index, position) in self.positions.iter().enumerate() {
            let leader = self
                .client
                .leader_of(&position.topic, position.partition)
                .await?;
            by_leader.entry(leader).or_default().push(index);
        }
        let rounds = join_all(by_leader.into_iter().map(|(leader, indexes)| {
            let request = fetch_request(&self.positions, &indexes, &self.config);
            let client = &self.client;
            let max_wait = self.config.max_wait;
            async move {
                let connection = client.broker(leader).await?;
                let response: FetchResponse =
                    connection.send_with_extra_time(&request, max_wait).await?;
                Ok::<_, ClientError>(response)
            }
        }))
        .await;
        let mut records = Vec::new();
        let mut stale_topics = Vec::new();
        for round in rounds {
            let response = match round {
                Ok(response) => response,
                Err(error) if error.wants_metadata_refresh() => {
                    // The connection or leader is gone; the next poll routes afresh.
                    tracing::debug!(%error, "fetch failed; refreshing metadata");
                    stale_topics.extend(self.positions.iter().map(|p| p.topic.clone()));
                    continue;
                }
                Err(error) => return Err(error),
            };
            if response.error_code != 0 {
                return Err(ClientError::kafka(response.error_code, "fetch", None));
            }
            for topic in response.responses {
                for partition in topic.partitions {
                    let Some(position) = self.positions.iter_mut().find(|p| {
                        *p.topic == *topic.topic.0.as_str()
                            && p.partition == partition.partition_index
                    }) else {
                        continue;
                    };
                    match partition.error_code {
                        0 => {}
                        OFFSET_OUT_OF_RANGE => {
                            return Err(ClientError::Kafka {
                                code: KafkaCode(OFFSET_OUT_OF_RANGE),
                                context: format!(
                                    "cannot read {}-{} at offset {}",
                                    position.topic, position.partition, position.offset
                                ),
                                message: None,
                            });
                        }
                        code if KafkaCode(code).wants_metadata_refresh() => {
                            stale_topics.push(position.topic.clone());
                            continue;
                        }
                        code => {
                            return Err(ClientError::kafka(
                                code,
                                format!("cannot read {}-{}", position.topic, position.partition),
                                None,
                            ));
                        }
                    }
                    position.high_watermark = partition.high_watermark;
                    if let Some(data) = partition.records {
                        decode_into(position, data, &mut records)?;
                    }
                }
            }
        }
        stale_topics.sort();
        stale_topics.dedup();
        for topic in stale_topics {
            // A deleted topic surfaces here as UnknownTopic instead of looping forever.
            self.client.refresh_topic(&topic).await?;
        }
        Ok(records)
    }
}

pub(crate) fn fetch_request(
    positions: &[PartitionPosition],
    indexes: &[usize],
    config: &FetchConfig,
) -> FetchRequest {
    let mut wanted: Vec<&PartitionPosition> =
        indexes.iter().filter_map(|&i| positions.get(i)).collect();
    // One entry per topic: a topic listed twice is a malformed request to some brokers.
    wanted.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
    let mut topics: Vec<FetchTopic> = Vec::new();
    for position in wanted {
        let mut partition = FetchPartition::default();
        partition.partition = position.partition;
        partition.fetch_offset = position.offset;
        partition.partition_max_bytes = config.partition_max_bytes;
        match topics.last_mut() {
            Some(last) if last.topic.0.as_str() == &*position.topic => {
                last.partitions.push(partition);
            }
            _ => {
                let mut topic = FetchTopic::default();
                topic.topic = TopicName(StrBytes::from_string(position.topic.to_string()));
                topic.partitions = vec![partition];
                topics.push(topic);
            }
        }
    }
    let mut request = FetchRequest::default();
    request.replica_id = BrokerId(-1);
    request.max_wait_ms = i32::try_from(config.max_wait.as_millis()).unwrap_or(i32::MAX);
    request.min_bytes = config.min_bytes;
    request.max_bytes = config.max_bytes;
    request.isolation_level = i8::from(config.read_committed);
    request.topics = topics;
    request
}

/// Decodes the complete batches of one partition's record set, keeping records at or after
/// the position and moving the position past every batch seen.
fn decode_into(
    position: &mut PartitionPosition,
    data: Bytes,
    out: &mut Vec<ConsumedRecord>,
) -> Result<(), ClientError> {
    let corrupt = |offset: i64, detail: String| ClientError::CorruptRecords {
        topic: position.topic.to_string(),
        partition: position.partition,
        offset,
        detail,
    };
    let mut start = 0;
    let mut found = Vec::new();
    for batch in batches(&data) {
        let batch: BatchView<'_> = match batch {
            Ok(batch) => batch,
            // Brokers may cut the last batch to fit max_bytes; it comes whole next time.
            Err(error) if error.is_partial_batch() => break,
            Err(error) => return Err(corrupt(position.offset, error.to_string())),
        };
        let range = start..start + batch.len();
        start = range.end;
        if batch.last_offset() < position.offset {
            continue;
        }
        found.push((
            range,
            batch.last_offset(),
            batch.is_control(),
            batch.max_timestamp(),
        ));
    }
    for (range, last_offset, control, max_timestamp) in found {
        if !control {
            let mut bytes = data.slice(range);
            let record_count = BatchView::new(&bytes)
                .map(|b| usize::try_from(b.record_count()).unwrap_or(0))
                .unwrap_or(0);
            let set = RecordBatchDecoder::decode_with_custom_compression(
                &mut bytes,
                Some(decompressor(record_count)),
            )
            .map_err(|e| corrupt(position.offset, format!("{e:#}")))?;
            for record in set.records {
                if record.offset < position.offset || record.control {
                    continue;
                }
                let log_append_time = record.timestamp_type == TimestampType::LogAppend;
                out.push(ConsumedRecord {
                    topic: position.topic.clone(),
                    partition: position.partition,
                    offset: record.offset,
                    // Kafka reports every record of a LogAppendTime batch at the batch's time.
                    timestamp: if log_append_time {
                        max_timestamp
                    } else {
                        record.timestamp
                    },
                    log_append_time,
                    key: record.key,
                    value: record.value,
                    headers: record.headers,
                });
            }
        }
        position.offset = last_offset + 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::producer::encode::encode_batch_for_tests;
    use skiff_records::{Compression, set_base_offset};

    fn batch_at(base_offset: i64, values: &[&str], codec: Compression) -> Vec<u8> {
        let mut bytes = encode_batch_for_tests(values, codec).to_vec();
        set_base_offset(&mut bytes, base_offset);
        bytes
    }

    fn position() -> PartitionPosition {
        PartitionPosition {
            topic: Arc::from("t"),
            partition: 0,
            offset: 0,
            high_watermark: -1,
        }
    }

    #[test]
    fn records_before_the_position_are_skipped_and_the_position_moves_on() {
        let mut data = batch_at(0, &["a", "b", "c"], Compression::Lz4);
        data.extend(batch_at(3, &["d", "e"], Compression::None));
        let mut position = position();
        position.offset = 1;
        let mut out = Vec::new();
        decode_into(&mut position, Bytes::from(data), &mut out).unwrap();
        let values: Vec<_> = out.iter().map(|r| r.value.clone().unwrap()).collect();
        assert_eq!(values, ["b", "c", "d", "e"]);
        assert_eq!(out[0].offset, 1);
        assert_eq!(position.offset, 5);
    }

    #[test]
    fn a_cut_off_last_batch_is_left_for_the_next_fetch() {
        let mut data = batch_at(0, &["a"], Compression::None);
        let second = batch_at(1, &["b"], Compression::Gzip);
        data.extend_from_slice(&second[..second.len() - 3]);
        let mut position = position();
        let mut out = Vec::new();
        decode_into(&mut position, Bytes::from(data), &mut out).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(position.offset, 1);
    }

    #[test]
    fn corrupt_batches_are_errors_not_panics() {
        let mut data = batch_at(0, &["a", "b"], Compression::None);
        let last = data.len() - 1;
        data[last] ^= 0xff;
        let mut position = position();
        let error = decode_into(&mut position, Bytes::from(data), &mut Vec::new()).unwrap_err();
        assert!(
            matches!(error, ClientError::CorruptRecords { .. }),
            "{error}"
        );
    }

    #[test]
    fn a_record_count_the_bytes_cannot_hold_is_refused_before_allocating() {
        let mut data = batch_at(0, &["a"], Compression::None);
        // record count → i32::MAX, CRC fixed so only the count is wrong.
        data[57..61].copy_from_slice(&i32::MAX.to_be_bytes());
        let crc = crc32c::crc32c(&data[21..]);
        data[17..21].copy_from_slice(&crc.to_be_bytes());
        let mut position = position();
        let error = decode_into(&mut position, Bytes::from(data), &mut Vec::new()).unwrap_err();
        assert!(error.to_string().contains("declares"), "{error}");
    }
}
