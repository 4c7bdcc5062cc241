use crate::ProtocolError;

/// Every Kafka request and response starts with a big-endian i32 length of what follows.
pub const FRAME_PREFIX_LEN: usize = 4;

/// Reads the length prefix and checks it against the configured limit
/// (`socket.request.max.bytes`). The caller closes the connection on error: after an oversized
/// or negative length the stream position is unknowable, so no reply is possible.
pub fn frame_body_len(prefix: [u8; FRAME_PREFIX_LEN], max: usize) -> Result<usize, ProtocolError> {
    let size = i32::from_be_bytes(prefix);
    let size = usize::try_from(size).map_err(|_| ProtocolError::NegativeFrameSize(size))?;
    if size > max {
        return Err(ProtocolError::FrameTooLarge { size, max });
    }
    Ok(size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_sizes_up_to_the_limit() {
        assert_eq!(frame_body_len(100i32.to_be_bytes(), 100).unwrap(), 100);
        assert_eq!(frame_body_len(0i32.to_be_bytes(), 100).unwrap(), 0);
    }

    #[test]
    fn rejects_oversized_and_negative_frames() {
        assert!(matches!(
            frame_body_len(101i32.to_be_bytes(), 100),
            Err(ProtocolError::FrameTooLarge {
                size: 101,
                max: 100
            })
        ));
        assert!(matches!(
            frame_body_len((-1i32).to_be_bytes(), 100),
            Err(ProtocolError::NegativeFrameSize(-1))
        ));
    }
}
