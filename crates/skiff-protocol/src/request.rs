use bytes::Bytes;
use kafka_protocol::messages::{ApiKey, RequestHeader, RequestKind};
use kafka_protocol::protocol::{Decodable, StrBytes};
use thiserror::Error;

use crate::api_versions::supported_versions;

/// A request whose header and body decoded, for an API and version the broker implements.
#[derive(Debug)]
pub struct DecodedRequest {
    pub api_key: ApiKey,
    pub api_version: i16,
    pub correlation_id: i32,
    pub client_id: Option<StrBytes>,
    pub body: RequestKind,
}

/// Why a frame could not become a [`DecodedRequest`]. Every variant except `Unreadable` carries
/// the correlation id, so the connection can still answer it.
#[derive(Debug, Error)]
pub enum RequestError {
    #[error("frame of {0} bytes is too short to hold a request header")]
    Unreadable(usize),
    #[error("unknown API key {api_key} (version {version})")]
    UnknownApiKey {
        api_key: i16,
        version: i16,
        correlation_id: i32,
    },
    #[error("{api_key:?} version {version} is not supported")]
    UnsupportedVersion {
        api_key: ApiKey,
        version: i16,
        correlation_id: i32,
    },
    #[error("malformed {api_key:?} v{version} request: {reason}")]
    Malformed {
        api_key: ApiKey,
        version: i16,
        correlation_id: i32,
        reason: String,
    },
}

impl RequestError {
    pub fn correlation_id(&self) -> Option<i32> {
        match self {
            RequestError::Unreadable(_) => None,
            RequestError::UnknownApiKey { correlation_id, .. }
            | RequestError::UnsupportedVersion { correlation_id, .. }
            | RequestError::Malformed { correlation_id, .. } => Some(*correlation_id),
        }
    }
}

/// The fixed prefix every request header version shares: api key, api version, correlation id.
const FIXED_HEADER_LEN: usize = 8;

