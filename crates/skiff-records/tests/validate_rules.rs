//! One test per produce-validation rule, each checking the Kafka error code it maps to.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use crate::support;

use skiff_records::{
    InvalidBatch, InvalidRecords, ProduceRules, RecordsError, validate_record_set,
};
use support::*;

const MAX: usize = 1024 * 1024;
const CORRUPT_MESSAGE: i16 = 2;
const MESSAGE_TOO_LARGE: i16 = 10;
const INVALID_RECORD: i16 = 87;

fn valid_batch() -> Vec<u8> {
    encode_batch(&sample_specs(), idempotent_producer(), Codec::None)
}

fn validate(buf: &[u8]) -> Result<Vec<skiff_records::BatchSummary>, InvalidRecords> {
    let mut out = Vec::new();
    validate_record_set(buf, &ProduceRules::with_max_batch_bytes(MAX), &mut out).map(|()| out)
}

fn corrupt_cause(error: InvalidRecords) -> RecordsError {
    assert_eq!(error.kafka_error_code(), CORRUPT_MESSAGE, "{error}");
    match error {
        InvalidRecords::Corrupt { cause, .. } => cause,
        other => panic!("expected Corrupt, got {other}"),
    }
}

fn invalid_reason(error: InvalidRecords) -> InvalidBatch {
    assert_eq!(error.kafka_error_code(), INVALID_RECORD, "{error}");
    match error {
        InvalidRecords::InvalidRecord { reason, .. } => reason,
        other => panic!("expected InvalidRecord, got {other}"),
    }
}

#[test]
fn empty_record_set_is_corrupt() {
    let cause = corrupt_cause(validate(&[]).unwrap_err());
    assert_eq!(cause, RecordsError::EmptyRecordSet);
}

#[test]
fn batch_not_fully_present_is_corrupt() {
    let batch = valid_batch();
    let cause = corrupt_cause(validate(&batch[..batch.len() - 1]).unwrap_err());
    assert!(cause.is_partial_batch(), "{cause}");
    let cause = corrupt_cause(validate(&batch[..7]).unwrap_err());
    assert!(cause.is_partial_batch(), "{cause}");
}

#[test]
fn batch_length_below_header_size_is_corrupt() {
    let mut batch = valid_batch();
    batch[8..12].copy_from_slice(&48i32.to_be_bytes());
    let cause = corrupt_cause(validate(&batch).unwrap_err());
    assert_eq!(
        cause,
        RecordsError::BatchLengthTooSmall { batch_length: 48 }
    );

    batch[8..12].copy_from_slice(&(-5i32).to_be_bytes());
    let cause = corrupt_cause(validate(&batch).unwrap_err());
    assert_eq!(
        cause,
        RecordsError::BatchLengthTooSmall { batch_length: -5 }
    );
}

