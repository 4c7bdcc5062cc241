//! Producer ids for idempotent producers.

use serde::{Deserialize, Serialize};

/// Allocates a producer id, or bumps the epoch of a known one. `None` (or an id below zero,
/// Kafka's "no producer id") allocates a new id with epoch 0; `Some((id, epoch))` bumps the
/// epoch of a known producer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct InitProducerId {
    pub current: Option<(i64, i16)>,
}

/// A producer id and its epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProducerIdAndEpoch {
    pub id: i64,
    pub epoch: i16,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum ProducerError {
    #[error("unknown producer id (never allocated here, or idle for longer than 7 days)")]
    UnknownProducerId,
    #[error("producer epoch does not match the producer's current epoch")]
    InvalidProducerEpoch,
    #[error("producer ids are exhausted")]
    ProducerIdsExhausted,
}
