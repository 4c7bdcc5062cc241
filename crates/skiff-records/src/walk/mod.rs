//! A walk over the records of one batch: the shared pass behind produce validation and
//! timestamp lookups, and the one key compaction will use.
//!
//! Uncompressed records are read in place. Compressed ones are decompressed as the walk goes,
//! into a window that holds the unread part of the stream and grows only to fit the largest
//! record, so a walk costs memory in proportion to its largest record, not its batch, and
//! stops as soon as the output passes the caller's limit (decompression bombs cost at most
//! `limit` bytes of work). Nothing is allocated per record.

mod inflate;

use crate::batch::BatchView;
use crate::cursor::Cursor;
use crate::error::{FieldProblem, RecordError, RecordField, RecordsError};
use crate::record::{RecordRef, Timestamps, parse_body, read_record};
use crate::records::timestamps_of;
use inflate::Inflater;

/// Smallest and largest starting window; it grows beyond the largest when a record needs it.
const MIN_WINDOW: usize = 4 * 1024;
const MAX_START_WINDOW: usize = 64 * 1024;

/// The records of one batch, one at a time.
///
/// This is a lending iterator (each record borrows the walk, since compressed records live in
/// its window), so it is driven with `while let`:
///
/// ```
/// # fn walk(batch: skiff_records::BatchView<'_>) -> Result<(), skiff_records::RecordsError> {
/// let mut records = batch.walk_records(64 << 20)?;
/// while let Some(record) = records.next_record() {
///     let record = record?;
///     println!("{} {:?}", record.offset_delta, record.key);
/// }
/// # Ok(()) }
/// ```
///
/// After the last declared record it checks that the data ends there too: fewer records than
/// declared, or bytes after the last one, come out as a final error.
pub struct RecordWalk<'a> {
    source: Source<'a>,
    declared: u32,
    next_index: u32,
    timestamps: Timestamps,
    done: bool,
}

// A walk lives on the stack for one batch; boxing the window would only add an allocation.
#[allow(clippy::large_enum_variant)]
enum Source<'a> {
    Plain(Cursor<'a>),
    Compressed(Window<'a>),
}

impl<'a> BatchView<'a> {
    /// Walks the batch's records, decompressing at most `max_decompressed_bytes` of them.
    pub fn walk_records(
        &self,
        max_decompressed_bytes: usize,
    ) -> Result<RecordWalk<'a>, RecordsError> {
        let declared =
            u32::try_from(self.record_count()).map_err(|_| RecordsError::NegativeRecordCount {
                record_count: self.record_count(),
            })?;
        let input = self.records_bytes();
        let source = match Inflater::new(self.compression()?, input, max_decompressed_bytes) {
            None => Source::Plain(Cursor::new(input)),
            Some(inflater) => {
                Source::Compressed(Window::new(inflater, input.len(), max_decompressed_bytes))
            }
        };
        Ok(RecordWalk {
            source,
            declared,
            next_index: 0,
            timestamps: timestamps_of(self),
            done: false,
        })
    }
}

impl RecordWalk<'_> {
    /// The next record, or the error that ends the walk. `None` once every declared record was
    /// read and nothing follows them (or after an error).
    pub fn next_record(&mut self) -> Option<Result<RecordRef<'_>, RecordError>> {
        if self.done {
            return None;
        }
        let index = self.next_index;
        if index == self.declared {
            self.done = true;
            return match self.source.trailing_bytes() {
                Ok(0) => None,
                Ok(trailing) => Some(Err(RecordError::TrailingBytes {
                    declared: self.declared,
                    trailing,
                })),
                Err(error) => Some(Err(error)),
            };
        }
        let missing = RecordError::MissingRecords {
            declared: self.declared,
            found: index,
        };
        let result = match &mut self.source {
            Source::Plain(cursor) if cursor.is_empty() => Err(missing),
            Source::Plain(cursor) => read_record(cursor, index, self.timestamps),
            Source::Compressed(window) => match window.next_body(index) {
                Ok(None) => Err(missing),
                Ok(Some(body)) => parse_body(body, index, self.timestamps),
                Err(error) => Err(error),
            },
        };
        self.next_index += 1;
        self.done = result.is_err();
        Some(result)
    }

    /// Records the batch header declares.
    pub fn declared(&self) -> u32 {
        self.declared
    }

    /// Bytes decompressed so far (0 for an uncompressed batch).
    pub fn decompressed_bytes(&self) -> usize {
        match &self.source {
            Source::Plain(_) => 0,
            Source::Compressed(window) => window.produced,
        }
    }
}

