//! One record of a v2 batch, read in place: the parser every record walk shares (produce
//! validation, timestamp lookups, and later key compaction).

use std::iter::FusedIterator;

use crate::cursor::{Cursor, ReadResult};
use crate::error::{FieldProblem, RecordError, RecordField};

/// One record, borrowing its key, value and headers from the batch (or from the walk's
/// decompression window).
#[derive(Debug, Clone)]
pub struct RecordRef<'a> {
    pub attributes: i8,
    pub offset_delta: i32,
    pub timestamp_delta: i64,
    /// The record's timestamp as clients report it: base timestamp plus delta (wrapping, as
    /// Java adds), or the batch's max timestamp for LogAppendTime batches.
    pub timestamp: i64,
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
    pub headers: HeaderIter<'a>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<'a> {
    pub key: &'a [u8],
    pub value: Option<&'a [u8]>,
}

/// Iterates a record's headers. They were validated when the record was read, so this yields
/// plain headers.
#[derive(Debug, Clone)]
pub struct HeaderIter<'a> {
    cursor: Cursor<'a>,
    remaining: u32,
}

impl<'a> HeaderIter<'a> {
    /// Number of headers not yet yielded.
    pub fn remaining(&self) -> u32 {
        self.remaining
    }
}

impl<'a> Iterator for HeaderIter<'a> {
    type Item = Header<'a>;

    fn next(&mut self) -> Option<Header<'a>> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        // Cannot fail: the same bytes parsed successfully in `read_headers`.
        read_header(&mut self.cursor).ok()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let remaining = usize::try_from(self.remaining).unwrap_or(usize::MAX);
        (remaining, Some(remaining))
    }
}

impl FusedIterator for HeaderIter<'_> {}

/// How a batch turns record timestamp deltas into timestamps.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timestamps {
    pub base: i64,
    /// Kafka clients report every record of a LogAppendTime batch at the batch max timestamp.
    pub log_append_time: Option<i64>,
}

/// Reads one length-prefixed record from `cursor`.
pub(crate) fn read_record<'a>(
    cursor: &mut Cursor<'a>,
    index: u32,
    timestamps: Timestamps,
) -> Result<RecordRef<'a>, RecordError> {
    let malformed = |problem| RecordError::Malformed {
        index,
        field: RecordField::Length,
        problem,
    };
    let length = cursor.read_length().map_err(malformed)?;
    let body = cursor.read_bytes(length).map_err(malformed)?;
    parse_body(body, index, timestamps)
}

/// Parses a record's body: everything after its length varint, exactly `body.len()` bytes.
pub(crate) fn parse_body(
    body: &[u8],
    index: u32,
    timestamps: Timestamps,
) -> Result<RecordRef<'_>, RecordError> {
    let mut cursor = Cursor::new(body);
    let at = |field: RecordField| {
        move |problem: FieldProblem| RecordError::Malformed {
            index,
            field,
            problem,
        }
    };
    let attributes = cursor.read_u8().map_err(at(RecordField::Attributes))? as i8;
    let timestamp_delta = cursor
        .read_varlong()
        .map_err(at(RecordField::TimestampDelta))?;
    let offset_delta = cursor.read_varint().map_err(at(RecordField::OffsetDelta))?;
    let key = read_nullable(&mut cursor, RecordField::KeyLength, RecordField::Key, index)?;
    let value = read_nullable(
        &mut cursor,
        RecordField::ValueLength,
        RecordField::Value,
        index,
    )?;
    let headers = read_headers(&mut cursor, index)?;
    if !cursor.is_empty() {
        return Err(RecordError::LengthMismatch {
            index,
            declared: body.len(),
            used: body.len() - cursor.remaining().len(),
        });
    }
    Ok(RecordRef {
        attributes,
        offset_delta,
        timestamp_delta,
        // Java adds with wraparound; validation refuses overflowing deltas separately.
        timestamp: timestamps
            .log_append_time
            .unwrap_or(timestamps.base.wrapping_add(timestamp_delta)),
        key,
        value,
        headers,
    })
}

fn read_nullable<'a>(
    cursor: &mut Cursor<'a>,
    length_field: RecordField,
    field: RecordField,
    index: u32,
) -> Result<Option<&'a [u8]>, RecordError> {
    let malformed = |field, problem| RecordError::Malformed {
        index,
        field,
        problem,
    };
    match cursor
        .read_nullable_length()
        .map_err(|p| malformed(length_field, p))?
    {
        None => Ok(None),
        Some(len) => cursor
            .read_bytes(len)
            .map(Some)
            .map_err(|p| malformed(field, p)),
    }
}

/// Validates the header section and returns an iterator over it.
fn read_headers<'a>(body: &mut Cursor<'a>, index: u32) -> Result<HeaderIter<'a>, RecordError> {
    let count = body
        .read_varint()
        .map_err(|problem| RecordError::Malformed {
            index,
            field: RecordField::HeaderCount,
            problem,
        })?;
    let count = u32::try_from(count).map_err(|_| RecordError::Malformed {
        index,
        field: RecordField::HeaderCount,
        problem: FieldProblem::Negative(i64::from(count)),
    })?;
    let start = body.clone();
    // Each header takes at least two bytes, so a huge count fails fast at the end of the body.
    for _ in 0..count {
        read_header_checked(body, index)?;
    }
    let consumed = start.remaining().len() - body.remaining().len();
    let section = start.remaining().get(..consumed).unwrap_or_default();
    Ok(HeaderIter {
        cursor: Cursor::new(section),
        remaining: count,
    })
}

fn read_header_checked<'a>(cursor: &mut Cursor<'a>, index: u32) -> Result<(), RecordError> {
    let malformed = |field, problem| RecordError::Malformed {
        index,
        field,
        problem,
    };
    let key_len = cursor
        .read_length()
        .map_err(|p| malformed(RecordField::HeaderKeyLength, p))?;
    let key = cursor
        .read_bytes(key_len)
        .map_err(|p| malformed(RecordField::HeaderKey, p))?;
    if std::str::from_utf8(key).is_err() {
        return Err(malformed(RecordField::HeaderKey, FieldProblem::NotUtf8));
    }
    read_nullable(
        cursor,
        RecordField::HeaderValueLength,
        RecordField::HeaderValue,
        index,
    )?;
    Ok(())
}

fn read_header<'a>(cursor: &mut Cursor<'a>) -> ReadResult<Header<'a>> {
    let key_len = cursor.read_length()?;
    let key = cursor.read_bytes(key_len)?;
    let value = match cursor.read_nullable_length()? {
        None => None,
        Some(len) => Some(cursor.read_bytes(len)?),
    };
    Ok(Header { key, value })
}
