//! SaslHandshake: the client names its mechanism; the broker lists the ones it enables.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::{SaslHandshakeRequest, SaslHandshakeResponse};

use super::str_bytes;
use crate::kafka_error::NONE;
use crate::security::sasl::SaslSession;

/// The response, and whether the connection stays open (Kafka closes after an unsupported
/// mechanism or a handshake out of turn). `session` is `None` on listeners without SASL.
pub fn handle(
    session: Option<&mut SaslSession>,
    req: &SaslHandshakeRequest,
    version: i16,
) -> (SaslHandshakeResponse, bool) {
    let Some(session) = session else {
        return (
            SaslHandshakeResponse::default()
                .with_error_code(ResponseError::IllegalSaslState.code()),
            true,
        );
    };
    let mechanisms = session.mechanism_names().map(str_bytes).collect();
    let (error_code, keep_open) = match session.handshake(&req.mechanism, version) {
        Ok(true) => (NONE, true),
        Ok(false) => (ResponseError::UnsupportedSaslMechanism.code(), false),
        Err(_) => (ResponseError::IllegalSaslState.code(), false),
    };
    (
        SaslHandshakeResponse::default()
            .with_error_code(error_code)
            .with_mechanisms(mechanisms),
        keep_open,
    )
}
