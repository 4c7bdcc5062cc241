//! Admin calls on [`crate::KafkaClient`], one file per area.

pub mod acls;
pub mod cluster_info;
pub mod configs;
pub mod consumer_protocol;
pub mod groups;
pub mod offsets;
pub mod records;
pub mod topics;
pub mod users;

use kafka_protocol::protocol::StrBytes;

pub(crate) fn str_bytes(text: &str) -> StrBytes {
    StrBytes::from_string(text.to_owned())
}

/// Broker-side time limit for admin operations that propose to a controller.
pub(crate) const ADMIN_TIMEOUT_MS: i32 = 30_000;
