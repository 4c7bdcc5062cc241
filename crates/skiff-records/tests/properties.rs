//! Property tests: round trips against kafka-protocol, and hostile bytes never panicking.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use crate::support;

use proptest::prelude::*;
use skiff_records::{
    BatchView, ProduceRules, assign_offsets, batches, first_offset_delta_at_or_after,
    offset_delta_of_max_timestamp, set_log_append_time, validate_record_set,
};
use support::*;

const MAX: usize = 16 * 1024 * 1024;

fn codec() -> impl Strategy<Value = Codec> {
    prop::sample::select(ALL_CODECS.to_vec())
}

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..max)
}

fn record_spec() -> impl Strategy<Value = RecordSpec> {
    (
        // Wide but far from i64 overflow in the encoder's `timestamp - min_timestamp`.
        -1_000_000_000_000i64..10_000_000_000_000,
        prop::option::of(bytes(40)),
        prop::option::of(bytes(200)),
        prop::collection::vec(("[a-z-]{0,8}", prop::option::of(bytes(20))), 0..4),
    )
        .prop_map(|(timestamp, key, value, headers)| RecordSpec {
            timestamp,
            key,
            value,
            headers,
        })
}

fn producer() -> impl Strategy<Value = Producer> {
    prop_oneof![
        Just(NO_PRODUCER),
        (
            0i64..1 << 40,
            0i16..i16::MAX,
            0i32..i32::MAX,
            any::<bool>(),
            -1i32..1000
        )
            .prop_map(
                |(id, epoch, base_sequence, transactional, leader_epoch)| Producer {
                    id,
                    epoch,
                    base_sequence,
                    transactional,
                    leader_epoch,
                }
            ),
    ]
}

#[derive(Debug, Clone)]
struct BatchSpec {
    records: Vec<RecordSpec>,
    producer: Producer,
    codec: Codec,
}

fn batch_spec(max_records: usize) -> impl Strategy<Value = BatchSpec> {
    (
        prop::collection::vec(record_spec(), 1..max_records),
        producer(),
        codec(),
    )
        .prop_map(|(records, producer, codec)| BatchSpec {
            records,
            producer,
            codec,
        })
}

fn encode_set(specs: &[BatchSpec]) -> Vec<u8> {
    specs
        .iter()
        .flat_map(|spec| encode_batch(&spec.records, spec.producer, spec.codec))
        .collect()
}

/// Start offset of each batch within its record set.
fn batch_starts(buf: &[u8]) -> Vec<usize> {
    let mut starts = Vec::new();
    let mut position = 0;
    for batch in batches(buf) {
        starts.push(position);
        position += batch.unwrap().len();
    }
    starts
}

