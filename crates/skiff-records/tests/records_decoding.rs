//! The cold-path record decoder: malformed records, decompression bounds, timestamp lookups.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use crate::support;

use skiff_records::{
    BatchView, Compression, FieldProblem, RecordError, RecordField, RecordsError,
    first_offset_delta_at_or_after, offset_delta_of_max_timestamp, set_log_append_time,
};
use support::*;

const MIB: usize = 1024 * 1024;

fn collect_errors(batch: &[u8]) -> Vec<RecordsError> {
    let view = BatchView::new(batch).unwrap();
    let decoded = view.records().unwrap();
    decoded.iter().filter_map(Result::err).collect()
}

fn record(ts_delta: i64, offset_delta: i32, key: Option<&[u8]>, value: Option<&[u8]>) -> Vec<u8> {
    with_length_prefix(&record_body(ts_delta, offset_delta, key, value))
}

#[test]
fn hand_encoded_records_decode() {
    let records = [
        record(0, 0, Some(b"k"), None),
        record(7, 1, None, Some(b"v")),
    ]
    .concat();
    let batch = raw_batch(0, 2, 1, &records);
    let view = BatchView::new(&batch).unwrap();
    let decoded = view.records().unwrap();
    let all: Vec<_> = decoded.iter().collect::<Result<_, _>>().unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(
        (all[0].key, all[0].value, all[0].timestamp),
        (Some(&b"k"[..]), None, 1_000)
    );
    assert_eq!(
        (all[1].key, all[1].value, all[1].timestamp),
        (None, Some(&b"v"[..]), 1_007)
    );
    assert_eq!(all[1].offset_delta, 1);
    assert_eq!(all[1].headers.remaining(), 0);
}

#[test]
fn record_length_past_the_end_is_malformed() {
    let mut records = record(0, 0, Some(b"key"), Some(b"value"));
    records.truncate(records.len() - 2);
    let errors = collect_errors(&raw_batch(0, 1, 0, &records));
    assert_eq!(
        errors,
        vec![RecordsError::Record(RecordError::Malformed {
            index: 0,
            field: RecordField::Length,
            problem: FieldProblem::PastEnd {
                len: records.len() + 1,
                available: records.len() - 1
            }
        })]
    );
}

#[test]
fn negative_record_length_is_malformed() {
    let mut records = Vec::new();
    varint(-3, &mut records);
    records.extend_from_slice(&[0; 8]);
    let errors = collect_errors(&raw_batch(0, 1, 0, &records));
    assert_eq!(
        errors,
        vec![RecordsError::Record(RecordError::Malformed {
            index: 0,
            field: RecordField::Length,
            problem: FieldProblem::Negative(-3)
        })]
    );
}

#[test]
fn key_length_below_minus_one_is_malformed() {
    let mut body = vec![0u8, 0, 0];
    varint(-2, &mut body);
    body.extend_from_slice(&[1, 0]); // value null, no headers
    let errors = collect_errors(&raw_batch(0, 1, 0, &with_length_prefix(&body)));
    assert_eq!(
        errors,
        vec![RecordsError::Record(RecordError::Malformed {
            index: 0,
            field: RecordField::KeyLength,
            problem: FieldProblem::Negative(-2)
        })]
    );
}

#[test]
fn negative_header_count_and_overlong_header_lists_are_malformed() {
    let mut body = record_body(0, 0, None, None);
    body.pop();
    varint(-1, &mut body);
    let errors = collect_errors(&raw_batch(0, 1, 0, &with_length_prefix(&body)));
    assert_eq!(
        errors,
        vec![RecordsError::Record(RecordError::Malformed {
            index: 0,
            field: RecordField::HeaderCount,
            problem: FieldProblem::Negative(-1)
        })]
    );

    let mut body = record_body(0, 0, None, None);
    body.pop();
    varint(i64::from(i32::MAX), &mut body);
    body.extend_from_slice(&[2, b'h', 1]); // one real header, then the body ends
    let errors = collect_errors(&raw_batch(0, 1, 0, &with_length_prefix(&body)));
    assert!(
        matches!(
            errors[..],
            [RecordsError::Record(RecordError::Malformed {
                index: 0,
                field: RecordField::HeaderKeyLength,
                problem: FieldProblem::Truncated,
            })]
        ),
        "{errors:?}"
    );
}

