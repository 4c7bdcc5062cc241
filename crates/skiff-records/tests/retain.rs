//! Rewriting a batch with some of its records dropped (key compaction): kafka-protocol's
//! decoder (which checks the CRC) reads the copy, every codec, offsets and producer fields
//! kept as Kafka's cleaner keeps them.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use crate::support;

use skiff_records::{BatchView, Retained, retain_records, set_base_offset};
use support::*;

fn specs() -> Vec<RecordSpec> {
    let mut specs = sample_specs();
    specs.push(spec(1_700_000_000_200, Some(b"key-5"), Some(b"five")));
    specs
}

#[test]
fn kept_records_keep_their_offsets_fields_and_codec() {
    for codec in ALL_CODECS {
        let mut batch = encode_batch(&specs(), idempotent_producer(), codec);
        set_base_offset(&mut batch, 1_000);
        let view = BatchView::new(&batch).unwrap();
        let (mut scratch, mut out) = (Vec::new(), Vec::new());
        // Keep offsets 1_002 (with headers) and 1_004.
        let retained = retain_records(
            view,
            1 << 20,
            |r| matches!(r.offset_delta, 2 | 4),
            &mut scratch,
            &mut out,
        )
        .unwrap();
        let Retained::Some {
            kept,
            len,
            max_timestamp,
        } = retained
        else {
            panic!("{codec:?}: {retained:?}");
        };
        assert_eq!((kept, len), (2, out.len()));
        assert_eq!(max_timestamp, 1_700_000_000_400);
        let copy = BatchView::new(&out).unwrap();
        copy.verify_crc().unwrap();
        assert_eq!(copy.base_offset(), 1_000);
        assert_eq!(
            copy.last_offset(),
            1_005,
            "{codec:?}: the batch still ends where it did"
        );
        assert_eq!(copy.record_count(), 2);
        assert_eq!(copy.compression().unwrap(), codec.ours());
        assert_eq!(
            (
                copy.producer_id(),
                copy.producer_epoch(),
                copy.base_sequence()
            ),
            (4242, 7, 100)
        );
        assert_eq!(copy.base_timestamp(), view.base_timestamp());
        assert_eq!(copy.max_timestamp(), 1_700_000_000_400);

        let decoded = kafka_decode_all(&out).unwrap();
        let records = &decoded[0].records;
        let original = specs();
        assert_eq!(records.len(), 2);
        for (record, index) in records.iter().zip([2usize, 4]) {
            assert_eq!(record.offset, 1_000 + index as i64, "{codec:?}");
            assert_eq!(record.timestamp, original[index].timestamp);
            assert_eq!(record.key.as_deref(), original[index].key.as_deref());
            assert_eq!(record.value.as_deref(), original[index].value.as_deref());
            assert_eq!(record.headers.len(), original[index].headers.len());
            assert_eq!(record.producer_id, 4242);
        }
    }
}

#[test]
fn all_or_nothing_writes_nothing() {
    let batch = encode_batch(&specs(), idempotent_producer(), Codec::Zstd);
    let view = BatchView::new(&batch).unwrap();
    let (mut scratch, mut out) = (Vec::new(), Vec::new());
    assert_eq!(
        retain_records(view, 1 << 20, |_| true, &mut scratch, &mut out).unwrap(),
        Retained::All
    );
    assert_eq!(
        retain_records(view, 1 << 20, |_| false, &mut scratch, &mut out).unwrap(),
        Retained::None
    );
    assert!(out.is_empty());
}

#[test]
fn a_corrupt_batch_is_an_error_not_a_guess() {
    let mut batch = encode_batch(&specs(), idempotent_producer(), Codec::None);
    let last = batch.len() - 1;
    batch.truncate(last);
    let len = (batch.len() - 12) as i32;
    batch[8..12].copy_from_slice(&len.to_be_bytes());
    let view = BatchView::new(&batch).unwrap();
    let (mut scratch, mut out) = (Vec::new(), Vec::new());
    assert!(
        retain_records(
            view,
            1 << 20,
            |r| r.offset_delta == 0,
            &mut scratch,
            &mut out
        )
        .is_err()
    );
}