/// Decodes one request frame (without its length prefix). Record data in Produce requests stays
/// a zero-copy slice of `frame`.
pub fn decode_request(mut frame: Bytes) -> Result<DecodedRequest, RequestError> {
    if frame.len() < FIXED_HEADER_LEN {
        return Err(RequestError::Unreadable(frame.len()));
    }
    let raw_key = i16::from_be_bytes([frame[0], frame[1]]);
    let version = i16::from_be_bytes([frame[2], frame[3]]);
    let correlation_id = i32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]);

    let Ok(api_key) = ApiKey::try_from(raw_key) else {
        return Err(RequestError::UnknownApiKey {
            api_key: raw_key,
            version,
            correlation_id,
        });
    };
    match supported_versions(api_key) {
        Some(range) if (range.min..=range.max).contains(&version) => {}
        _ => {
            return Err(RequestError::UnsupportedVersion {
                api_key,
                version,
                correlation_id,
            });
        }
    }

    let malformed = |e: anyhow::Error| RequestError::Malformed {
        api_key,
        version,
        correlation_id,
        reason: format!("{e:#}"),
    };
    let header = RequestHeader::decode(&mut frame, api_key.request_header_version(version))
        .map_err(malformed)?;
    let body = RequestKind::decode(api_key, &mut frame, version).map_err(malformed)?;
    Ok(DecodedRequest {
        api_key,
        api_version: version,
        correlation_id,
        client_id: header.client_id,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::{BufMut, BytesMut};
    use kafka_protocol::messages::MetadataRequest;
    use kafka_protocol::protocol::Encodable;

    fn frame_for(
        api_key: ApiKey,
        version: i16,
        correlation_id: i32,
        body: &impl Encodable,
    ) -> Bytes {
        let mut buf = BytesMut::new();
        let header = RequestHeader::default()
            .with_request_api_key(api_key as i16)
            .with_request_api_version(version)
            .with_correlation_id(correlation_id)
            .with_client_id(Some(StrBytes::from_static_str("test")));
        header
            .encode(&mut buf, api_key.request_header_version(version))
            .unwrap();
        body.encode(&mut buf, version).unwrap();
        buf.freeze()
    }

    #[test]
    fn decodes_a_supported_request() {
        let frame = frame_for(ApiKey::Metadata, 12, 7, &MetadataRequest::default());
        let req = decode_request(frame).unwrap();
        assert_eq!(req.api_key, ApiKey::Metadata);
        assert_eq!(req.api_version, 12);
        assert_eq!(req.correlation_id, 7);
        assert_eq!(req.client_id.as_deref(), Some("test"));
        assert!(matches!(req.body, RequestKind::Metadata(_)));
    }

    #[test]
    fn unknown_key_and_version_keep_the_correlation_id() {
        let mut buf = BytesMut::new();
        buf.put_i16(999);
        buf.put_i16(0);
        buf.put_i32(42);
        let err = decode_request(buf.freeze()).unwrap_err();
        assert!(matches!(
            err,
            RequestError::UnknownApiKey { api_key: 999, .. }
        ));
        assert_eq!(err.correlation_id(), Some(42));

        let mut buf = BytesMut::new();
        buf.put_i16(ApiKey::Metadata as i16);
        buf.put_i16(99);
        buf.put_i32(43);
        let err = decode_request(buf.freeze()).unwrap_err();
        assert!(matches!(
            err,
            RequestError::UnsupportedVersion { version: 99, .. }
        ));
        assert_eq!(err.correlation_id(), Some(43));
    }

    #[test]
    fn truncated_body_is_malformed_not_a_panic() {
        let frame = frame_for(ApiKey::Metadata, 12, 9, &MetadataRequest::default());
        for cut in FIXED_HEADER_LEN..frame.len() {
            match decode_request(frame.slice(..cut)) {
                Err(RequestError::Malformed {
                    correlation_id: 9, ..
                }) => {}
                other => panic!("cut at {cut}: {other:?}"),
            }
        }
        assert!(matches!(
            decode_request(frame.slice(..5)),
            Err(RequestError::Unreadable(5))
        ));
    }

    /// A few bytes declaring a huge array must be an error, not a multi-gigabyte allocation
    /// (which aborts the process; kafka-protocol is patched in vendor/ for this).
    #[test]
    fn huge_declared_array_lengths_are_errors_not_allocations() {
        for (version, count) in [
            (0i16, &[0x7f, 0xff, 0xff, 0xff][..]),
            (9, &[0xff, 0xff, 0xff, 0xff, 0x0f][..]),
        ] {
            let mut frame = BytesMut::new();
            frame.put_i16(ApiKey::Metadata as i16);
            frame.put_i16(version);
            frame.put_i32(5);
            frame.put_i16(-1); // client id
            if version >= 9 {
                frame.put_u8(0); // header tagged fields
            }
            frame.extend_from_slice(count); // topic array length (i32, or compact varint)
            match decode_request(frame.freeze()) {
                Err(RequestError::Malformed {
                    correlation_id: 5, ..
                }) => {}
                other => panic!("v{version}: {other:?}"),
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_frames_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let _ = decode_request(Bytes::from(bytes));
        }

        /// Random bodies behind a valid header for every advertised API and version, so the
        /// codecs themselves see hostile input (huge counts, bad lengths, truncation).
        #[test]
        fn random_bodies_for_every_advertised_api_never_panic_or_abort(
            api in 0..crate::SUPPORTED_APIS.len(),
            version_pick in 0u16..64,
            body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256),
        ) {
            let supported = crate::SUPPORTED_APIS[api];
            let span = (supported.max - supported.min + 1) as u16;
            let version = supported.min + (version_pick % span) as i16;
            let mut frame = BytesMut::new();
            frame.put_i16(supported.key as i16);
            frame.put_i16(version);
            frame.put_i32(1);
            frame.extend_from_slice(&body);
            let _ = decode_request(frame.freeze());
        }
    }
}
