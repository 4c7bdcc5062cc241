//! The consumer protocol's member metadata (subscription) and assignment bytes, as relayed by
//! group coordinators in JoinGroup/SyncGroup/DescribeGroups.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::consumer_protocol_assignment::TopicPartition as AssignedPartitions;
use kafka_protocol::messages::consumer_protocol_subscription::TopicPartition as OwnedPartitions;
use kafka_protocol::messages::{
    ConsumerProtocolAssignment, ConsumerProtocolSubscription, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};

use crate::error::ClientError;

/// The newest layout kafka-protocol decodes; newer ones only add fields at the end.
const NEWEST_LAYOUT: i16 = 3;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicPartitions {
    pub topic: String,
    pub partitions: Vec<i32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberAssignment {
    pub version: i16,
    pub partitions: Vec<TopicPartitions>,
    pub user_data: Option<Bytes>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberSubscription {
    pub version: i16,
    pub topics: Vec<String>,
    pub owned_partitions: Vec<TopicPartitions>,
    pub user_data: Option<Bytes>,
    pub generation_id: i32,
    pub rack_id: Option<String>,
}

fn split_version(bytes: &[u8], what: &str) -> Result<(i16, Bytes), ClientError> {
    let mut buf = bytes;
    if buf.len() < 2 {
        return Err(ClientError::InvalidArgument(format!(
            "{what} is {} bytes, too short for a version",
            buf.len()
        )));
    }
    let version = buf.get_i16();
    if version < 0 {
        return Err(ClientError::InvalidArgument(format!(
            "{what} has negative version {version}"
        )));
    }
    Ok((version, Bytes::copy_from_slice(buf)))
}

fn invalid(what: &str, error: &anyhow::Error) -> ClientError {
    ClientError::InvalidArgument(format!("{what} cannot be decoded: {error:#}"))
}

impl MemberAssignment {
    /// Decodes assignment bytes; empty bytes (a member mid-rebalance) are an empty assignment.
    pub fn decode(bytes: &[u8]) -> Result<Self, ClientError> {
        if bytes.is_empty() {
            return Ok(MemberAssignment {
                version: 0,
                partitions: Vec::new(),
                user_data: None,
            });
        }
        let what = "a consumer assignment";
        let (version, mut body) = split_version(bytes, what)?;
        let decoded = ConsumerProtocolAssignment::decode(&mut body, version.min(NEWEST_LAYOUT))
            .map_err(|e| invalid(what, &e))?;
        Ok(MemberAssignment {
            version,
            partitions: decoded
                .assigned_partitions
                .into_iter()
                .map(|tp| TopicPartitions {
                    topic: tp.topic.0.to_string(),
                    partitions: tp.partitions,
                })
                .collect(),
            user_data: decoded.user_data,
        })
    }

    pub fn encode(&self) -> Result<Bytes, ClientError> {
        let version = self.version.clamp(0, NEWEST_LAYOUT);
        let mut message = ConsumerProtocolAssignment::default();
        message.assigned_partitions = self
            .partitions
            .iter()
            .map(|tp| {
                let mut entry = AssignedPartitions::default();
                entry.topic = TopicName(StrBytes::from_string(tp.topic.clone()));
                entry.partitions.clone_from(&tp.partitions);
                entry
            })
            .collect();
        message.user_data.clone_from(&self.user_data);
        encode_versioned(&message, version, "a consumer assignment")
    }
}

impl MemberSubscription {
    pub fn decode(bytes: &[u8]) -> Result<Self, ClientError> {
        let what = "a consumer subscription";
        let (version, mut body) = split_version(bytes, what)?;
        let decoded = ConsumerProtocolSubscription::decode(&mut body, version.min(NEWEST_LAYOUT))
            .map_err(|e| invalid(what, &e))?;
        Ok(MemberSubscription {
            version,
            topics: decoded.topics.iter().map(|t| t.to_string()).collect(),
            owned_partitions: decoded
                .owned_partitions
                .into_iter()
                .map(|tp| TopicPartitions {
                    topic: tp.topic.0.to_string(),
                    partitions: tp.partitions,
                })
                .collect(),
            user_data: decoded.user_data,
            generation_id: decoded.generation_id,
            rack_id: decoded.rack_id.map(|r| r.to_string()),
        })
    }

    pub fn encode(&self) -> Result<Bytes, ClientError> {
        let version = self.version.clamp(0, NEWEST_LAYOUT);
        let mut message = ConsumerProtocolSubscription::default();
        message.topics = self
            .topics
            .iter()
            .map(|t| StrBytes::from_string(t.clone()))
            .collect();
        message.user_data.clone_from(&self.user_data);
        if version >= 1 {
            message.owned_partitions = self
                .owned_partitions
                .iter()
                .map(|tp| {
                    let mut entry = OwnedPartitions::default();
                    entry.topic = TopicName(StrBytes::from_string(tp.topic.clone()));
                    entry.partitions.clone_from(&tp.partitions);
                    entry
                })
                .collect();
        }
        if version >= 2 {
            message.generation_id = self.generation_id;
        }
        if version >= 3 {
            message.rack_id = self
                .rack_id
                .as_ref()
                .map(|r| StrBytes::from_string(r.clone()));
        }
        encode_versioned(&message, version, "a consumer subscription")
    }
}

fn encode_versioned<M: Encodable>(
    message: &M,
    version: i16,
    what: &str,
) -> Result<Bytes, ClientError> {
    let mut buf = BytesMut::new();
    buf.put_i16(version);
    message
        .encode(&mut buf, version)
        .map_err(|e| ClientError::InvalidArgument(format!("{what} cannot be encoded: {e:#}")))?;
    Ok(buf.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assignments_round_trip_at_every_layout() {
        for version in 0..=NEWEST_LAYOUT {
            let assignment = MemberAssignment {
                version,
                partitions: vec![TopicPartitions {
                    topic: "orders".into(),
                    partitions: vec![0, 2],
                }],
                user_data: Some(Bytes::from_static(b"sticky")),
            };
            let bytes = assignment.encode().unwrap();
            assert_eq!(MemberAssignment::decode(&bytes).unwrap(), assignment);
        }
    }

    #[test]
    fn subscriptions_round_trip_with_the_fields_of_their_layout() {
        let subscription = MemberSubscription {
            version: 3,
            topics: vec!["a".into(), "b".into()],
            owned_partitions: vec![TopicPartitions {
                topic: "a".into(),
                partitions: vec![1],
            }],
            user_data: None,
            generation_id: 7,
            rack_id: Some("rack-1".into()),
        };
        let bytes = subscription.encode().unwrap();
        assert_eq!(MemberSubscription::decode(&bytes).unwrap(), subscription);
    }

    #[test]
    fn newer_layouts_are_read_by_their_known_prefix() {
        // A v4 assignment (future) is a v3 body with the version set to 4.
        let mut bytes = MemberAssignment {
            version: 3,
            partitions: vec![],
            user_data: None,
        }
        .encode()
        .unwrap()
        .to_vec();
        bytes[1] = 4;
        assert_eq!(MemberAssignment::decode(&bytes).unwrap().version, 4);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(MemberAssignment::decode(&[0]).is_err());
        assert!(MemberSubscription::decode(&[0, 0, 0xff, 0xff, 0xff]).is_err());
        assert!(MemberAssignment::decode(&[]).unwrap().partitions.is_empty());
    }
}
