//! Kafka wire protocol for Skiff: size-prefixed frames, request decoding, response encoding and
//! the table of API versions the broker implements.
//!
//! Message codecs come from the `kafka-protocol` crate; this crate only adds the framing rules and
//! the policy for requests we cannot serve (unknown API, unsupported version, malformed body), so
//! that every such request gets an answer instead of a dropped connection. There is no I/O here:
//! the broker's connection layer reads and writes the bytes.

mod api_versions;
mod error;
mod frame;
mod request;
mod response;

pub use api_versions::{SUPPORTED_APIS, SupportedApi, api_versions_response, supported_versions};
pub use error::ProtocolError;
pub use frame::{FRAME_PREFIX_LEN, frame_body_len};
pub use request::{DecodedRequest, RequestError, decode_request};
pub use response::{encode_error_response, encode_response, response_size};

/// The `kafka-protocol` crate, re-exported so every Skiff crate uses the same version of it.
pub use kafka_protocol;
