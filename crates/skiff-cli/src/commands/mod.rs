//! The client commands, one file per command group. They speak only the Kafka protocol, so
//! they work against any Kafka-protocol cluster.

pub mod acl;
pub mod cluster;
pub mod command_config;
pub mod common;
pub mod completions;
pub mod consume;
pub mod group;
pub mod produce;
pub mod topic;
pub mod user;
