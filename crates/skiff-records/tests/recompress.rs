//! Copying batches into a topic's codec: kafka-protocol's decoder (which checks the CRC) reads
//! every copy back with the same records, offsets and producer fields, from every codec a
//! client sends into every codec a topic may ask for.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use crate::support;

use skiff_records::{
    BatchView, Compression, ProduceRules, TargetCodec, needs_recompression, recompress_batch,
    recompress_record_set, set_base_offset, validate_record_set,
};
use support::*;

const TARGETS: [Compression; 5] = [
    Compression::None,
    Compression::Gzip,
    Compression::Snappy,
    Compression::Lz4,
    Compression::Zstd,
];

fn target(codec: Compression) -> TargetCodec {
    TargetCodec { codec, level: None }
}

#[test]
fn every_codec_is_copied_into_every_target_with_its_records_and_fields() {
    let specs = sample_specs();
    for source in ALL_CODECS {
        for codec in TARGETS {
            // Two batches, so the second one's new position is checked too.
            let mut records = encode_batch(&specs, idempotent_producer(), source);
            let second_at = records.len();
            records.extend(encode_batch(&specs[..2], idempotent_producer(), source));
            set_base_offset(&mut records[second_at..], 5);
            let mut batches = Vec::new();
            validate_record_set(
                &records,
                &ProduceRules::with_max_batch_bytes(1 << 20),
                &mut batches,
            )
            .unwrap();
            let before = batches.clone();
            assert_eq!(
                needs_recompression(&batches, target(codec)),
                source.ours() != codec
            );

            let mut out = Vec::new();
            recompress_record_set(&records, &mut batches, target(codec), 1 << 20, &mut out)
                .unwrap();

            let case = format!("{source:?} -> {codec}");
            assert_eq!(batches[0].position, 0, "{case}");
            assert_eq!(batches[1].position, batches[0].len, "{case}");
            assert_eq!(batches[1].range().end, out.len(), "{case}");
            for (summary, old) in batches.iter().zip(&before) {
                assert_eq!(summary.compression, codec, "{case}");
                assert_eq!(
                    (
                        summary.record_count,
                        summary.offset_count,
                        summary.max_timestamp
                    ),
                    (old.record_count, old.offset_count, old.max_timestamp),
                    "{case}"
                );
                let view = BatchView::new(&out[summary.range()]).unwrap();
                view.verify_crc().unwrap();
                assert_eq!(view.compression().unwrap(), codec, "{case}");
                let original = BatchView::new(&records[old.range()]).unwrap();
                assert_eq!(view.base_offset(), original.base_offset(), "{case}");
                assert_eq!(view.last_offset(), original.last_offset(), "{case}");
                assert_eq!(
                    view.attributes() & !0x07,
                    original.attributes() & !0x07,
                    "{case}: only the codec bits change"
                );
            }
            if source.ours() == codec {
                assert_eq!(
                    out, records,
                    "{case}: a batch already in the codec is copied as is"
                );
            }

            let decoded = kafka_decode_all(&out).unwrap();
            assert_eq!(decoded.len(), 2, "{case}");
            for (set, expected) in decoded.iter().zip([&specs[..], &specs[..2]]) {
                assert_eq!(set.records.len(), expected.len(), "{case}");
                for (record, spec) in set.records.iter().zip(expected) {
                    assert_eq!(record.timestamp, spec.timestamp, "{case}");
                    assert_eq!(record.key.as_deref(), spec.key.as_deref(), "{case}");
                    assert_eq!(record.value.as_deref(), spec.value.as_deref(), "{case}");
                    assert_eq!(record.headers.len(), spec.headers.len(), "{case}");
                    assert_eq!(
                        (
                            record.producer_id,
                            record.producer_epoch,
                            record.sequence >= 100
                        ),
                        (4242, 7, true),
                        "{case}"
                    );
                }
            }
            assert_eq!(decoded[1].records[0].offset, 5, "{case}");
        }
    }
}

#[test]
fn the_gzip_and_zstd_levels_are_honoured() {
    let text: Vec<u8> = (0..20_000u32)
        .flat_map(|i| format!("record {} of a compressible log line;", i % 977).into_bytes())
        .collect();
    let specs = vec![spec(1_700_000_000_000, Some(b"k"), Some(&text))];
    let batch = encode_batch(&specs, idempotent_producer(), Codec::None);
    let view = BatchView::new(&batch).unwrap();
    let size_at = |codec, level| {
        let mut out = Vec::new();
        let target = TargetCodec {
            codec,
            level: Some(level),
        };
        recompress_batch(view, target, 1 << 24, &mut out).unwrap();
        // Whatever the level, kafka-protocol's decoder (ruzstd for zstd) reads the record back.
        let decoded = kafka_decode_all(&out).unwrap();
        assert_eq!(decoded[0].records[0].value.as_deref(), Some(&text[..]));
        out.len()
    };
    let (fast, best) = (size_at(Compression::Gzip, 1), size_at(Compression::Gzip, 9));
    assert!(
        best < fast,
        "gzip level 9 wrote {best} bytes, level 1 {fast}"
    );
    let (fast, best) = (
        size_at(Compression::Zstd, -5),
        size_at(Compression::Zstd, 19),
    );
    assert!(
        best < fast,
        "zstd level 19 wrote {best} bytes, level -5 {fast}"
    );
}

#[test]
fn a_batch_past_the_decompression_limit_is_refused() {
    let specs = vec![spec(1_700_000_000_000, None, Some(&[7u8; 100_000]))];
    let batch = encode_batch(&specs, idempotent_producer(), Codec::Lz4);
    let mut out = Vec::new();
    let error = recompress_batch(
        BatchView::new(&batch).unwrap(),
        target(Compression::Gzip),
        10_000,
        &mut out,
    )
    .unwrap_err();
    assert!(error.to_string().contains("limit"), "{error}");
}
