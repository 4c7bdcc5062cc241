use std::io;

use skiff_meta::ProposeError;
use thiserror::Error;

/// Why a broker could not start. Request-level failures never become this type: they are
/// answered with Kafka error codes (see `kafka_error`).
#[derive(Debug, Error)]
pub enum BrokerError {
    #[error("invalid broker setting: {0}")]
    InvalidConfig(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        source: io::Error,
    },
    #[error("could not register with the controller: {0}")]
    Register(#[from] ProposeError),
}
