//! Batches from kafka-protocol's encoder, read by our view/validator/decoder, patched by us and
//! read back by kafka-protocol's decoder.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use crate::support;

use kafka_protocol::records::Compression as KCompression;
use skiff_records::{
    BatchView, Header, ProduceRules, RecordRef, TimestampType, assign_offsets, batches,
    validate_record_set,
};
use support::*;

const MAX: usize = 1024 * 1024;

fn check_records_match(batch: BatchView<'_>, specs: &[RecordSpec]) {
    let decoded = batch.records().unwrap();
    assert_eq!(decoded.record_count() as usize, specs.len());
    let records: Vec<RecordRef<'_>> = decoded.iter().collect::<Result<_, _>>().unwrap();
    assert_eq!(records.len(), specs.len());
    for (index, (record, spec)) in records.iter().zip(specs).enumerate() {
        assert_eq!(record.offset_delta, index as i32);
        assert_eq!(record.timestamp, spec.timestamp, "record {index}");
        assert_eq!(record.key, spec.key.as_deref(), "record {index}");
        assert_eq!(record.value, spec.value.as_deref(), "record {index}");
        let headers: Vec<Header<'_>> = record.headers.clone().collect();
        let expected: Vec<Header<'_>> = spec
            .headers
            .iter()
            .map(|(key, value)| Header {
                key: key.as_bytes(),
                value: value.as_deref(),
            })
            .collect();
        assert_eq!(headers, expected, "record {index}");
    }
}

#[test]
fn every_codec_validates_reads_and_decodes_like_the_encoder_wrote() {
    let specs = sample_specs();
    let producer = idempotent_producer();
    for codec in ALL_CODECS {
        let bytes = encode_batch(&specs, producer, codec);
        let mut summaries = Vec::new();
        validate_record_set(
            &bytes,
            &ProduceRules::with_max_batch_bytes(MAX),
            &mut summaries,
        )
        .unwrap_or_else(|error| panic!("{codec:?}: {error}"));
        assert_eq!(summaries.len(), 1);
        let summary = summaries[0];
        assert_eq!(summary.position, 0);
        assert_eq!(summary.len, bytes.len());
        assert_eq!(summary.offset_count, 5);
        assert_eq!(summary.record_count, 5);
        assert_eq!(summary.base_timestamp, 1_700_000_000_050);
        assert_eq!(summary.max_timestamp, 1_700_000_000_900);
        assert_eq!(summary.producer_id, 4242);
        assert_eq!(summary.producer_epoch, 7);
        assert_eq!(summary.base_sequence, 100);
        assert!(!summary.transactional);
        assert_eq!(summary.compression, codec.ours());

        let batch = BatchView::new(&bytes).unwrap();
        batch.verify_crc().unwrap();
        assert_eq!(batch.base_offset(), 0);
        assert_eq!(batch.batch_length() as usize, bytes.len() - 12);
        assert_eq!(batch.partition_leader_epoch(), 3);
        assert_eq!(batch.magic(), 2);
        assert_eq!(batch.compression().unwrap(), codec.ours());
        assert_eq!(batch.attributes(), i16::from(codec.ours().id()));
        assert_eq!(batch.timestamp_type(), TimestampType::CreateTime);
        assert!(!batch.is_control());
        assert_eq!(batch.last_offset_delta(), 4);
        assert_eq!(batch.last_sequence(), 104);
        assert_eq!(batch.record_count(), 5);
        check_records_match(batch, &specs);
    }
}

#[test]
fn transactional_and_plain_producer_fields_are_reported() {
    let specs = sample_specs();
    let transactional = Producer {
        transactional: true,
        ..idempotent_producer()
    };
    let bytes = encode_batch(&specs, transactional, Codec::Lz4);
    let batch = BatchView::new(&bytes).unwrap();
    assert!(batch.is_transactional());
    let mut summaries = Vec::new();
    validate_record_set(
        &bytes,
        &ProduceRules::with_max_batch_bytes(MAX),
        &mut summaries,
    )
    .unwrap();
    assert!(summaries[0].transactional);

    let bytes = encode_batch(&specs, NO_PRODUCER, Codec::None);
    let batch = BatchView::new(&bytes).unwrap();
    assert_eq!(batch.producer_id(), -1);
    assert_eq!(batch.producer_epoch(), -1);
    assert_eq!(batch.base_sequence(), -1);
    assert_eq!(batch.last_sequence(), -1, "no sequence stays no sequence");
    assert!(!batch.is_transactional());
}

#[test]
fn assigned_offsets_are_seen_by_kafka_protocol_with_valid_crcs() {
    let specs = sample_specs();
    let mut set = Vec::new();
    let mut expected_counts = Vec::new();
    for (codec, take) in [
        (Codec::Zstd, 5),
        (Codec::None, 1),
        (Codec::SnappyXerial, 3),
        (Codec::Gzip, 2),
    ] {
        set.extend(encode_batch(&specs[..take], NO_PRODUCER, codec));
        expected_counts.push(take);
    }
    let mut summaries = Vec::new();
    validate_record_set(
        &set,
        &ProduceRules::with_max_batch_bytes(MAX),
        &mut summaries,
    )
    .unwrap();
    assert_eq!(summaries.len(), 4);
    let mut position = 0;
    for (summary, count) in summaries.iter().zip(&expected_counts) {
        assert_eq!(summary.position, position);
        assert_eq!(summary.offset_count as usize, *count);
        position += summary.len;
    }
    assert_eq!(position, set.len());

    let next = assign_offsets(&mut set, 1_000).unwrap();
    assert_eq!(next, 1_000 + 11);

    let decoded = kafka_decode_all(&set).unwrap();
    let offsets: Vec<i64> = decoded
        .iter()
        .flat_map(|batch| batch.records.iter().map(|record| record.offset))
        .collect();
    assert_eq!(offsets, (1_000..1_011).collect::<Vec<_>>());
    let bases: Vec<i64> = batches(&set)
        .map(|batch| batch.unwrap().base_offset())
        .collect();
    assert_eq!(bases, vec![1_000, 1_005, 1_006, 1_009]);
    for batch in batches(&set) {
        batch.unwrap().verify_crc().unwrap();
    }
    assert_eq!(decoded[2].compression, KCompression::Snappy);
}

#[test]
fn kafka_protocol_reads_what_kafka_protocol_wrote_through_our_helpers() {
    // Guards the test harness itself: our test compressors must be readable by the reference
    // decoder, or the cross-checks above would prove nothing.
    let specs = sample_specs();
    for codec in ALL_CODECS {
        let bytes = encode_batch(&specs, idempotent_producer(), codec);
        let decoded = kafka_decode_all(&bytes).unwrap();
        assert_eq!(decoded.len(), 1);
        assert_eq!(decoded[0].records.len(), specs.len());
        assert_eq!(decoded[0].records[2].headers.len(), 3);
    }
}
