//! Bounds-checked reading of the record encoding (zigzag varints, length-prefixed bytes).

use crate::error::FieldProblem;

/// A forward-only reader over a byte slice. Every read either succeeds within bounds or says
/// what is wrong with the field it tried to read; nothing here can panic on hostile input.
#[derive(Debug, Clone)]
pub(crate) struct Cursor<'a> {
    data: &'a [u8],
}

pub(crate) type ReadResult<T> = Result<T, FieldProblem>;

impl<'a> Cursor<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Cursor { data }
    }

    pub(crate) fn remaining(&self) -> &'a [u8] {
        self.data
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    pub(crate) fn read_u8(&mut self) -> ReadResult<u8> {
        let (&byte, rest) = self.data.split_first().ok_or(FieldProblem::Truncated)?;
        self.data = rest;
        Ok(byte)
    }

    pub(crate) fn read_bytes(&mut self, len: usize) -> ReadResult<&'a [u8]> {
        if len > self.data.len() {
            return Err(FieldProblem::PastEnd {
                len,
                available: self.data.len(),
            });
        }
        let (bytes, rest) = self.data.split_at(len);
        self.data = rest;
        Ok(bytes)
    }

    /// Kafka's zigzag varint: at most 5 bytes (bits past 32 are dropped, as Kafka does).
    pub(crate) fn read_varint(&mut self) -> ReadResult<i32> {
        let raw = self.read_unsigned_varint(5)?;
        // The truncation to 32 bits mirrors Kafka's ByteUtils.readVarint.
        let raw = raw as u32;
        Ok(((raw >> 1) as i32) ^ -((raw & 1) as i32))
    }

    /// Kafka's zigzag varlong: at most 10 bytes.
    pub(crate) fn read_varlong(&mut self) -> ReadResult<i64> {
        let raw = self.read_unsigned_varint(10)?;
        Ok(((raw >> 1) as i64) ^ -((raw & 1) as i64))
    }

    /// A varint length: -1 means null; anything below is an error.
    pub(crate) fn read_nullable_length(&mut self) -> ReadResult<Option<usize>> {
        match self.read_varint()? {
            -1 => Ok(None),
            len => usize::try_from(len)
                .map(Some)
                .map_err(|_| FieldProblem::Negative(i64::from(len))),
        }
    }

    /// A varint length that may not be negative.
    pub(crate) fn read_length(&mut self) -> ReadResult<usize> {
        let len = self.read_varint()?;
        usize::try_from(len).map_err(|_| FieldProblem::Negative(i64::from(len)))
    }

    /// A varint length then that many bytes; -1 means null (cold-path helper for tests).
    #[cfg(test)]
    pub(crate) fn read_nullable_bytes(&mut self) -> ReadResult<Option<&'a [u8]>> {
        match self.read_nullable_length()? {
            None => Ok(None),
            Some(len) => self.read_bytes(len).map(Some),
        }
    }

    fn read_unsigned_varint(&mut self, max_bytes: u32) -> ReadResult<u64> {
        let mut value: u64 = 0;
        for index in 0..max_bytes {
            let byte = self.read_u8()?;
            value |= u64::from(byte & 0x7f) << (7 * index);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(FieldProblem::Overlong)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::Cursor;

    #[test]
    fn zigzag_varints_decode_like_kafka() {
        // Kafka encodings: 0 -> 00, -1 -> 01, 1 -> 02, 63 -> 7e, -64 -> 7f, 64 -> 80 01
        let mut cursor = Cursor::new(&[0x00, 0x01, 0x02, 0x7e, 0x7f, 0x80, 0x01]);
        let decoded: Vec<i32> = (0..6).map(|_| cursor.read_varint().unwrap()).collect();
        assert_eq!(decoded, vec![0, -1, 1, 63, -64, 64]);
        assert!(cursor.is_empty());
    }

    #[test]
    fn extreme_varints_round_trip() {
        // i32::MAX zigzags to 0xFFFF_FFFE, i32::MIN to 0xFFFF_FFFF.
        let mut cursor = Cursor::new(&[0xfe, 0xff, 0xff, 0xff, 0x0f, 0xff, 0xff, 0xff, 0xff, 0x0f]);
        assert_eq!(cursor.read_varint().unwrap(), i32::MAX);
        assert_eq!(cursor.read_varint().unwrap(), i32::MIN);
        let mut long = Cursor::new(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
        assert_eq!(long.read_varlong().unwrap(), i64::MIN);
    }

    #[test]
    fn overlong_and_truncated_varints_are_errors() {
        assert!(Cursor::new(&[0x80; 6]).read_varint().is_err());
        assert!(Cursor::new(&[0x80; 11]).read_varlong().is_err());
        assert!(Cursor::new(&[0x80, 0x80]).read_varint().is_err());
        assert!(Cursor::new(&[]).read_varint().is_err());
    }

    #[test]
    fn lengths_past_the_end_and_below_minus_one_are_errors() {
        assert!(Cursor::new(&[0x08, 1, 2]).read_nullable_bytes().is_err()); // len 4, 2 present
        assert!(Cursor::new(&[0x03]).read_nullable_bytes().is_err()); // len -2
        assert_eq!(Cursor::new(&[0x01]).read_nullable_bytes(), Ok(None));
        assert_eq!(
            Cursor::new(&[0x04, 7, 8]).read_nullable_bytes(),
            Ok(Some(&[7u8, 8][..]))
        );
    }
}