#[test]
fn garbage_is_corrupt() {
    let garbage: Vec<u8> = (0..200u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let error = validate(&garbage).unwrap_err();
    assert_eq!(error.kafka_error_code(), CORRUPT_MESSAGE, "{error}");
}

#[test]
fn other_magic_is_corrupt_and_says_which() {
    let mut batch = valid_batch();
    batch[16] = 1;
    let error = validate(&batch).unwrap_err();
    assert!(error.to_string().contains("magic is 1"), "{error}");
    assert_eq!(
        corrupt_cause(error),
        RecordsError::UnsupportedMagic { magic: 1 }
    );
}

#[test]
fn crc_mismatch_is_corrupt() {
    let mut batch = valid_batch();
    let last = batch.len() - 1;
    batch[last] ^= 0x40;
    let cause = corrupt_cause(validate(&batch).unwrap_err());
    assert!(matches!(cause, RecordsError::CrcMismatch { .. }), "{cause}");
}

#[test]
fn batch_over_the_size_limit_is_too_large() {
    let batch = valid_batch();
    let mut out = Vec::new();
    let error = validate_record_set(
        &batch,
        &ProduceRules::with_max_batch_bytes(batch.len() - 1),
        &mut out,
    )
    .unwrap_err();
    assert_eq!(error.kafka_error_code(), MESSAGE_TOO_LARGE);
    assert_eq!(
        error,
        InvalidRecords::TooLarge {
            batch_index: 0,
            size: batch.len(),
            max: batch.len() - 1,
        }
    );
    // The limit is inclusive.
    validate_record_set(
        &batch,
        &ProduceRules::with_max_batch_bytes(batch.len()),
        &mut out,
    )
    .unwrap();
}

#[test]
fn zero_or_negative_record_count_is_invalid_record() {
    for count in [0i32, -3] {
        let mut batch = valid_batch();
        patch_header(&mut batch, 57, &count.to_be_bytes());
        assert_eq!(
            invalid_reason(validate(&batch).unwrap_err()),
            InvalidBatch::NoRecords {
                record_count: count
            }
        );
    }
}

#[test]
fn last_offset_delta_inconsistent_with_record_count_is_invalid_record() {
    let mut batch = valid_batch();
    patch_header(&mut batch, 23, &7i32.to_be_bytes());
    assert_eq!(
        invalid_reason(validate(&batch).unwrap_err()),
        InvalidBatch::OffsetRangeMismatch {
            last_offset_delta: 7,
            record_count: 5
        }
    );
}

#[test]
fn control_batch_from_a_client_is_invalid_record() {
    let mut batch = valid_batch();
    let attributes = i16::from_be_bytes([batch[21], batch[22]]) | (1 << 5);
    patch_header(&mut batch, 21, &attributes.to_be_bytes());
    assert_eq!(
        invalid_reason(validate(&batch).unwrap_err()),
        InvalidBatch::ControlBatch
    );
}

#[test]
fn unknown_compression_codec_is_corrupt() {
    for codec in 5i16..=7 {
        let mut batch = valid_batch();
        patch_header(&mut batch, 21, &codec.to_be_bytes());
        let cause = corrupt_cause(validate(&batch).unwrap_err());
        assert_eq!(
            cause,
            RecordsError::UnknownCompression { codec: codec as u8 }
        );
    }
}

#[test]
fn producer_id_without_sequence_is_invalid_record() {
    let mut batch = valid_batch();
    patch_header(&mut batch, 53, &(-1i32).to_be_bytes());
    assert_eq!(
        invalid_reason(validate(&batch).unwrap_err()),
        InvalidBatch::MissingSequence {
            producer_id: 4242,
            base_sequence: -1
        }
    );
}

#[test]
fn errors_name_the_offending_batch() {
    let good = valid_batch();
    let mut bad = valid_batch();
    bad[16] = 0;
    let mut set = good.clone();
    set.extend_from_slice(&good);
    set.extend_from_slice(&bad);
    let mut out = Vec::new();
    let error =
        validate_record_set(&set, &ProduceRules::with_max_batch_bytes(MAX), &mut out).unwrap_err();
    assert_eq!(error.batch_index(), 2);
    let message = error.to_string();
    assert!(message.starts_with("batch 2 is corrupt"), "{message}");
    assert!(message.contains("magic is 0"), "{message}");

    let mut too_large = good.clone();
    let mut more_specs = sample_specs();
    more_specs.push(spec(5, Some(b"extra"), Some(b"makes this batch larger")));
    too_large.extend_from_slice(&encode_batch(&more_specs, NO_PRODUCER, Codec::None));
    let error = validate_record_set(
        &too_large,
        &ProduceRules::with_max_batch_bytes(good.len()),
        &mut out,
    )
    .unwrap_err();
    let message = error.to_string();
    assert!(message.starts_with("batch 1 is"), "{message}");
    assert!(
        message.contains(&format!("over the {}-byte limit", good.len())),
        "{message}"
    );
}

#[test]
fn the_output_vector_is_cleared_and_refilled() {
    let batch = valid_batch();
    let mut set = batch.clone();
    set.extend_from_slice(&batch);
    let mut out = Vec::new();
    validate_record_set(&set, &ProduceRules::with_max_batch_bytes(MAX), &mut out).unwrap();
    assert_eq!(out.len(), 2);
    assert_eq!(out[1].position, batch.len());
    validate_record_set(&batch, &ProduceRules::with_max_batch_bytes(MAX), &mut out).unwrap();
    assert_eq!(out.len(), 1);
    validate_record_set(&[], &ProduceRules::with_max_batch_bytes(MAX), &mut out).unwrap_err();
    assert!(out.is_empty());
}

#[test]
fn display_messages_are_readable_not_debug_dumps() {
    let mut batch = valid_batch();
    patch_header(&mut batch, 23, &7i32.to_be_bytes());
    let message = validate(&batch).unwrap_err().to_string();
    assert_eq!(
        message,
        "batch 0 is invalid: last offset delta 7 does not match record count 5 (expected 4)"
    );
}
