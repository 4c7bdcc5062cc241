use crate::batch::{
    ATTRIBUTES_AT, BASE_OFFSET_AT, BatchView, CRC_AT, CRC_COVERED_FROM, MAX_TIMESTAMP_AT,
    TIMESTAMP_TYPE_BIT,
};
use crate::error::RecordsError;
use crate::iter::next_batch_range;

/// Writes `base_offset` into a batch header. The CRC does not cover these bytes, so nothing
/// else changes. Does nothing to a slice shorter than the base offset field; callers pass
/// batches obtained from [`crate::batches`] or [`BatchView::new`].
pub fn set_base_offset(batch: &mut [u8], base_offset: i64) {
    if let Some(field) = batch
        .get_mut(BASE_OFFSET_AT..)
        .and_then(|rest| rest.first_chunk_mut::<8>())
    {
        *field = base_offset.to_be_bytes();
    }
}

/// Gives consecutive batches consecutive offsets starting at `first_offset` and returns the
/// offset after the last one. All batches are checked before any is written, so on error the
/// buffer is untouched.
pub fn assign_offsets(buf: &mut [u8], first_offset: i64) -> Result<i64, RecordsError> {
    let mut next_offset = first_offset;
    for batch in crate::batches(buf) {
        next_offset = next_offset
            .checked_add(i64::from(batch?.offset_count()))
            .ok_or(RecordsError::OffsetOverflow { first_offset })?;
    }

    let mut position = 0;
    let mut offset = first_offset;
    while position < buf.len() {
        let range = next_batch_range(buf, position)?;
        position = range.end;
        let Some(batch) = buf.get_mut(range) else {
            break;
        };
        let offset_count = BatchView::new(batch)?.offset_count();
        set_base_offset(batch, offset);
        // Cannot overflow: the first pass summed the same counts with checked arithmetic.
        offset = offset.wrapping_add(i64::from(offset_count));
    }
    Ok(next_offset)
}

/// Gives the batches of one stored run (what one index entry covers) their real offsets,
/// `base_offset` onwards, and checks that they end at `last_offset` as the index says: stored
/// bytes that disagree with their index entry are an error, never served.
pub fn assign_run_offsets(
    run: &mut [u8],
    base_offset: i64,
    last_offset: i64,
) -> Result<(), RecordsError> {
    let next = assign_offsets(run, base_offset)?;
    if next != last_offset.wrapping_add(1) {
        return Err(RecordsError::RunEndsElsewhere {
            actual: next.wrapping_sub(1),
            expected: last_offset,
        });
    }
    Ok(())
}

/// Checks the batches of a stored run that already carry their real offsets (written by a
/// merge or compaction, where compaction leaves gaps between batches): each starts after the
/// previous one ends, and all lie within `base_offset..=last_offset`. Nothing is written.
pub fn check_run_offsets(
    run: &[u8],
    base_offset: i64,
    last_offset: i64,
) -> Result<(), RecordsError> {
    let mut next_allowed = base_offset;
    for batch in crate::batches(run) {
        let batch = batch?;
        let (first, last) = (batch.base_offset(), batch.last_offset());
        if first < next_allowed || last > last_offset || last < first {
            return Err(RecordsError::RunEndsElsewhere {
                actual: last,
                expected: last_offset,
            });
        }
        next_allowed = last.saturating_add(1);
    }
    Ok(())
}

/// Marks a batch as LogAppendTime with `timestamp_ms` as its max timestamp, as a Kafka broker
/// does for `message.timestamp.type=LogAppendTime` (the base timestamp is left alone).
///
/// The CRC is updated from the changed bytes only instead of rehashed: that costs the same for
/// any batch size, and a batch that was already corrupt stays detectably corrupt instead of
/// being given a fresh valid checksum.
pub fn set_log_append_time(batch: &mut [u8], timestamp_ms: i64) -> Result<(), RecordsError> {
    let view = BatchView::new(batch)?;
    let old_attributes = view.attributes();
    let old_max_timestamp = view.max_timestamp();
    let old_crc = view.crc();

    let new_attributes = old_attributes | TIMESTAMP_TYPE_BIT;
    write_field(batch, ATTRIBUTES_AT, new_attributes.to_be_bytes());
    write_field(batch, MAX_TIMESTAMP_AT, timestamp_ms.to_be_bytes());

    // CRC-32C is affine over GF(2): for equal-length inputs crc(a ^ b ^ c) = crc(a) ^ crc(b) ^
    // crc(c). With a = old bytes, b = (old ^ new) in the changed prefix and zeros after, c = all
    // zeros: crc(new) = crc(old) ^ crc(b) ^ crc(c), and the shared zero tail cancels out, leaving
    // the prefix difference shifted past the unchanged tail.
    const PREFIX_LEN: usize = MAX_TIMESTAMP_AT + 8 - CRC_COVERED_FROM;
    let mut diff = [0u8; PREFIX_LEN];
    let attributes_diff = (old_attributes ^ new_attributes).to_be_bytes();
    let timestamp_diff = (old_max_timestamp ^ timestamp_ms).to_be_bytes();
    diff[ATTRIBUTES_AT - CRC_COVERED_FROM..][..2].copy_from_slice(&attributes_diff);
    diff[MAX_TIMESTAMP_AT - CRC_COVERED_FROM..][..8].copy_from_slice(&timestamp_diff);
    let tail_len = batch.len().saturating_sub(CRC_COVERED_FROM + PREFIX_LEN);
    let prefix_delta = crc32c::crc32c(&diff) ^ crc32c::crc32c(&[0u8; PREFIX_LEN]);
    let new_crc = old_crc ^ crc32c::crc32c_combine(prefix_delta, 0, tail_len);
    write_field(batch, CRC_AT, new_crc.to_be_bytes());
    Ok(())
}

fn write_field<const N: usize>(batch: &mut [u8], at: usize, value: [u8; N]) {
    if let Some(field) = batch
        .get_mut(at..)
        .and_then(|rest| rest.first_chunk_mut::<N>())
    {
        *field = value;
    }
}
