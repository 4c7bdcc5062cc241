//! What a handler gives back to its connection, and who sent the request: the types every
//! layer between the socket and the handlers shares, kept in a leaf so none of them depends on
//! the router.

use futures::future::BoxFuture;
use kafka_protocol::messages::ResponseKind;

/// What a connection sends back for one request.
// Each reply is moved once, from its handler to the writer; boxing the large variant would
// cost an allocation per request for nothing.
#[allow(clippy::large_enum_variant)]
pub enum Reply {
    Response(ResponseKind),
    /// `acks=0` produce: Kafka sends nothing back.
    Nothing,
    /// A request we could decode but not serve (never for advertised APIs).
    Error(i16),
    /// A bare SASL token after a v0 SaslHandshake: a length prefix and the bytes, no header.
    SaslToken(bytes::Bytes),
}

pub type ReplyFuture = BoxFuture<'static, Reply>;

/// A reply on its way out, with what the frame header needs.
pub struct Outgoing {
    pub correlation_id: i32,
    pub api_key: kafka_protocol::messages::ApiKey,
    pub version: i16,
    pub reply: Reply,
}

/// Who sent a request, as group membership records it.
#[derive(Debug, Clone)]
pub struct ClientInfo {
    pub client_id: String,
    /// The peer address as Kafka shows it (`/127.0.0.1`).
    pub host: String,
}