#[test]
fn record_length_larger_than_its_fields_is_malformed() {
    let mut body = record_body(0, 0, Some(b"k"), Some(b"v"));
    body.push(0xAA);
    let errors = collect_errors(&raw_batch(0, 1, 0, &with_length_prefix(&body)));
    assert_eq!(
        errors,
        vec![RecordsError::Record(RecordError::LengthMismatch {
            index: 0,
            declared: body.len(),
            used: body.len() - 1
        })]
    );
}

#[test]
fn fewer_records_than_declared_is_an_error_after_the_real_ones() {
    let batch = raw_batch(0, 3, 2, &record(0, 0, None, Some(b"only")));
    let view = BatchView::new(&batch).unwrap();
    let decoded = view.records().unwrap();
    let results: Vec<_> = decoded.iter().collect();
    assert_eq!(results.len(), 2);
    assert!(results[0].is_ok());
    assert_eq!(
        results[1].as_ref().unwrap_err(),
        &RecordsError::Record(RecordError::MissingRecords {
            declared: 3,
            found: 1
        })
    );
}

#[test]
fn bytes_after_the_declared_records_are_an_error() {
    let records = [
        record(0, 0, None, Some(b"a")),
        record(0, 1, None, Some(b"b")),
    ]
    .concat();
    let batch = raw_batch(0, 1, 0, &records);
    let view = BatchView::new(&batch).unwrap();
    let decoded = view.records().unwrap();
    let results: Vec<_> = decoded.iter().collect();
    assert_eq!(results.len(), 2);
    assert_eq!(
        results[1].as_ref().unwrap_err(),
        &RecordsError::Record(RecordError::TrailingBytes {
            declared: 1,
            trailing: records.len() / 2
        })
    );
}

#[test]
fn negative_record_count_cannot_be_decoded() {
    let batch = raw_batch(0, -1, 0, &[]);
    let error = BatchView::new(&batch).unwrap().records().unwrap_err();
    assert_eq!(
        error,
        RecordsError::NegativeRecordCount { record_count: -1 }
    );
}

#[test]
fn unknown_codec_cannot_be_decoded() {
    let batch = raw_batch(6, 1, 0, &record(0, 0, None, None));
    let error = BatchView::new(&batch).unwrap().records().unwrap_err();
    assert_eq!(error, RecordsError::UnknownCompression { codec: 6 });
}

#[test]
fn decompression_stops_at_the_limit_for_every_codec() {
    let big = vec![0u8; 2 * MIB];
    for codec in ALL_CODECS.into_iter().filter(|codec| *codec != Codec::None) {
        let batch = raw_batch(i16::from(codec.ours().id()), 1, 0, &compress(codec, &big));
        let view = BatchView::new(&batch).unwrap();
        let error = view.records_with_limit(MIB).unwrap_err();
        assert_eq!(
            error,
            RecordsError::DecompressedTooLarge {
                codec: codec.ours(),
                limit: MIB
            },
            "{codec:?}"
        );
        let decoded = view.records_with_limit(2 * MIB).unwrap();
        assert_eq!(
            decoded.data().len(),
            2 * MIB,
            "{codec:?}: exactly at the limit is fine"
        );
    }
}

#[test]
fn snappy_length_header_is_checked_before_allocating() {
    // A raw snappy block whose header claims ~4 GiB.
    let block = [0xff, 0xff, 0xff, 0xff, 0x0f, 0x00, 0x00];
    let batch = raw_batch(2, 1, 0, &block);
    let error = BatchView::new(&batch).unwrap().records().unwrap_err();
    assert!(
        matches!(
            error,
            RecordsError::DecompressedTooLarge {
                codec: Compression::Snappy,
                ..
            }
        ),
        "{error}"
    );

    // The same block inside xerial framing, repeated past the limit.
    let mut xerial = compress(Codec::SnappyXerial, &[]);
    let small = snap::raw::Encoder::new()
        .compress_vec(&[7u8; 600_000])
        .unwrap();
    for _ in 0..4 {
        xerial.extend_from_slice(&(small.len() as u32).to_be_bytes());
        xerial.extend_from_slice(&small);
    }
    let batch = raw_batch(2, 1, 0, &xerial);
    let error = BatchView::new(&batch)
        .unwrap()
        .records_with_limit(2 * MIB)
        .unwrap_err();
    assert!(
        matches!(error, RecordsError::DecompressedTooLarge { .. }),
        "{error}"
    );
}

