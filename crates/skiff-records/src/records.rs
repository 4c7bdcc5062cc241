//! Cold-path record decoding (ListOffsets by timestamp, archiving, tools). The produce and fetch
//! paths never come here.

use std::borrow::Cow;
use std::iter::FusedIterator;

use crate::batch::{BatchView, Compression, TimestampType};
use crate::compression::{DEFAULT_MAX_DECOMPRESSED_BYTES, decompress};
use crate::cursor::{Cursor, ReadResult};
use crate::error::RecordsError;

/// The records of one batch, decompressed if the batch was compressed (then owned), borrowed
/// from the batch otherwise.
#[derive(Debug, Clone)]
pub struct DecodedRecords<'a> {
    data: Cow<'a, [u8]>,
    record_count: u32,
    base_timestamp: i64,
    /// Kafka clients report every record of a LogAppendTime batch at the batch max timestamp.
    log_append_time: Option<i64>,
}

impl<'a> BatchView<'a> {
    /// Cold path: decompresses if needed, up to [`DEFAULT_MAX_DECOMPRESSED_BYTES`].
    pub fn records(&self) -> Result<DecodedRecords<'a>, RecordsError> {
        self.records_with_limit(DEFAULT_MAX_DECOMPRESSED_BYTES)
    }

    /// Like [`BatchView::records`] with an explicit cap on decompressed bytes.
    pub fn records_with_limit(
        &self,
        max_decompressed_bytes: usize,
    ) -> Result<DecodedRecords<'a>, RecordsError> {
        DecodedRecords::decode(*self, max_decompressed_bytes)
    }
}

impl<'a> DecodedRecords<'a> {
    pub(crate) fn decode(
        batch: BatchView<'a>,
        max_decompressed_bytes: usize,
    ) -> Result<Self, RecordsError> {
        let record_count =
            u32::try_from(batch.record_count()).map_err(|_| RecordsError::NegativeRecordCount {
                record_count: batch.record_count(),
            })?;
        let data = match batch.compression()? {
            Compression::None => Cow::Borrowed(batch.records_bytes()),
            codec => Cow::Owned(decompress(
                codec,
                batch.records_bytes(),
                max_decompressed_bytes,
            )?),
        };
        let log_append_time = match batch.timestamp_type() {
            TimestampType::LogAppendTime => Some(batch.max_timestamp()),
            TimestampType::CreateTime => None,
        };
        Ok(DecodedRecords {
            data,
            record_count,
            base_timestamp: batch.base_timestamp(),
            log_append_time,
        })
    }

    /// Record count declared by the batch header.
    pub fn record_count(&self) -> u32 {
        self.record_count
    }

    /// The uncompressed records section.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// Yields each record, then an error if the data holds fewer or more records than declared.
    /// Stops after the first error.
    pub fn iter(&self) -> RecordIter<'_> {
        RecordIter {
            cursor: Cursor::new(&self.data),
            declared: self.record_count,
            next_index: 0,
            base_timestamp: self.base_timestamp,
            log_append_time: self.log_append_time,
            done: false,
        }
    }
}

impl<'r> IntoIterator for &'r DecodedRecords<'_> {
    type Item = Result<RecordRef<'r>, RecordsError>;
    type IntoIter = RecordIter<'r>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// One record, borrowing its key, value and headers from the decoded data.
#[derive(Debug, Clone)]
pub struct RecordRef<'a> {
    pub attributes: i8,
    pub offset_delta: i32,
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

#[derive(Debug, Clone)]
pub struct RecordIter<'a> {
    cursor: Cursor<'a>,
    declared: u32,
    next_index: u32,
    base_timestamp: i64,
    log_append_time: Option<i64>,
    done: bool,
}

impl<'a> Iterator for RecordIter<'a> {
    type Item = Result<RecordRef<'a>, RecordsError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        if self.next_index == self.declared {
            self.done = true;
            return match self.cursor.remaining().len() {
                0 => None,
                trailing => Some(Err(RecordsError::TrailingRecordBytes {
                    declared: self.declared,
                    trailing,
                })),
            };
        }
        if self.cursor.is_empty() {
            self.done = true;
            return Some(Err(RecordsError::MissingRecords {
                declared: self.declared,
                found: self.next_index,
            }));
        }
        let record_index = self.next_index;
        let result = read_record(&mut self.cursor, self.base_timestamp, self.log_append_time)
            .map_err(|reason| RecordsError::MalformedRecord {
                record_index,
                reason,
            });
        self.next_index += 1;
        self.done = result.is_err();
        Some(result)
    }
}

impl FusedIterator for RecordIter<'_> {}

fn read_record<'a>(
    cursor: &mut Cursor<'a>,
    base_timestamp: i64,
    log_append_time: Option<i64>,
) -> ReadResult<RecordRef<'a>> {
    let length = cursor.read_varint()?;
    let length = usize::try_from(length).map_err(|_| "its length is negative")?;
    let body = cursor
        .read_bytes(length)
        .map_err(|_| "its length runs past the end of the records")?;
    let mut body = Cursor::new(body);

    let attributes = body.read_u8()? as i8;
    let timestamp_delta = body.read_varlong()?;
    let offset_delta = body.read_varint()?;
    let key = body.read_nullable_bytes()?;
    let value = body.read_nullable_bytes()?;
    let headers = read_headers(&mut body)?;
    if !body.is_empty() {
        return Err("its length is larger than its contents");
    }
    Ok(RecordRef {
        attributes,
        offset_delta,
        // Java adds with wraparound; so do we rather than fail on an absurd delta.
        timestamp: log_append_time.unwrap_or(base_timestamp.wrapping_add(timestamp_delta)),
        key,
        value,
        headers,
    })
}

/// Validates the header section and returns an iterator over it.
fn read_headers<'a>(body: &mut Cursor<'a>) -> ReadResult<HeaderIter<'a>> {
    let count = body.read_varint()?;
    let count = u32::try_from(count).map_err(|_| "its header count is negative")?;
    let start = body.clone();
    // Each header takes at least two bytes, so a huge count fails fast at the end of the body.
    for _ in 0..count {
        read_header(body)?;
    }
    let consumed = start.remaining().len() - body.remaining().len();
    let section = start.remaining().get(..consumed).unwrap_or_default();
    Ok(HeaderIter {
        cursor: Cursor::new(section),
        remaining: count,
    })
}

fn read_header<'a>(cursor: &mut Cursor<'a>) -> ReadResult<Header<'a>> {
    let key_len = cursor.read_varint()?;
    let key_len = usize::try_from(key_len).map_err(|_| "a header key length is negative")?;
    let key = cursor.read_bytes(key_len)?;
    let value = cursor.read_nullable_bytes()?;
    Ok(Header { key, value })
}
