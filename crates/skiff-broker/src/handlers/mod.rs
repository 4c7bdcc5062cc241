//! One file per Kafka API. Each `handle` takes the decoded request and returns the typed
//! response; errors are already Kafka error codes by the time they leave a handler.

mod acl_common;
pub mod add_offsets_to_txn;
pub mod add_partitions_to_txn;
pub mod alter_configs;
pub mod alter_partition_reassignments;
pub mod alter_user_scram_credentials;
pub mod api_versions;
mod broker_logger;
pub mod create_acls;
pub mod create_partitions;
pub mod create_topics;
pub mod delete_acls;
pub mod delete_groups;
pub mod delete_records;
pub mod delete_topics;
pub mod describe_acls;
pub mod describe_cluster;
pub mod describe_configs;
pub mod describe_groups;
pub mod describe_log_dirs;
pub mod describe_producers;
pub mod describe_user_scram_credentials;
pub mod elect_leaders;
pub mod end_txn;
pub mod fetch;
pub mod find_coordinator;
mod group_common;
pub mod heartbeat;
pub mod incremental_alter_configs;
pub mod init_producer_id;
pub mod join_group;
pub mod leave_group;
pub mod list_groups;
pub mod list_offsets;
pub mod list_partition_reassignments;
pub mod metadata;
pub mod offset_commit;
pub mod offset_delete;
pub mod offset_fetch;
pub mod produce;
pub mod sasl_authenticate;
pub mod sasl_handshake;
pub mod sync_group;
mod txn_common;
pub mod txn_offset_commit;

use kafka_protocol::messages::TopicName;
use kafka_protocol::protocol::StrBytes;

pub(crate) fn str_bytes(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

pub(crate) fn topic_name(s: &str) -> TopicName {
    TopicName(str_bytes(s))
}

/// The topic named `name` when it has partition `partition`, else the Kafka error code that
/// says which of the two is missing.
pub(crate) fn topic_with_partition<'s>(
    state: &'s skiff_meta::ControllerState,
    name: &str,
    partition: i32,
) -> Result<&'s skiff_meta::Topic, i16> {
    let topic = crate::topics::TopicLookup::Name(name)
        .resolve(state)
        .map_err(crate::kafka_error::lookup_error_code)?;
    usize::try_from(partition)
        .ok()
        .filter(|p| *p < topic.partitions.len())
        .map(|_| topic)
        .ok_or(kafka_protocol::error::ResponseError::UnknownTopicOrPartition.code())
}

/// Where a config value comes from, as DescribeConfigs and CreateTopics report it.
pub(crate) mod config_source {
    use skiff_meta::broker_config::ConfigSource;

    pub const TOPIC: i8 = 1;
    pub const DYNAMIC_BROKER: i8 = 2;
    pub const DYNAMIC_DEFAULT_BROKER: i8 = 3;
    pub const STATIC_BROKER: i8 = 4;
    pub const DEFAULT: i8 = 5;
    pub const DYNAMIC_BROKER_LOGGER: i8 = 6;

    pub fn of(source: ConfigSource) -> i8 {
        match source {
            ConfigSource::Topic => TOPIC,
            ConfigSource::DynamicBroker => DYNAMIC_BROKER,
            ConfigSource::DynamicDefaultBroker => DYNAMIC_DEFAULT_BROKER,
            ConfigSource::StaticBroker => STATIC_BROKER,
            ConfigSource::Default => DEFAULT,
        }
    }
}