#[test]
fn zstd_frames_demanding_a_huge_window_are_refused() {
    // Frame magic, descriptor without content size, window descriptor 2^30 bytes.
    let frame = [0x28, 0xb5, 0x2f, 0xfd, 0x00, 20 << 3, 0, 0, 0];
    let batch = raw_batch(4, 1, 0, &frame);
    let error = BatchView::new(&batch).unwrap().records().unwrap_err();
    assert!(
        matches!(
            error,
            RecordsError::Decompression {
                codec: Compression::Zstd,
                ..
            }
        ),
        "{error}"
    );
    assert!(
        // zstd's own words for a window past the decoder's limit.
        error
            .to_string()
            .contains("Frame requires too much memory for decoding"),
        "{error}"
    );
}

#[test]
fn concatenated_zstd_frames_and_gzip_members_decode_in_full() {
    let records = [
        record(0, 0, None, Some(b"first")),
        record(1, 1, None, Some(b"second")),
    ];
    for codec in [Codec::Zstd, Codec::Gzip] {
        let section = [compress(codec, &records[0]), compress(codec, &records[1])].concat();
        let batch = raw_batch(i16::from(codec.ours().id()), 2, 1, &section);
        let view = BatchView::new(&batch).unwrap();
        let decoded = view.records().unwrap();
        let values: Vec<_> = decoded
            .iter()
            .map(|r| r.unwrap().value.unwrap().to_vec())
            .collect();
        assert_eq!(
            values,
            vec![b"first".to_vec(), b"second".to_vec()],
            "{codec:?}"
        );
    }
}

#[test]
fn garbage_compressed_sections_are_errors() {
    for codec in ALL_CODECS.into_iter().filter(|codec| *codec != Codec::None) {
        let batch = raw_batch(
            i16::from(codec.ours().id()),
            1,
            0,
            b"this is not compressed data",
        );
        let view = BatchView::new(&batch).unwrap();
        let failed = match view.records() {
            Err(_) => true,
            Ok(decoded) => decoded.iter().any(|record| record.is_err()),
        };
        assert!(failed, "{codec:?}");
    }
}

fn lookup_batch(codec: Codec) -> Vec<u8> {
    let specs: Vec<_> = [10, 30, 20, 30, 5]
        .iter()
        .map(|&ts| spec(ts, None, Some(b"v")))
        .collect();
    encode_batch(&specs, NO_PRODUCER, codec)
}

#[test]
fn first_record_at_or_after_a_timestamp() {
    for codec in [Codec::None, Codec::Zstd] {
        let batch = lookup_batch(codec);
        let view = BatchView::new(&batch).unwrap();
        assert_eq!(
            first_offset_delta_at_or_after(view, i64::MIN).unwrap(),
            Some(0)
        );
        assert_eq!(first_offset_delta_at_or_after(view, 10).unwrap(), Some(0));
        assert_eq!(first_offset_delta_at_or_after(view, 11).unwrap(), Some(1));
        assert_eq!(first_offset_delta_at_or_after(view, 21).unwrap(), Some(1));
        assert_eq!(first_offset_delta_at_or_after(view, 30).unwrap(), Some(1));
        assert_eq!(first_offset_delta_at_or_after(view, 31).unwrap(), None);
    }
}

#[test]
fn max_timestamp_is_the_first_record_carrying_it() {
    let batch = lookup_batch(Codec::Lz4);
    let view = BatchView::new(&batch).unwrap();
    assert_eq!(offset_delta_of_max_timestamp(view).unwrap(), Some((30, 1)));
}

#[test]
fn log_append_time_batches_answer_with_the_append_time() {
    let mut batch = lookup_batch(Codec::Gzip);
    set_log_append_time(&mut batch, 500).unwrap();
    let view = BatchView::new(&batch).unwrap();
    assert_eq!(offset_delta_of_max_timestamp(view).unwrap(), Some((500, 0)));
    assert_eq!(first_offset_delta_at_or_after(view, 500).unwrap(), Some(0));
    assert_eq!(first_offset_delta_at_or_after(view, 501).unwrap(), None);
}

#[test]
fn lookups_on_a_batch_without_records_find_nothing() {
    let batch = raw_batch(0, 0, -1, &[]);
    let view = BatchView::new(&batch).unwrap();
    assert_eq!(offset_delta_of_max_timestamp(view).unwrap(), None);
    assert_eq!(first_offset_delta_at_or_after(view, 0).unwrap(), None);
}

#[test]
fn lookups_surface_decoding_errors() {
    let batch = raw_batch(0, 2, 1, &record(0, 0, None, None));
    let view = BatchView::new(&batch).unwrap();
    assert!(offset_delta_of_max_timestamp(view).is_err());
    assert!(first_offset_delta_at_or_after(view, 1_000_000).is_err());
}
