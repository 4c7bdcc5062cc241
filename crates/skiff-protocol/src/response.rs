use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, ResponseHeader, ResponseKind};
use kafka_protocol::protocol::Encodable;

use crate::{FRAME_PREFIX_LEN, ProtocolError};

/// Appends one complete response frame (length prefix, header, body) to `out`.
pub fn encode_response(
    out: &mut BytesMut,
    correlation_id: i32,
    api_key: ApiKey,
    version: i16,
    body: &ResponseKind,
) -> Result<(), ProtocolError> {
    let encode_err = |e: anyhow::Error| ProtocolError::Encode {
        api: Some(api_key),
        version,
        reason: format!("{e:#}"),
    };
    let start = out.len();
    out.put_i32(0);
    ResponseHeader::default()
        .with_correlation_id(correlation_id)
        .encode(out, api_key.response_header_version(version))
        .map_err(encode_err)?;
    body.encode(out, version).map_err(encode_err)?;
    patch_length(out, start)
}

/// A minimal answer for a request we cannot decode: response header v0 followed by a single
/// error code. Clients only get this for APIs or versions we never advertised, so no client
/// parses it as a real body; it exists so the request is answered and the connection stays usable.
pub fn encode_error_response(correlation_id: i32, error_code: i16) -> Bytes {
    let mut out = BytesMut::with_capacity(10);
    out.put_i32(6);
    out.put_i32(correlation_id);
    out.put_i16(error_code);
    out.freeze()
}

fn patch_length(out: &mut BytesMut, start: usize) -> Result<(), ProtocolError> {
    let body_len = out.len() - start - FRAME_PREFIX_LEN;
    let len = i32::try_from(body_len).map_err(|_| ProtocolError::Encode {
        api: None,
        version: 0,
        reason: format!("{body_len} bytes do not fit a frame"),
    })?;
    out[start..start + FRAME_PREFIX_LEN].copy_from_slice(&len.to_be_bytes());
    Ok(())
}

/// Bytes [`encode_response`] will write for `body`, frame prefix and header included, without
/// encoding it: the broker reserves its response budget from this before it allocates.
/// Responses of APIs the broker never sends count as 0.
pub fn response_size(
    api_key: ApiKey,
    version: i16,
    body: &ResponseKind,
) -> Result<usize, ProtocolError> {
    macro_rules! body_size {
        ($($api:ident),* $(,)?) => {
            match body {
                $(ResponseKind::$api(response) => response.compute_size(version),)*
                _ => Ok(0),
            }
        };
    }
    let body = body_size!(
        AddOffsetsToTxn,
        AddPartitionsToTxn,
        AlterConfigs,
        AlterPartitionReassignments,
        AlterUserScramCredentials,
        ApiVersions,
        CreateAcls,
        CreatePartitions,
        CreateTopics,
        DeleteAcls,
        DeleteGroups,
        DeleteRecords,
        DeleteTopics,
        DescribeAcls,
        DescribeCluster,
        DescribeConfigs,
        DescribeGroups,
        DescribeLogDirs,
        DescribeProducers,
        DescribeUserScramCredentials,
        ElectLeaders,
        EndTxn,
        Fetch,
        FindCoordinator,
        Heartbeat,
        IncrementalAlterConfigs,
        InitProducerId,
        JoinGroup,
        LeaveGroup,
        ListGroups,
        ListOffsets,
        ListPartitionReassignments,
        Metadata,
        OffsetCommit,
        OffsetDelete,
        OffsetFetch,
        Produce,
        SaslAuthenticate,
        SaslHandshake,
        SyncGroup,
        TxnOffsetCommit,
    )
    .map_err(|e| ProtocolError::Encode {
        api: Some(api_key),
        version,
        reason: format!("{e:#}"),
    })?;
    // Header: correlation id, plus an empty tagged-field section in flexible versions.
    let header = 4 + usize::from(api_key.response_header_version(version) >= 1);
    Ok(FRAME_PREFIX_LEN + header + body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api_versions_response;
    use bytes::Buf;
    use kafka_protocol::messages::ApiVersionsResponse;
    use kafka_protocol::protocol::Decodable;

    #[test]
    fn api_versions_frame_round_trips_at_every_supported_version() {
        for version in 0..=3 {
            let mut out = BytesMut::new();
            let body = ResponseKind::ApiVersions(api_versions_response(0));
            encode_response(&mut out, 11, ApiKey::ApiVersions, version, &body).unwrap();
            let mut frame = out.freeze();
            let len = frame.get_i32() as usize;
            assert_eq!(len, frame.len());
            // ApiVersions responses always use header v0, whatever the request version.
            let header = ResponseHeader::decode(&mut frame, 0).unwrap();
            assert_eq!(header.correlation_id, 11);
            let decoded = ApiVersionsResponse::decode(&mut frame, version).unwrap();
            assert_eq!(decoded.api_keys.len(), crate::SUPPORTED_APIS.len());
            assert!(!frame.has_remaining());
        }
    }

    #[test]
    fn error_response_is_header_plus_code() {
        let frame = encode_error_response(5, 35);
        assert_eq!(&frame[..], &[0, 0, 0, 6, 0, 0, 0, 5, 0, 35]);
    }
}
