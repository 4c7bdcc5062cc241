//! Why a dynamic broker config change was refused.

use serde::{Deserialize, Serialize};

use super::table::BROKER_CONFIGS;
use crate::topic_config::ConfigError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum BrokerConfigError {
    #[error(
        "{key}: not a dynamic broker config Skiff has (those are: {})",
        dynamic_names()
    )]
    UnknownKey { key: String },
    #[error("{key}: invalid value ({error})")]
    InvalidValue { key: String, error: ConfigError },
    #[error(
        "{key} applies to the whole cluster in Skiff (the controller plans retention and \
         compaction for every partition); set it on the cluster default, the BROKER resource \
         with an empty name"
    )]
    ClusterWideOnly { key: String },
    #[error("{key}: both set and deleted in one change")]
    BothSetAndDeleted { key: String },
}

impl BrokerConfigError {
    /// The key the error is about.
    pub fn key(&self) -> &str {
        match self {
            BrokerConfigError::UnknownKey { key }
            | BrokerConfigError::InvalidValue { key, .. }
            | BrokerConfigError::ClusterWideOnly { key }
            | BrokerConfigError::BothSetAndDeleted { key } => key,
        }
    }
}

fn dynamic_names() -> String {
    BROKER_CONFIGS
        .iter()
        .map(|d| d.name)
        .collect::<Vec<_>>()
        .join(", ")
}
