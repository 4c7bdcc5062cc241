//! The Skiff broker: a Kafka-protocol server whose every acknowledged record lives in object
//! storage.
//!
//! Layers, outermost first: [`server`] accepts connections; [`connection`] frames requests and
//! writes replies in order; [`router`] sends each request to its handler in [`handlers`] (one
//! file per Kafka API); handlers use the write path in [`produce`] (buffer → segment upload →
//! controller commit) and the read path in [`fetch`] (index → cache → object store).

mod admin;
mod authorized;
mod broker_configs;
mod clock;
pub mod config;
mod connection;
mod connection_sasl;
mod context;
mod error;
pub mod fetch;
mod frame_reader;
mod groups;
mod handlers;
mod kafka_error;
mod lease;
pub mod log_levels;
mod log_limit;
pub mod metrics;
pub mod produce;
mod recent_segments;
mod reply;
mod router;
pub mod security;
mod server;
mod topics;

pub use config::BrokerConfig;
pub use error::BrokerError;
pub use handlers::describe_configs::NOT_ENFORCED_DOC_PREFIX;
pub use handlers::describe_log_dirs::{
    ARCHIVE_COMMITTED_MS_TAG, ARCHIVE_METADATA_TAG, ARCHIVED_OFFSET_TAG, OBJECT_COUNT_TAG,
};
pub use server::{Broker, BrokerDeps, BudgetUse};
pub use skiff_meta::ControllerClient;
