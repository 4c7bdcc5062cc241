//! The record walk and the per-record produce rules built on it: every finding of issue 23
//! about batch contents, at the level of bytes.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use crate::support;

use proptest::prelude::*;
use skiff_records::{
    BatchView, Compression, FieldProblem, InvalidBatch, InvalidRecords, MAX_REPORTED_REJECTIONS,
    ProduceRules, RecordError, RecordField, RecordRejection, RecordsError, RejectReason,
    validate_record_set,
};
use support::*;

const MIB: usize = 1024 * 1024;
const CORRUPT_MESSAGE: i16 = 2;
const MESSAGE_TOO_LARGE: i16 = 10;
const INVALID_TIMESTAMP: i16 = 32;
const INVALID_RECORD: i16 = 87;

fn rules() -> ProduceRules {
    ProduceRules::with_max_batch_bytes(MIB)
}

fn validate_with(
    buf: &[u8],
    rules: &ProduceRules,
) -> Result<Vec<skiff_records::BatchSummary>, InvalidRecords> {
    let mut out = Vec::new();
    validate_record_set(buf, rules, &mut out).map(|()| out)
}

/// (offset delta, timestamp, key, value, header count) of one record.
type Seen = (i32, i64, Option<Vec<u8>>, Option<Vec<u8>>, usize);

/// Every record, through the walk.
fn walked(batch: &[u8], limit: usize) -> Result<Vec<Seen>, RecordsError> {
    let view = BatchView::new(batch).unwrap();
    let mut walk = view.walk_records(limit)?;
    let mut out = Vec::new();
    while let Some(record) = walk.next_record() {
        let record = record?;
        out.push((
            record.offset_delta,
            record.timestamp,
            record.key.map(<[u8]>::to_vec),
            record.value.map(<[u8]>::to_vec),
            record.headers.count(),
        ));
    }
    Ok(out)
}

fn decoded(batch: &[u8]) -> Vec<Seen> {
    let view = BatchView::new(batch).unwrap();
    let records = view.records().unwrap();
    records
        .iter()
        .map(|r| {
            let r = r.unwrap();
            (
                r.offset_delta,
                r.timestamp,
                r.key.map(<[u8]>::to_vec),
                r.value.map(<[u8]>::to_vec),
                r.headers.count(),
            )
        })
        .collect()
}

fn specs(count: usize, value_len: usize) -> Vec<RecordSpec> {
    (0..count)
        .map(|i| {
            let mut s = spec(
                1_700_000_000_000 + i as i64,
                Some(format!("key-{i}").as_bytes()),
                Some(&vec![(i % 251) as u8; value_len]),
            );
            if i % 3 == 0 {
                s.headers = vec![("h".into(), Some(b"v".to_vec())), ("n".into(), None)];
            }
            s
        })
        .collect()
}

#[test]
fn the_walk_reads_every_codec_like_the_full_decoder() {
    for codec in ALL_CODECS {
        for (count, value_len) in [(1, 0), (7, 10), (300, 100), (3, 300_000)] {
            let batch = encode_batch(&specs(count, value_len), NO_PRODUCER, codec);
            let records = walked(&batch, 64 * MIB).unwrap_or_else(|e| panic!("{codec:?}: {e}"));
            assert_eq!(records.len(), count, "{codec:?}");
            assert_eq!(records, decoded(&batch), "{codec:?} {count}x{value_len}");
        }
    }
}

#[test]
fn garbage_record_bytes_under_a_valid_crc_are_corrupt() {
    // Finding 1: the records section is noise, the header and CRC are right.
    let noise: Vec<u8> = (0..200u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8 | 1)
        .collect();
    let batch = raw_batch(0, 3, 2, &noise);
    let error = validate_with(&batch, &rules()).unwrap_err();
    assert_eq!(error.kafka_error_code(), CORRUPT_MESSAGE, "{error}");
    assert!(
        matches!(
            error,
            InvalidRecords::UnreadableRecords { batch_index: 0, .. }
        ),
        "{error}"
    );
}

#[test]
fn a_compressed_flag_over_uncompressed_bytes_is_corrupt() {
    // Finding 1: flagged gzip (and every other codec) but the payload is plain records.
    let plain = [
        with_length_prefix(&record_body(0, 0, Some(b"k"), Some(b"v"))),
        with_length_prefix(&record_body(1, 1, Some(b"k"), Some(b"w"))),
    ]
    .concat();
    for codec in [
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ] {
        let batch = raw_batch(i16::from(codec.id()), 2, 1, &plain);
        let error = validate_with(&batch, &rules()).unwrap_err();
        assert_eq!(
            error.kafka_error_code(),
            CORRUPT_MESSAGE,
            "{codec}: {error}"
        );
        let message = error.to_string();
        assert!(
            message.contains(&format!("{codec} records cannot be decompressed")),
            "{message}"
        );
    }
}

