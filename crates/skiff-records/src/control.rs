//! Transaction markers as Kafka writes them: a control batch (attributes: transactional and
//! control) holding one record whose key is `(version 0, type)` and whose value is
//! `(version 0, coordinator epoch)`. Skiff stores no bytes for markers; readers build them
//! here from the few fields that determine them.

use crate::batch::{
    ATTRIBUTES_AT, BASE_OFFSET_AT, BASE_SEQUENCE_AT, BASE_TIMESTAMP_AT, BATCH_HEADER_LEN,
    BATCH_LENGTH_AT, CONTROL_BIT, CURRENT_MAGIC, LAST_OFFSET_DELTA_AT, LOG_OVERHEAD, MAGIC_AT,
    MAX_TIMESTAMP_AT, NO_SEQUENCE, PARTITION_LEADER_EPOCH_AT, PRODUCER_EPOCH_AT, PRODUCER_ID_AT,
    RECORD_COUNT_AT, TRANSACTIONAL_BIT, put, put_crc,
};

/// The one record of a marker batch: length (varint 16), attributes, timestamp delta 0,
/// offset delta 0, key length (varint 4), key (4 bytes), value length (varint 6), value
/// (6 bytes), no headers.
const RECORD_LEN: usize = 17;
/// Bytes of a marker batch.
pub const CONTROL_BATCH_LEN: usize = BATCH_HEADER_LEN + RECORD_LEN;

/// Kafka's control record types.
const ABORT: u8 = 0;
const COMMIT: u8 = 1;

/// What determines a COMMIT or ABORT marker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ControlMarker {
    pub offset: i64,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub commit: bool,
    pub timestamp: i64,
    pub coordinator_epoch: i32,
}

/// The marker's control batch, with a valid CRC.
pub fn control_batch(marker: &ControlMarker) -> [u8; CONTROL_BATCH_LEN] {
    let mut out = [0u8; CONTROL_BATCH_LEN];
    // CONTROL_BATCH_LEN is a small constant: the narrowing cannot lose bits.
    let batch_length = (CONTROL_BATCH_LEN - LOG_OVERHEAD) as i32;
    put(&mut out, BASE_OFFSET_AT, marker.offset.to_be_bytes());
    put(&mut out, BATCH_LENGTH_AT, batch_length.to_be_bytes());
    put(&mut out, PARTITION_LEADER_EPOCH_AT, (-1i32).to_be_bytes());
    put(&mut out, MAGIC_AT, CURRENT_MAGIC.to_be_bytes());
    put(
        &mut out,
        ATTRIBUTES_AT,
        (TRANSACTIONAL_BIT | CONTROL_BIT).to_be_bytes(),
    );
    put(&mut out, LAST_OFFSET_DELTA_AT, 0i32.to_be_bytes());
    put(&mut out, BASE_TIMESTAMP_AT, marker.timestamp.to_be_bytes());
    put(&mut out, MAX_TIMESTAMP_AT, marker.timestamp.to_be_bytes());
    put(&mut out, PRODUCER_ID_AT, marker.producer_id.to_be_bytes());
    put(
        &mut out,
        PRODUCER_EPOCH_AT,
        marker.producer_epoch.to_be_bytes(),
    );
    put(&mut out, BASE_SEQUENCE_AT, NO_SEQUENCE.to_be_bytes());
    put(&mut out, RECORD_COUNT_AT, 1i32.to_be_bytes());
    let kind = if marker.commit { COMMIT } else { ABORT };
    let epoch = marker.coordinator_epoch.to_be_bytes();
    // Varints are zigzag-encoded: 16 → 0x20, 4 → 0x08, 6 → 0x0c.
    let record: [u8; RECORD_LEN] = [
        0x20, 0, 0, 0, 0x08, 0, 0, 0, kind, 0x0c, 0, 0, epoch[0], epoch[1], epoch[2], epoch[3], 0,
    ];
    put(&mut out, BATCH_HEADER_LEN, record);
    put_crc(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BatchView;

    #[test]
    fn a_marker_batch_reads_back_through_our_parser() {
        let marker = ControlMarker {
            offset: 1234,
            producer_id: 1001,
            producer_epoch: 3,
            commit: true,
            timestamp: 1_700_000_000_000,
            coordinator_epoch: 0,
        };
        let bytes = control_batch(&marker);
        let batch = BatchView::new(&bytes).expect("one batch");
        batch.verify_crc().expect("valid CRC");
        assert_eq!(batch.len(), CONTROL_BATCH_LEN);
        assert!(batch.is_control() && batch.is_transactional());
        assert_eq!(
            (
                batch.base_offset(),
                batch.last_offset(),
                batch.record_count()
            ),
            (1234, 1234, 1)
        );
        assert_eq!((batch.producer_id(), batch.producer_epoch()), (1001, 3));
        let mut walk = batch.walk_records(1024).expect("walks");
        let record = walk.next_record().expect("one record").expect("valid");
        assert_eq!(record.key, Some(&[0u8, 0, 0, 1][..]));
        assert_eq!(record.value, Some(&[0u8, 0, 0, 0, 0, 0][..]));
        assert_eq!(record.timestamp, 1_700_000_000_000);
    }
}
