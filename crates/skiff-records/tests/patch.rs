//! Offset patching and LogAppendTime stamping.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use crate::support;

use kafka_protocol::records::TimestampType as KTimestampType;
use skiff_records::{
    BatchView, ProduceRules, RecordsError, TimestampType, assign_offsets, assign_run_offsets,
    batches, set_base_offset, set_log_append_time, validate_record_set,
};
use support::*;

#[test]
fn set_base_offset_changes_only_the_base_offset_and_keeps_the_crc_valid() {
    let original = encode_batch(&sample_specs(), idempotent_producer(), Codec::Gzip);
    let mut batch = original.clone();
    set_base_offset(&mut batch, 0x0102_0304_0506_0708);
    assert_eq!(&batch[..8], &[1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(&batch[8..], &original[8..]);
    let view = BatchView::new(&batch).unwrap();
    assert_eq!(view.base_offset(), 0x0102_0304_0506_0708);
    assert_eq!(view.last_offset(), 0x0102_0304_0506_0708 + 4);
    view.verify_crc().unwrap();
    let decoded = kafka_decode_all(&batch).unwrap();
    assert_eq!(decoded[0].records[4].offset, 0x0102_0304_0506_0708 + 4);
}

#[test]
fn set_base_offset_ignores_slices_too_short_to_hold_it() {
    let mut short = [9u8; 5];
    set_base_offset(&mut short, 77);
    assert_eq!(short, [9u8; 5]);
}

#[test]
fn assign_offsets_leaves_the_buffer_untouched_when_any_batch_is_bad() {
    let good = encode_batch(&sample_specs(), NO_PRODUCER, Codec::None);
    let mut set = good.clone();
    set.extend_from_slice(&good[..good.len() - 3]);
    let before = set.clone();
    let error = assign_offsets(&mut set, 500).unwrap_err();
    assert!(error.is_partial_batch(), "{error}");
    assert_eq!(set, before);
}

#[test]
fn assign_offsets_reports_overflow_instead_of_wrapping() {
    let mut batch = encode_batch(&sample_specs(), NO_PRODUCER, Codec::None);
    let error = assign_offsets(&mut batch, i64::MAX - 2).unwrap_err();
    assert_eq!(
        error,
        RecordsError::OffsetOverflow {
            first_offset: i64::MAX - 2
        }
    );
    assert_eq!(BatchView::new(&batch).unwrap().base_offset(), 0);
    // Exactly reaching i64::MAX as the next offset is fine.
    assert_eq!(assign_offsets(&mut batch, i64::MAX - 5).unwrap(), i64::MAX);
}

#[test]
fn assign_offsets_on_an_empty_buffer_returns_the_first_offset() {
    assert_eq!(assign_offsets(&mut [], 42).unwrap(), 42);
}

#[test]
fn log_append_time_keeps_the_crc_valid_and_is_what_readers_see() {
    let stamp = 1_800_000_000_123;
    for codec in ALL_CODECS {
        let original = encode_batch(&sample_specs(), idempotent_producer(), codec);
        let mut batch = original.clone();
        set_log_append_time(&mut batch, stamp).unwrap();

        let view = BatchView::new(&batch).unwrap();
        view.verify_crc().unwrap();
        assert_eq!(view.crc(), crc32c::crc32c(&batch[21..]));
        assert_eq!(view.timestamp_type(), TimestampType::LogAppendTime);
        assert_eq!(view.max_timestamp(), stamp);
        assert_eq!(
            view.base_timestamp(),
            1_700_000_000_050,
            "base timestamp is left alone"
        );
        assert_eq!(
            view.compression().unwrap(),
            codec.ours(),
            "other attribute bits kept"
        );

        let decoded = view.records().unwrap();
        for record in decoded.iter() {
            assert_eq!(record.unwrap().timestamp, stamp);
        }

        // kafka-protocol checks the CRC and reports the timestamp type (it derives record
        // timestamps from the base timestamp, so those are not compared here).
        let sets = kafka_decode_all(&batch).unwrap();
        assert!(
            sets[0]
                .records
                .iter()
                .all(|record| record.timestamp_type == KTimestampType::LogAppend)
        );
    }
}

#[test]
fn log_append_time_is_idempotent_and_restampable() {
    let mut batch = encode_batch(&sample_specs(), NO_PRODUCER, Codec::Zstd);
    set_log_append_time(&mut batch, 10).unwrap();
    set_log_append_time(&mut batch, 10).unwrap();
    set_log_append_time(&mut batch, -20).unwrap();
    let view = BatchView::new(&batch).unwrap();
    view.verify_crc().unwrap();
    assert_eq!(view.max_timestamp(), -20);
}

#[test]
fn log_append_time_does_not_launder_a_corrupt_batch() {
    let mut batch = encode_batch(&sample_specs(), NO_PRODUCER, Codec::None);
    let last = batch.len() - 1;
    batch[last] ^= 1;
    set_log_append_time(&mut batch, 99).unwrap();
    assert!(matches!(
        BatchView::new(&batch).unwrap().verify_crc(),
        Err(RecordsError::CrcMismatch { .. })
    ));
}

#[test]
fn log_append_time_rejects_bytes_that_are_not_one_batch() {
    let batch = encode_batch(&sample_specs(), NO_PRODUCER, Codec::None);
    let mut two = batch.clone();
    two.extend_from_slice(&batch);
    let before = two.clone();
    assert!(matches!(
        set_log_append_time(&mut two, 1),
        Err(RecordsError::LengthMismatch { .. })
    ));
    assert_eq!(two, before);
    let mut short = batch[..30].to_vec();
    assert!(
        set_log_append_time(&mut short, 1)
            .unwrap_err()
            .is_partial_batch()
    );
}

#[test]
fn last_sequence_wraps_past_i32_max_to_zero() {
    let mut batch = encode_batch(&sample_specs(), idempotent_producer(), Codec::None);
    patch_header(&mut batch, 53, &(i32::MAX - 1).to_be_bytes());
    let view = BatchView::new(&batch).unwrap();
    assert_eq!(view.last_offset_delta(), 4);
    assert_eq!(view.last_sequence(), 2);
    for batch in batches(&batch) {
        assert_eq!(batch.unwrap().last_sequence(), 2);
    }
}

#[test]
fn summaries_give_each_batch_range_and_last_sequence() {
    let first = encode_batch(&sample_specs(), idempotent_producer(), Codec::None);
    let wrapping = Producer {
        base_sequence: i32::MAX - 1,
        ..idempotent_producer()
    };
    let second = encode_batch(&sample_specs()[..3], wrapping, Codec::SnappyRaw);
    let mut set = [first.clone(), second.clone()].concat();
    let mut out = Vec::new();
    validate_record_set(&set, &ProduceRules::with_max_batch_bytes(1 << 20), &mut out).unwrap();
    assert_eq!(out[0].range(), 0..first.len());
    assert_eq!(out[1].range(), first.len()..set.len());
    assert_eq!(out[0].last_sequence(), 104);
    assert_eq!(out[1].last_sequence(), 0, "MAX-1, MAX, then wraps to 0");

    // The ranges are what stamping a produce set batch by batch needs.
    let ranges: Vec<_> = out.iter().map(|summary| summary.range()).collect();
    for range in ranges {
        set_log_append_time(&mut set[range], 7).unwrap();
    }
    for batch in batches(&set) {
        let batch = batch.unwrap();
        batch.verify_crc().unwrap();
        assert_eq!(batch.max_timestamp(), 7);
    }
}

#[test]
fn a_run_is_patched_only_when_it_ends_where_its_index_entry_says() {
    let batch = encode_batch(&sample_specs(), NO_PRODUCER, Codec::None);
    let count = i64::from(
        skiff_records::BatchView::new(&batch)
            .unwrap()
            .offset_count(),
    );
    let mut run = batch.clone();
    run.extend_from_slice(&batch);
    let mut right = run.clone();
    assign_run_offsets(&mut right, 100, 100 + 2 * count - 1).unwrap();
    let offsets: Vec<i64> = skiff_records::batches(&right)
        .map(|b| b.unwrap().base_offset())
        .collect();
    assert_eq!(offsets, vec![100, 100 + count]);

    let mut wrong = run.clone();
    assert_eq!(
        assign_run_offsets(&mut wrong, 100, 100 + count - 1).unwrap_err(),
        RecordsError::RunEndsElsewhere {
            actual: 100 + 2 * count - 1,
            expected: 100 + count - 1,
        }
    );
}
