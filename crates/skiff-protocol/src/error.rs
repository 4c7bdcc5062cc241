use thiserror::Error;

/// Failures at the framing and encoding layer. Request-level problems (unknown API, bad body)
/// are [`crate::RequestError`], because those still get an answer.
#[derive(Debug, Error)]
pub enum ProtocolError {
    #[error("frame of {size} bytes exceeds socket.request.max.bytes ({max})")]
    FrameTooLarge { size: usize, max: usize },
    #[error("negative frame size {0}")]
    NegativeFrameSize(i32),
    #[error("could not encode {} v{version} response: {reason}", api.map_or("a".to_string(), |k| format!("{k:?}")))]
    Encode {
        api: Option<kafka_protocol::messages::ApiKey>,
        version: i16,
        reason: String,
    },
}