fn decode_everything_without_panicking(buf: &[u8]) {
    let mut out = Vec::new();
    let _ = validate_record_set(buf, &ProduceRules::with_max_batch_bytes(MAX), &mut out);
    for batch in batches(buf) {
        let Ok(batch) = batch else { break };
        let _ = batch.verify_crc();
        let _ = batch.last_sequence();
        if let Ok(records) = batch.records() {
            for record in records.iter().flatten() {
                for header in record.headers {
                    let _ = header.key.len();
                }
            }
        }
        let _ = first_offset_delta_at_or_after(batch, 0);
        let _ = offset_delta_of_max_timestamp(batch);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn arbitrary_records_round_trip_through_kafka_protocol(
        specs in prop::collection::vec(batch_spec(12), 1..4),
        first_offset in 0i64..i64::MAX / 2,
    ) {
        let mut set = encode_set(&specs);
        let mut summaries = Vec::new();
        validate_record_set(&set, &ProduceRules::with_max_batch_bytes(MAX), &mut summaries).unwrap();
        prop_assert_eq!(summaries.len(), specs.len());

        for ((summary, spec), batch) in summaries.iter().zip(&specs).zip(batches(&set)) {
            let batch = batch.unwrap();
            let expected = kafka_records(&spec.records, spec.producer);
            prop_assert_eq!(summary.record_count as usize, expected.len());
            prop_assert_eq!(summary.offset_count as usize, expected.len());
            prop_assert_eq!(summary.compression, spec.codec.ours());
            prop_assert_eq!(summary.producer_id, spec.producer.id);
            prop_assert_eq!(summary.producer_epoch, spec.producer.epoch);
            prop_assert_eq!(summary.base_sequence, spec.producer.base_sequence);
            prop_assert_eq!(summary.transactional, spec.producer.transactional);
            prop_assert_eq!(summary.base_timestamp, expected.iter().map(|r| r.timestamp).min().unwrap());
            prop_assert_eq!(summary.max_timestamp, expected.iter().map(|r| r.timestamp).max().unwrap());
            prop_assert_eq!(batch.partition_leader_epoch(), spec.producer.leader_epoch);

            let decoded = batch.records().unwrap();
            let mut count = 0;
            for (record, want) in decoded.iter().zip(&expected) {
                let record = record.unwrap();
                prop_assert_eq!(i64::from(record.offset_delta), want.offset);
                prop_assert_eq!(record.timestamp, want.timestamp);
                prop_assert_eq!(record.key, want.key.as_deref());
                prop_assert_eq!(record.value, want.value.as_deref());
                let headers: Vec<(Vec<u8>, Option<Vec<u8>>)> = record
                    .headers
                    .map(|h| (h.key.to_vec(), h.value.map(<[u8]>::to_vec)))
                    .collect();
                let want_headers: Vec<(Vec<u8>, Option<Vec<u8>>)> = want
                    .headers
                    .iter()
                    .map(|(k, v)| (k.as_bytes().to_vec(), v.as_ref().map(|v| v.to_vec())))
                    .collect();
                prop_assert_eq!(headers, want_headers);
                count += 1;
            }
            prop_assert_eq!(count, expected.len());
            prop_assert!(decoded.iter().all(|r| r.is_ok()), "no trailing error");
        }

        let total: usize = specs.iter().map(|s| s.records.len()).sum();
        prop_assert_eq!(assign_offsets(&mut set, first_offset).unwrap(), first_offset + total as i64);
        let decoded = kafka_decode_all(&set).unwrap();
        let offsets: Vec<i64> = decoded.iter().flat_map(|b| b.records.iter().map(|r| r.offset)).collect();
        prop_assert_eq!(offsets, (first_offset..first_offset + total as i64).collect::<Vec<_>>());
    }

    #[test]
    fn arbitrary_bytes_never_panic(buf in bytes(600)) {
        decode_everything_without_panicking(&buf);
        let mut out = Vec::new();
        if validate_record_set(&buf, &ProduceRules::with_max_batch_bytes(MAX), &mut out).is_ok() {
            // Random bytes only pass if they really are valid batches.
            prop_assert_eq!(out.len(), batch_starts(&buf).len());
            for batch in batches(&buf) {
                prop_assert!(batch.unwrap().verify_crc().is_ok());
            }
        }
    }

    #[test]
    fn arbitrary_records_sections_never_panic(
        attributes in any::<i16>(),
        record_count in any::<i32>(),
        section in bytes(400),
        compressed_garbage in any::<bool>(),
    ) {
        // Valid framing around hostile contents reaches the record decoder and decompressors.
        let codec = (attributes & 7) as u8;
        let section = if compressed_garbage && (1..=4).contains(&codec) {
            let codec = [Codec::Gzip, Codec::SnappyXerial, Codec::Lz4, Codec::Zstd][usize::from(codec - 1)];
            compress(codec, &section)
        } else {
            section
        };
        let batch = raw_batch(attributes, record_count, record_count.wrapping_sub(1), &section);
        decode_everything_without_panicking(&batch);
        let view = BatchView::new(&batch).unwrap();
        if let Ok(decoded) = view.records() {
            let results: Vec<_> = decoded.iter().collect();
            // Iteration ends at the first error, and never yields more records than declared.
            prop_assert!(results.iter().rev().skip(1).all(|r| r.is_ok()));
            prop_assert!(results.iter().filter(|r| r.is_ok()).count() <= record_count.max(0) as usize);
        }
    }

    #[test]
    fn flipped_bytes_never_panic_and_crc_covered_flips_are_caught(
        specs in prop::collection::vec(batch_spec(6), 1..3),
        position_seed in any::<prop::sample::Index>(),
        mask in 1u8..=255,
    ) {
        let mut set = encode_set(&specs);
        let position = position_seed.index(set.len());
        let starts = batch_starts(&set);
        let batch_start = starts.iter().rev().copied().find(|&start| start <= position).unwrap();
        let within = position - batch_start;
        set[position] ^= mask;

        decode_everything_without_panicking(&set);
        let mut out = Vec::new();
        let result = validate_record_set(&set, &ProduceRules::with_max_batch_bytes(MAX), &mut out);
        // Only the base offset (0..8) and partition leader epoch (12..16) are outside the CRC
        // and the framing checks, exactly as in Kafka.
        let uncovered = within < 8 || (12..16).contains(&within);
        if !uncovered {
            prop_assert!(result.is_err(), "flip at {} (batch offset {}) went unnoticed", position, within);
            prop_assert_eq!(result.unwrap_err().kafka_error_code(), 2);
        }
    }

    #[test]
    fn truncation_at_every_length_is_an_error(spec in batch_spec(5)) {
        let batch = encode_batch(&spec.records, spec.producer, spec.codec);
        let mut out = Vec::new();
        for cut in 0..batch.len() {
            let prefix = &batch[..cut];
            let error = validate_record_set(prefix, &ProduceRules::with_max_batch_bytes(MAX), &mut out).unwrap_err();
            prop_assert_eq!(error.kafka_error_code(), 2);
            prop_assert!(out.is_empty());
            let last = batches(prefix).last();
            if cut == 0 {
                prop_assert!(last.is_none());
            } else {
                prop_assert!(last.unwrap().unwrap_err().is_partial_batch());
            }
            prop_assert!(BatchView::new(prefix).is_err());
            prop_assert!(assign_offsets(&mut prefix.to_vec(), 0).is_err() || cut == 0);
        }
    }

    #[test]
    fn truncated_records_sections_are_errors(records in prop::collection::vec(record_spec(), 1..6)) {
        let batch = encode_batch(&records, NO_PRODUCER, Codec::None);
        let section = &batch[61..];
        let attributes = i16::from_be_bytes([batch[21], batch[22]]);
        let count = records.len() as i32;
        for cut in 0..section.len() {
            let truncated = raw_batch(attributes, count, count - 1, &section[..cut]);
            let view = BatchView::new(&truncated).unwrap();
            let decoded = view.records().unwrap();
            prop_assert!(decoded.iter().any(|r| r.is_err()), "cut at {} accepted", cut);
        }
    }

    #[test]
    fn log_append_time_crc_update_equals_a_full_recompute(
        spec in batch_spec(8),
        timestamp in any::<i64>(),
        corrupt_at in any::<Option<prop::sample::Index>>(),
    ) {
        let mut batch = encode_batch(&spec.records, spec.producer, spec.codec);
        if let Some(index) = &corrupt_at {
            // Corrupt something the stamp does not overwrite (records section).
            let at = 61 + index.index(batch.len() - 61);
            batch[at] ^= 0x5a;
        }
        set_log_append_time(&mut batch, timestamp).unwrap();
        let view = BatchView::new(&batch).unwrap();
        let full = crc32c::crc32c(&batch[21..]);
        if corrupt_at.is_some() {
            prop_assert_ne!(view.crc(), full, "corruption must survive the stamp");
        } else {
            prop_assert_eq!(view.crc(), full);
            prop_assert!(kafka_decode_all(&batch).is_ok());
            for record in view.records().unwrap().iter() {
                prop_assert_eq!(record.unwrap().timestamp, timestamp);
            }
        }
    }

    #[test]
    fn timestamp_lookups_match_a_naive_scan(
        timestamps in prop::collection::vec(-1000i64..1000, 1..20),
        target in -1100i64..1100,
        codec in codec(),
    ) {
        let specs: Vec<_> = timestamps.iter().map(|&ts| spec(ts, None, Some(b"v"))).collect();
        let batch = encode_batch(&specs, NO_PRODUCER, codec);
        let view = BatchView::new(&batch).unwrap();
        let expected_first = timestamps.iter().position(|&ts| ts >= target).map(|i| i as i32);
        prop_assert_eq!(first_offset_delta_at_or_after(view, target).unwrap(), expected_first);
        let max = *timestamps.iter().max().unwrap();
        let first_max = timestamps.iter().position(|&ts| ts == max).unwrap() as i32;
        prop_assert_eq!(offset_delta_of_max_timestamp(view).unwrap(), Some((max, first_max)));
    }
}
