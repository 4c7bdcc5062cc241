//! An async Kafka client over the `kafka-protocol` codecs, usable against any Kafka-protocol
//! cluster (Skiff first). It negotiates API versions per broker, keeps a metadata cache, routes
//! requests to partition leaders and group coordinators, and offers:
//!
//! - admin calls on [`KafkaClient`]: topics, configs, partitions, offsets, the cluster, and the
//!   group/offset calls consumer-group tooling needs;
//! - a batching [`Producer`] with per-record delivery results;
//! - a [`Fetcher`] that reads assigned partitions from their leaders with long-polling;
//! - [`GroupMembership`]: a consumer group member (join, range assignment, heartbeats,
//!   commits in its generation, leave) that stock consumers can share a group with.
//!
//! Compression uses `skiff-records`' codecs; records are built and read with kafka-protocol's
//! `RecordBatchEncoder` and `RecordBatchDecoder`.

mod admin;
mod client;
mod codec;
mod config;
mod connection;
mod error;
mod fetcher;
mod group;
mod kafka_code;
mod metadata;
mod producer;
mod record;
#[cfg(test)]
mod request_versions;
pub mod security;
mod versions;

pub use admin::acls::{Acl, AclFilter};
pub use admin::cluster_info::ClusterDescription;
pub use admin::configs::{AlterConfigOp, ConfigEntry, ConfigResource, ConfigSource};
pub use admin::consumer_protocol::{MemberAssignment, MemberSubscription, TopicPartitions};
pub use admin::groups::{
    CommittedOffset, GroupDescription, GroupListing, GroupMember, OffsetToCommit,
};
pub use admin::offsets::{OffsetSpec, PartitionOffset};
pub use admin::records::{DELETE_ALL_RECORDS, DeletedRecords, PartitionStorage};
pub use admin::topics::NewTopic;
pub use admin::users::{ScramUpsertion, UserDescription};
pub use client::KafkaClient;
pub use config::{ClientConfig, DEFAULT_BOOTSTRAP};
pub use connection::BrokerConnection;
pub use error::ClientError;
pub use fetcher::{FetchConfig, Fetcher, PartitionPosition};
pub use group::assignor::{AssignorMember, range_assign};
pub use group::{
    GroupGeneration, GroupMembership, JoinedGroup, MembershipConfig, RejoinReason,
    default_heartbeat_interval,
};
pub use kafka_code::KafkaCode;
pub use metadata::{BrokerInfo, ClusterMetadata, PartitionInfo, TopicInfo};
pub use producer::partitioner::{murmur2, partition_for_key};
pub use producer::{Acks, DeliveryFuture, Producer, ProducerConfig, RecordMetadata};
pub use record::{ConsumedRecord, Headers, ProducerRecord};
pub use skiff_records::Compression;
pub use versions::{KNOWN_APIS, KnownApi};
