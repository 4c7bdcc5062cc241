//! Dynamic broker configs: the cluster default and per-broker overrides of the broker-level
//! topic defaults (see [`crate::broker_config`]).

use serde::{Deserialize, Serialize};

/// Deletes and then sets dynamic broker configs, all or nothing: on the cluster default
/// (`broker: None`, Kafka's BROKER resource with an empty name) or on one broker. Applying it
/// validates again, so every replica refuses the same changes. AlterConfigs' replace-all is
/// proposed as the deletes and sets that make the named configs the whole set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlterBrokerConfigs {
    pub broker: Option<i32>,
    pub set: Vec<(String, String)>,
    pub delete: Vec<String>,
}
