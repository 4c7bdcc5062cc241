use std::iter::FusedIterator;
use std::ops::Range;

use crate::batch::{
    BATCH_LENGTH_AT, BatchView, CURRENT_MAGIC, LOG_OVERHEAD, MAGIC_AT, MIN_BATCH_LENGTH,
};
use crate::error::RecordsError;

/// Iterates the batches of concatenated batch bytes (a produce record set, a stored chunk, a
/// fetch response). Yields an error once and then stops. A trailing partial batch surfaces as
/// [`RecordsError::PartialBatch`] (see [`RecordsError::is_partial_batch`]).
#[derive(Debug, Clone)]
pub struct BatchIter<'a> {
    buf: &'a [u8],
    position: usize,
    failed: bool,
}

pub fn batches(buf: &[u8]) -> BatchIter<'_> {
    BatchIter {
        buf,
        position: 0,
        failed: false,
    }
}

impl<'a> BatchIter<'a> {
    /// Byte position of the next batch (after an error: of the batch that failed).
    pub fn position(&self) -> usize {
        self.position
    }

    /// Bytes not yet yielded as batches.
    pub fn remaining(&self) -> &'a [u8] {
        self.buf.get(self.position..).unwrap_or_default()
    }
}

impl<'a> Iterator for BatchIter<'a> {
    type Item = Result<BatchView<'a>, RecordsError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.position >= self.buf.len() {
            return None;
        }
        let result = next_batch_range(self.buf, self.position).and_then(|range| {
            let view = BatchView::new(self.buf.get(range.clone()).unwrap_or_default())?;
            Ok((view, range.end))
        });
        match result {
            Ok((view, end)) => {
                self.position = end;
                Some(Ok(view))
            }
            Err(error) => {
                self.failed = true;
                Some(Err(error))
            }
        }
    }
}

impl FusedIterator for BatchIter<'_> {}

/// Byte range of the batch starting at `start`, from its length field alone. Magic is checked
/// as soon as it is visible so legacy (v0/v1) message sets are named as such rather than
/// reported as too short.
pub(crate) fn next_batch_range(buf: &[u8], start: usize) -> Result<Range<usize>, RecordsError> {
    let rest = buf.get(start..).unwrap_or_default();
    let Some(log_overhead) = rest.first_chunk::<LOG_OVERHEAD>() else {
        return Err(RecordsError::PartialBatch {
            needed: LOG_OVERHEAD as u64,
            available: rest.len(),
        });
    };
    let mut length_field = [0u8; 4];
    length_field.copy_from_slice(&log_overhead[BATCH_LENGTH_AT..]);
    let batch_length = i32::from_be_bytes(length_field);
    if let Some(&magic) = rest.get(MAGIC_AT) {
        let magic = magic as i8;
        if magic != CURRENT_MAGIC {
            return Err(RecordsError::UnsupportedMagic { magic });
        }
    }
    if batch_length < MIN_BATCH_LENGTH {
        return Err(RecordsError::BatchLengthTooSmall { batch_length });
    }
    let needed = LOG_OVERHEAD as u64 + u64::from(batch_length.unsigned_abs());
    match usize::try_from(needed) {
        Ok(size) if size <= rest.len() => Ok(start..start + size),
        _ => Err(RecordsError::PartialBatch {
            needed,
            available: rest.len(),
        }),
    }
}
