//! The compressors: what they write is read back by independent decoders (kafka-protocol's
//! decoder, plain flate2/snap/lz4_flex/ruzstd readers) and by our own bounded decompressor,
//! in the framing the Java client expects.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use crate::support;

use std::io::Read;

use bytes::{Bytes, BytesMut};
use kafka_protocol::records::{
    Compression as KCompression, RecordBatchEncoder, RecordEncodeOptions,
};
use proptest::prelude::*;
use skiff_records::{BatchView, Compression, compress, decompress};
use support::*;

const CODECS: [Compression; 5] = [
    Compression::None,
    Compression::Gzip,
    Compression::Snappy,
    Compression::Lz4,
    Compression::Zstd,
];
const LIMIT: usize = 64 * 1024 * 1024;

fn compressed(codec: Compression, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    compress(codec, data, &mut out).unwrap();
    out
}

fn kafka(codec: Compression) -> KCompression {
    match codec {
        Compression::None => KCompression::None,
        Compression::Gzip => KCompression::Gzip,
        Compression::Snappy => KCompression::Snappy,
        Compression::Lz4 => KCompression::Lz4,
        Compression::Zstd => KCompression::Zstd,
    }
}

/// Large, compressible, and longer than one snappy/LZ4 block.
fn sample(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| b"the quick brown fox "[i % 20] ^ u8::from(i % 777 == 0))
        .collect()
}

#[test]
fn every_codec_round_trips_through_our_decompressor() {
    for codec in CODECS {
        for len in [0, 1, 100, 32 * 1024, 200_000] {
            let data = sample(len);
            let packed = compressed(codec, &data);
            assert_eq!(
                decompress(codec, &packed, LIMIT).unwrap(),
                data,
                "{codec} {len}"
            );
        }
    }
}

#[test]
fn compressible_data_gets_smaller() {
    let data = sample(200_000);
    for codec in CODECS.into_iter().filter(|c| *c != Compression::None) {
        let packed = compressed(codec, &data);
        assert!(
            packed.len() < data.len() / 4,
            "{codec}: {} bytes",
            packed.len()
        );
    }
}

#[test]
fn independent_decoders_read_what_we_wrote() {
    let data = sample(150_000);
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(&compressed(Compression::Gzip, &data)[..])
        .read_to_end(&mut out)
        .unwrap();
    assert_eq!(out, data, "gzip");

    out.clear();
    lz4_flex::frame::FrameDecoder::new(&compressed(Compression::Lz4, &data)[..])
        .read_to_end(&mut out)
        .unwrap();
    assert_eq!(out, data, "lz4");

    out.clear();
    ruzstd::decoding::StreamingDecoder::new(&compressed(Compression::Zstd, &data)[..])
        .unwrap()
        .read_to_end(&mut out)
        .unwrap();
    assert_eq!(out, data, "zstd");

    let snappy = compressed(Compression::Snappy, &data);
    let mut kafka_input = Bytes::from(snappy);
    let decoded = decompress_for_kafka_protocol(&mut kafka_input, KCompression::Snappy).unwrap();
    assert_eq!(&decoded[..], &data[..], "snappy (xerial)");
}

#[test]
fn snappy_uses_xerial_framing_with_32k_blocks() {
    let data = sample(100_000);
    let packed = compressed(Compression::Snappy, &data);
    assert_eq!(&packed[..8], XERIAL_MAGIC);
    assert_eq!(
        &packed[8..16],
        &[0, 0, 0, 1, 0, 0, 0, 1],
        "version 1, compatible 1"
    );
    let mut rest = &packed[16..];
    let mut blocks = 0;
    while !rest.is_empty() {
        let len = u32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
        let block = snap::raw::Decoder::new()
            .decompress_vec(&rest[4..4 + len])
            .unwrap();
        assert!(block.len() <= 32 * 1024);
        rest = &rest[4 + len..];
        blocks += 1;
    }
    assert_eq!(blocks, 4, "100,000 bytes in 32 KiB blocks");
}

#[test]
fn lz4_frames_use_independent_64k_blocks_without_content_size() {
    let packed = compressed(Compression::Lz4, &sample(1000));
    assert_eq!(&packed[..4], &[0x04, 0x22, 0x4d, 0x18], "LZ4 frame magic");
    let flags = packed[4];
    assert_eq!(flags >> 6, 0b01, "frame version 01");
    assert_ne!(flags & 0x20, 0, "independent blocks");
    assert_eq!(flags & 0x08, 0, "no content size");
    assert_eq!((packed[5] >> 4) & 0x07, 4, "64 KiB block max size");
}

#[test]
fn kafka_protocol_decodes_batches_compressed_by_us() {
    for codec in CODECS {
        let specs = sample_specs();
        let records = kafka_records(&specs, NO_PRODUCER);
        let mut buf = BytesMut::new();
        RecordBatchEncoder::encode_with_custom_compression(
            &mut buf,
            &records,
            &RecordEncodeOptions {
                version: 2,
                compression: kafka(codec),
            },
            Some(
                |raw: &mut BytesMut, out: &mut BytesMut, _: KCompression| -> anyhow::Result<()> {
                    let mut packed = Vec::new();
                    compress(codec, raw, &mut packed)?;
                    out.extend_from_slice(&packed);
                    Ok(())
                },
            ),
        )
        .unwrap();
        let batch = BatchView::new(&buf).unwrap();
        batch.verify_crc().unwrap();
        assert_eq!(batch.compression().unwrap(), codec);
        let sets = kafka_decode_all(&buf).unwrap();
        assert_eq!(sets.len(), 1);
        let values: Vec<_> = sets[0].records.iter().map(|r| r.value.clone()).collect();
        let expected: Vec<_> = specs
            .iter()
            .map(|s| s.value.clone().map(Bytes::from))
            .collect();
        assert_eq!(values, expected, "{codec}");
    }
}

proptest! {
    #[test]
    fn arbitrary_bytes_round_trip(
        data in prop::collection::vec(any::<u8>(), 0..70_000),
        codec in prop::sample::select(CODECS.to_vec()),
    ) {
        let packed = compressed(codec, &data);
        prop_assert_eq!(decompress(codec, &packed, LIMIT).unwrap(), data);
    }
}