#[test]
fn a_batch_claiming_more_records_than_it_holds_is_invalid() {
    // Finding 2: header says i32::MAX records (and a matching last offset delta), one is there.
    let one = with_length_prefix(&record_body(0, 0, Some(b"k"), Some(b"v")));
    let batch = raw_batch(0, i32::MAX, i32::MAX - 1, &one);
    let error = validate_with(&batch, &rules()).unwrap_err();
    assert_eq!(error.kafka_error_code(), INVALID_RECORD, "{error}");
    assert_eq!(
        error,
        InvalidRecords::UnreadableRecords {
            batch_index: 0,
            records_before: 0,
            cause: RecordError::MissingRecords {
                declared: i32::MAX as u32,
                found: 1
            },
        }
    );
    assert_eq!(
        error.record_errors()[0].0,
        1,
        "the first missing record is named"
    );

    // And the other way round: more records than declared.
    let two = [
        one.clone(),
        with_length_prefix(&record_body(0, 1, None, None)),
    ]
    .concat();
    let error = validate_with(&raw_batch(0, 1, 0, &two), &rules()).unwrap_err();
    assert_eq!(error.kafka_error_code(), INVALID_RECORD, "{error}");
    assert!(
        matches!(
            error,
            InvalidRecords::UnreadableRecords {
                cause: RecordError::TrailingBytes { declared: 1, .. },
                ..
            }
        ),
        "{error}"
    );
}

#[test]
fn decompression_bombs_stop_at_the_limit_for_every_codec() {
    // Finding 3: a small payload expanding far beyond what the topic allows.
    let value = vec![0u8; 4 * MIB];
    let records = with_length_prefix(&record_body(0, 0, None, Some(&value)));
    for codec in ALL_CODECS.into_iter().filter(|c| *c != Codec::None) {
        let packed = compress(codec, &records);
        let batch = raw_batch(i16::from(codec.ours().id()), 1, 0, &packed);
        let limited = ProduceRules {
            max_decompressed_bytes: MIB,
            ..rules()
        };
        let error = validate_with(&batch, &limited).unwrap_err();
        assert_eq!(
            error.kafka_error_code(),
            MESSAGE_TOO_LARGE,
            "{codec:?}: {error}"
        );
        assert_eq!(
            error,
            InvalidRecords::UnreadableRecords {
                batch_index: 0,
                records_before: 0,
                cause: RecordError::DecompressedTooLarge {
                    codec: codec.ours(),
                    limit: MIB
                },
            },
            "{codec:?}"
        );
        // With room for it, the same batch is fine.
        let roomy = ProduceRules {
            max_decompressed_bytes: 8 * MIB,
            ..rules()
        };
        validate_with(&batch, &roomy).unwrap_or_else(|e| panic!("{codec:?}: {e}"));
    }
}

#[test]
fn the_walk_never_decompresses_far_past_its_limit() {
    let value = vec![7u8; 16 * MIB];
    // Many small records: the window stays small, the output count is what stops the walk.
    let small: Vec<u8> = (0..(16 * MIB / 1000))
        .flat_map(|i| with_length_prefix(&record_body(0, i as i32, None, Some(&value[..990]))))
        .collect();
    for codec in [Codec::Gzip, Codec::Lz4, Codec::Zstd, Codec::SnappyXerial] {
        let batch = raw_batch(
            i16::from(codec.ours().id()),
            i32::MAX,
            i32::MAX - 1,
            &compress(codec, &small),
        );
        let view = BatchView::new(&batch).unwrap();
        let mut walk = view.walk_records(MIB).unwrap();
        let mut error = None;
        while let Some(record) = walk.next_record() {
            if let Err(e) = record {
                error = Some(e);
            }
        }
        assert!(
            matches!(error, Some(RecordError::DecompressedTooLarge { .. })),
            "{codec:?}: {error:?}"
        );
        // Decoders hand out at most a block past what was asked for.
        assert!(
            walk.decompressed_bytes() <= MIB + 256 * 1024,
            "{codec:?}: {}",
            walk.decompressed_bytes()
        );
    }
}