impl Source<'_> {
    /// Bytes left after the last declared record (reading a compressed stream to its end, up to
    /// the limit, so a stream's own checksums are verified too).
    fn trailing_bytes(&mut self) -> Result<usize, RecordError> {
        match self {
            Source::Plain(cursor) => Ok(cursor.remaining().len()),
            Source::Compressed(window) => window.drain(),
        }
    }
}

/// Decompressed bytes not yet walked: `buf[start..end]`, the stream's next bytes.
struct Window<'a> {
    inflater: Inflater<'a>,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
    /// Bytes the inflater has produced so far.
    produced: usize,
    limit: usize,
}

impl<'a> Window<'a> {
    fn new(inflater: Inflater<'a>, compressed_len: usize, limit: usize) -> Self {
        let size = compressed_len
            .saturating_mul(4)
            .clamp(MIN_WINDOW, MAX_START_WINDOW)
            .min(limit.saturating_add(1));
        Window {
            inflater,
            buf: vec![0; size],
            start: 0,
            end: 0,
            eof: false,
            produced: 0,
            limit,
        }
    }

    fn too_large(&self) -> RecordError {
        RecordError::DecompressedTooLarge {
            codec: self.inflater.codec(),
            limit: self.limit,
        }
    }

    /// Makes `wanted` unread bytes available unless the stream ends first (or passes the
    /// limit, an error). Returns how many are available.
    fn fill(&mut self, wanted: usize) -> Result<usize, RecordError> {
        // Bytes past the limit are never needed: one more proves the stream is too long.
        let stream_position = self.produced - (self.end - self.start);
        let wanted = wanted.min(self.limit.saturating_sub(stream_position).saturating_add(1));
        while self.end - self.start < wanted && !self.eof {
            if self.end == self.buf.len() {
                self.make_room(wanted);
            }
            let read = self
                .inflater
                .read(self.buf.get_mut(self.end..).unwrap_or_default())?;
            if read == 0 {
                self.eof = true;
            }
            self.end += read;
            self.produced += read;
            if self.produced > self.limit {
                return Err(self.too_large());
            }
        }
        Ok(self.end - self.start)
    }

    /// Moves the unread bytes to the front, and grows the buffer if `wanted` still does not fit.
    fn make_room(&mut self, wanted: usize) {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            let grown = self
                .buf
                .len()
                .saturating_mul(2)
                .min(self.limit.saturating_add(1))
                .max(wanted);
            self.buf.resize(grown, 0);
        }
    }

    /// The next record's body, or `None` if the stream ends cleanly before it.
    fn next_body(&mut self, index: u32) -> Result<Option<&[u8]>, RecordError> {
        let malformed = |problem| RecordError::Malformed {
            index,
            field: RecordField::Length,
            problem,
        };
        // A record length is a varint of at most 5 bytes.
        let available = self.fill(5)?;
        if available == 0 {
            return Ok(None);
        }
        let prefix = self
            .buf
            .get(self.start..self.start + available.min(5))
            .unwrap_or_default();
        let mut cursor = Cursor::new(prefix);
        let length = cursor.read_length().map_err(malformed)?;
        self.start += prefix.len() - cursor.remaining().len();
        let available = self.fill(length)?;
        if available < length {
            return Err(malformed(FieldProblem::PastEnd {
                len: length,
                available,
            }));
        }
        let body_start = self.start;
        self.start += length;
        Ok(self.buf.get(body_start..self.start))
    }

    /// Reads the stream to its end and counts what is left.
    fn drain(&mut self) -> Result<usize, RecordError> {
        let mut trailing = self.end - self.start;
        self.start = 0;
        self.end = 0;
        while !self.eof {
            let read = self.inflater.read(&mut self.buf)?;
            if read == 0 {
                self.eof = true;
            }
            trailing += read;
            self.produced += read;
            if self.produced > self.limit {
                return Err(self.too_large());
            }
        }
        Ok(trailing)
    }
}
