//! Cold-path record decoding into an owned buffer (timestamp lookups, tools). The produce path
//! walks records with [`crate::RecordWalk`] instead, which never holds a whole decompressed
//! batch.

use std::borrow::Cow;
use std::iter::FusedIterator;

use crate::batch::{BatchView, Compression, TimestampType};
use crate::compression::{DEFAULT_MAX_DECOMPRESSED_BYTES, decompress};
use crate::cursor::Cursor;
use crate::error::{RecordError, RecordsError};
use crate::record::{RecordRef, Timestamps, read_record};

/// The records of one batch, decompressed if the batch was compressed (then owned), borrowed
/// from the batch otherwise.
#[derive(Debug, Clone)]
pub struct DecodedRecords<'a> {
    data: Cow<'a, [u8]>,
    record_count: u32,
    timestamps: Timestamps,
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
        Ok(DecodedRecords {
            data,
            record_count,
            timestamps: timestamps_of(&batch),
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
            timestamps: self.timestamps,
            done: false,
        }
    }
}

pub(crate) fn timestamps_of(batch: &BatchView<'_>) -> Timestamps {
    Timestamps {
        base: batch.base_timestamp(),
        log_append_time: match batch.timestamp_type() {
            TimestampType::LogAppendTime => Some(batch.max_timestamp()),
            TimestampType::CreateTime => None,
        },
    }
}

impl<'r> IntoIterator for &'r DecodedRecords<'_> {
    type Item = Result<RecordRef<'r>, RecordsError>;
    type IntoIter = RecordIter<'r>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

#[derive(Debug, Clone)]
pub struct RecordIter<'a> {
    cursor: Cursor<'a>,
    declared: u32,
    next_index: u32,
    timestamps: Timestamps,
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
                trailing => Some(Err(RecordError::TrailingBytes {
                    declared: self.declared,
                    trailing,
                }
                .into())),
            };
        }
        if self.cursor.is_empty() {
            self.done = true;
            return Some(Err(RecordError::MissingRecords {
                declared: self.declared,
                found: self.next_index,
            }
            .into()));
        }
        let result = read_record(&mut self.cursor, self.next_index, self.timestamps)
            .map_err(RecordsError::from);
        self.next_index += 1;
        self.done = result.is_err();
        Some(result)
    }
}

impl FusedIterator for RecordIter<'_> {}