#[test]
fn records_larger_than_the_window_and_split_across_reads_walk_fine() {
    let mut big = specs(5, 10);
    big[2].value = Some(vec![9u8; 3 * MIB]);
    for codec in ALL_CODECS {
        let batch = encode_batch(&big, NO_PRODUCER, codec);
        assert_eq!(
            walked(&batch, 8 * MIB).unwrap(),
            decoded(&batch),
            "{codec:?}"
        );
    }
}

#[test]
fn offset_deltas_must_count_up_from_zero() {
    let records = [
        with_length_prefix(&record_body(0, 0, Some(b"a"), None)),
        with_length_prefix(&record_body(0, 5, Some(b"b"), None)),
        with_length_prefix(&record_body(0, 2, Some(b"c"), None)),
    ]
    .concat();
    let error = validate_with(&raw_batch(0, 3, 2, &records), &rules()).unwrap_err();
    assert_eq!(error.kafka_error_code(), INVALID_RECORD, "{error}");
    assert_eq!(error.record_errors().len(), 1);
    assert_eq!(error.record_errors()[0].0, 1);
    assert!(
        error.record_errors()[0].1.contains("offset delta 5"),
        "{error}"
    );
}

#[test]
fn timestamp_deltas_that_overflow_are_invalid() {
    let records = with_length_prefix(&record_body(i64::MAX, 0, Some(b"a"), None));
    let error = validate_with(&raw_batch(0, 1, 0, &records), &rules()).unwrap_err();
    assert_eq!(error.kafka_error_code(), INVALID_RECORD, "{error}");
    assert!(
        matches!(
            &error,
            InvalidRecords::RejectedRecords { rejected, total: 1, .. }
                if rejected[0].reason == RejectReason::TimestampOverflow { base: 1_000, delta: i64::MAX }
        ),
        "{error}"
    );
}

#[test]
fn timestamps_outside_the_topic_range_are_invalid_timestamps() {
    let mut specs = specs(4, 1);
    specs[1].timestamp = 10;
    specs[3].timestamp = 9_000_000_000_000;
    let batch = encode_batch(&specs, NO_PRODUCER, Codec::Lz4);
    let ranged = ProduceRules {
        timestamp_range: Some((1_600_000_000_000, 1_800_000_000_000)),
        ..rules()
    };
    let error = validate_with(&batch, &ranged).unwrap_err();
    assert_eq!(error.kafka_error_code(), INVALID_TIMESTAMP, "{error}");
    let indices: Vec<u32> = error.record_errors().iter().map(|(i, _)| *i).collect();
    assert_eq!(indices, vec![1, 3]);
    assert!(
        validate_with(&batch, &rules()).is_ok(),
        "no range, no complaint"
    );
}

#[test]
fn compacted_topics_need_a_key_on_every_record_and_errors_count_across_batches() {
    let mut first = specs(3, 1);
    first[0].key = None;
    let mut second = specs(4, 1);
    second[2].key = None;
    second[3].key = None;
    let set = [
        encode_batch(&specs(2, 1), NO_PRODUCER, Codec::None),
        encode_batch(&second, NO_PRODUCER, Codec::Zstd),
    ]
    .concat();
    let keyed = ProduceRules {
        require_keys: true,
        ..rules()
    };
    let error = validate_with(&set, &keyed).unwrap_err();
    assert_eq!(error.kafka_error_code(), INVALID_RECORD, "{error}");
    assert_eq!(error.batch_index(), 1);
    let indices: Vec<u32> = error.record_errors().iter().map(|(i, _)| *i).collect();
    assert_eq!(
        indices,
        vec![4, 5],
        "indices count the first batch's two records"
    );
    assert!(error.record_errors()[0].1.contains("no key"), "{error}");

    let error = validate_with(&encode_batch(&first, NO_PRODUCER, Codec::None), &keyed).unwrap_err();
    assert_eq!(error.record_errors()[0].0, 0);
    assert!(
        validate_with(&set, &rules()).is_ok(),
        "keys are optional elsewhere"
    );
}

#[test]
fn reported_rejections_are_capped_but_all_are_counted() {
    let keyless: Vec<RecordSpec> = (0..1000)
        .map(|i| spec(1_000 + i, None, Some(b"v")))
        .collect();
    let batch = encode_batch(&keyless, NO_PRODUCER, Codec::None);
    let error = validate_with(
        &batch,
        &ProduceRules {
            require_keys: true,
            ..rules()
        },
    )
    .unwrap_err();
    match &error {
        InvalidRecords::RejectedRecords {
            rejected, total, ..
        } => {
            assert_eq!(*total, 1000);
            assert_eq!(rejected.len(), MAX_REPORTED_REJECTIONS);
            assert_eq!(
                rejected[99],
                RecordRejection {
                    index: 99,
                    reason: RejectReason::KeyRequired
                }
            );
        }
        other => panic!("{other}"),
    }
    assert!(
        error
            .to_string()
            .starts_with("batch 0: 1000 record(s) refused, the first: record 0 has no key"),
        "{error}"
    );
}

#[test]
fn producers_may_not_claim_log_append_time() {
    let mut batch = encode_batch(&specs(2, 1), NO_PRODUCER, Codec::None);
    let attributes = i16::from_be_bytes([batch[21], batch[22]]) | 1 << 3;
    patch_header(&mut batch, 21, &attributes.to_be_bytes());
    let error = validate_with(&batch, &rules()).unwrap_err();
    assert_eq!(error.kafka_error_code(), INVALID_TIMESTAMP, "{error}");
    assert_eq!(
        error,
        InvalidRecords::InvalidRecord {
            batch_index: 0,
            reason: InvalidBatch::LogAppendTimeFromClient
        }
    );
}

#[test]
fn the_summary_keeps_the_largest_record_timestamp_not_the_header_claim() {
    let mut batch = encode_batch(&sample_specs(), NO_PRODUCER, Codec::SnappyRaw);
    patch_header(&mut batch, 35, &5i64.to_be_bytes()); // header max timestamp: a lie
    let summaries = validate_with(&batch, &rules()).unwrap();
    assert_eq!(summaries[0].max_timestamp, 1_700_000_000_900);
}

#[test]
fn malformed_records_name_the_record_and_the_field() {
    let mut body = record_body(0, 1, Some(b"key"), Some(b"value"));
    body.pop();
    varint(-4, &mut body); // header count
    let records = [
        with_length_prefix(&record_body(0, 0, None, None)),
        with_length_prefix(&body),
    ]
    .concat();
    for codec in [Codec::None, Codec::Gzip] {
        let batch = raw_batch(
            i16::from(codec.ours().id()),
            2,
            1,
            &compress(codec, &records),
        );
        let error = validate_with(&batch, &rules()).unwrap_err();
        assert_eq!(error.kafka_error_code(), CORRUPT_MESSAGE);
        assert_eq!(
            error,
            InvalidRecords::UnreadableRecords {
                batch_index: 0,
                records_before: 0,
                cause: RecordError::Malformed {
                    index: 1,
                    field: RecordField::HeaderCount,
                    problem: FieldProblem::Negative(-4)
                },
            }
        );
        assert_eq!(
            error.to_string(),
            "batch 0: record 1: header count is negative (-4)"
        );
        assert_eq!(
            error.record_errors(),
            vec![(1, "record 1: header count is negative (-4)".to_string())]
        );
    }
}

#[test]
fn a_truncated_compressed_stream_is_corrupt() {
    let records: Vec<u8> = (0..50)
        .flat_map(|i| with_length_prefix(&record_body(0, i, None, Some(&[i as u8; 100]))))
        .collect();
    for codec in ALL_CODECS.into_iter().filter(|c| *c != Codec::None) {
        let mut packed = compress(codec, &records);
        packed.truncate(packed.len() - 3);
        let batch = raw_batch(i16::from(codec.ours().id()), 50, 49, &packed);
        let error = validate_with(&batch, &rules()).unwrap_err();
        assert!(
            [CORRUPT_MESSAGE, INVALID_RECORD].contains(&error.kafka_error_code()),
            "{codec:?}: {error}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Whatever the bytes, the walk ends (an error or the records) and never panics, and a
    /// compressed walk never hands out more than its limit.
    #[test]
    fn arbitrary_records_sections_never_panic(
        codec in prop::sample::select(ALL_CODECS.to_vec()),
        count in 0i32..50,
        section in prop::collection::vec(any::<u8>(), 0..2000),
        compress_it in any::<bool>(),
    ) {
        let section = if compress_it { compress(codec, &section) } else { section };
        let batch = raw_batch(i16::from(codec.ours().id()), count, count - 1, &section);
        let view = BatchView::new(&batch).unwrap();
        if let Ok(mut walk) = view.walk_records(64 * 1024) {
            let mut steps = 0;
            while let Some(_record) = walk.next_record() {
                steps += 1;
                prop_assert!(steps <= count + 1);
            }
            prop_assert!(walk.decompressed_bytes() <= 2 * 64 * 1024 + 1);
        }
        let _ = validate_with(&batch, &rules());
    }
}
