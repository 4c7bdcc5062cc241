//! Test helpers: batches built by kafka-protocol's encoder (an implementation independent of
//! ours), independent compressors/decompressors for it, and raw header surgery.
#![allow(dead_code, clippy::unwrap_used)]

use std::io::{Read, Write};

use bytes::{Bytes, BytesMut};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{
    Compression as KCompression, Record, RecordBatchDecoder, RecordBatchEncoder,
    RecordEncodeOptions, RecordSet, TimestampType as KTimestampType,
};

pub const XERIAL_MAGIC: &[u8; 8] = b"\x82SNAPPY\x00";

/// Codecs as clients send them (snappy in both framings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    None,
    Gzip,
    SnappyXerial,
    SnappyRaw,
    Lz4,
    Zstd,
}

pub const ALL_CODECS: [Codec; 6] = [
    Codec::None,
    Codec::Gzip,
    Codec::SnappyXerial,
    Codec::SnappyRaw,
    Codec::Lz4,
    Codec::Zstd,
];

impl Codec {
    pub fn kafka(self) -> KCompression {
        match self {
            Codec::None => KCompression::None,
            Codec::Gzip => KCompression::Gzip,
            Codec::SnappyXerial | Codec::SnappyRaw => KCompression::Snappy,
            Codec::Lz4 => KCompression::Lz4,
            Codec::Zstd => KCompression::Zstd,
        }
    }

    pub fn ours(self) -> skiff_records::Compression {
        match self {
            Codec::None => skiff_records::Compression::None,
            Codec::Gzip => skiff_records::Compression::Gzip,
            Codec::SnappyXerial | Codec::SnappyRaw => skiff_records::Compression::Snappy,
            Codec::Lz4 => skiff_records::Compression::Lz4,
            Codec::Zstd => skiff_records::Compression::Zstd,
        }
    }
}

pub fn compress(codec: Codec, data: &[u8]) -> Vec<u8> {
    match codec {
        Codec::None => data.to_vec(),
        Codec::Gzip => {
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            encoder.write_all(data).unwrap();
            encoder.finish().unwrap()
        }
        Codec::SnappyXerial => {
            let mut out = XERIAL_MAGIC.to_vec();
            out.extend_from_slice(&1i32.to_be_bytes());
            out.extend_from_slice(&1i32.to_be_bytes());
            // Small blocks so multi-block streams get exercised.
            for chunk in data.chunks(1024) {
                let block = snap::raw::Encoder::new().compress_vec(chunk).unwrap();
                out.extend_from_slice(&(block.len() as u32).to_be_bytes());
                out.extend_from_slice(&block);
            }
            out
        }
        Codec::SnappyRaw => snap::raw::Encoder::new().compress_vec(data).unwrap(),
        Codec::Lz4 => {
            let mut encoder = lz4_flex::frame::FrameEncoder::new(Vec::new());
            encoder.write_all(data).unwrap();
            encoder.finish().unwrap()
        }
        Codec::Zstd => {
            ruzstd::encoding::compress_to_vec(data, ruzstd::encoding::CompressionLevel::Fastest)
        }
    }
}

/// Independent decompression for kafka-protocol's decoder.
pub fn decompress_for_kafka_protocol(
    compressed: &mut Bytes,
    compression: KCompression,
) -> anyhow::Result<Bytes> {
    let input: &[u8] = compressed;
    let mut out = Vec::new();
    match compression {
        KCompression::None => out.extend_from_slice(input),
        KCompression::Gzip => {
            flate2::read::GzDecoder::new(input).read_to_end(&mut out)?;
        }
        KCompression::Snappy if input.starts_with(XERIAL_MAGIC) => {
            // As snappy-java reads it: blocks, and a new stream header wherever one starts.
            let mut rest = input;
            while !rest.is_empty() {
                if rest.starts_with(XERIAL_MAGIC) {
                    rest = rest
                        .get(16..)
                        .ok_or_else(|| anyhow::anyhow!("cut header"))?;
                    continue;
                }
                let len = u32::from_be_bytes(
                    rest.get(..4)
                        .ok_or_else(|| anyhow::anyhow!("cut length"))?
                        .try_into()?,
                ) as usize;
                let block = rest
                    .get(4..4 + len)
                    .ok_or_else(|| anyhow::anyhow!("block past the end"))?;
                if !block.is_empty() {
                    out.extend(snap::raw::Decoder::new().decompress_vec(block)?);
                }
                rest = &rest[4 + len..];
            }
        }
        KCompression::Snappy => out = snap::raw::Decoder::new().decompress_vec(input)?,
        KCompression::Lz4 => {
            lz4_flex::frame::FrameDecoder::new(input).read_to_end(&mut out)?;
        }
        KCompression::Zstd => {
            ruzstd::decoding::StreamingDecoder::new(input)?.read_to_end(&mut out)?;
        }
    }
    Ok(Bytes::from(out))
}

/// Producer fields shared by every record of a batch.
#[derive(Debug, Clone, Copy)]
pub struct Producer {
    pub id: i64,
    pub epoch: i16,
    pub base_sequence: i32,
    pub transactional: bool,
    pub leader_epoch: i32,
}

pub const NO_PRODUCER: Producer = Producer {
    id: -1,
    epoch: -1,
    base_sequence: -1,
    transactional: false,
    leader_epoch: -1,
};

/// What a test wants in one record.
#[derive(Debug, Clone)]
pub struct RecordSpec {
    pub timestamp: i64,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(String, Option<Vec<u8>>)>,
}

pub fn spec(timestamp: i64, key: Option<&[u8]>, value: Option<&[u8]>) -> RecordSpec {
    RecordSpec {
        timestamp,
        key: key.map(<[u8]>::to_vec),
        value: value.map(<[u8]>::to_vec),
        headers: Vec::new(),
    }
}

pub fn kafka_records(specs: &[RecordSpec], producer: Producer) -> Vec<Record> {
    specs
        .iter()
        .enumerate()
        .map(|(index, spec)| {
            let mut record = Record {
                transactional: producer.transactional,
                control: false,
                delete_horizon: false,
                partition_leader_epoch: producer.leader_epoch,
                producer_id: producer.id,
                producer_epoch: producer.epoch,
                timestamp_type: KTimestampType::Creation,
                offset: index as i64,
                // `offset - sequence` must stay constant or the encoder splits the batch; with
                // base sequence -1 this still yields a header base sequence of -1.
                sequence: producer.base_sequence.wrapping_add(index as i32),
                timestamp: spec.timestamp,
                key: spec.key.clone().map(Bytes::from),
                value: spec.value.clone().map(Bytes::from),
                headers: Default::default(),
            };
            for (key, value) in &spec.headers {
                record.headers.insert(
                    StrBytes::from_string(key.clone()),
                    value.clone().map(Bytes::from),
                );
            }
            record
        })
        .collect()
}

/// One batch from kafka-protocol's encoder, compressed with our test compressors.
pub fn encode_batch(specs: &[RecordSpec], producer: Producer, codec: Codec) -> Vec<u8> {
    let records = kafka_records(specs, producer);
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode_with_custom_compression(
        &mut buf,
        &records,
        &RecordEncodeOptions {
            version: 2,
            compression: codec.kafka(),
        },
        Some(
            |raw: &mut BytesMut, out: &mut BytesMut, _: KCompression| -> anyhow::Result<()> {
                out.extend_from_slice(&compress(codec, raw));
                Ok(())
            },
        ),
    )
    .unwrap();
    buf.to_vec()
}

/// Decodes every batch of `buf` with kafka-protocol's decoder (which checks the CRC).
pub fn kafka_decode_all(buf: &[u8]) -> anyhow::Result<Vec<RecordSet>> {
    let mut bytes = Bytes::copy_from_slice(buf);
    let mut sets = Vec::new();
    while !bytes.is_empty() {
        sets.push(RecordBatchDecoder::decode_with_custom_compression(
            &mut bytes,
            Some(decompress_for_kafka_protocol),
        )?);
    }
    Ok(sets)
}

/// A few records with keys, null keys, null values, headers and out-of-order timestamps.
pub fn sample_specs() -> Vec<RecordSpec> {
    let mut with_headers = spec(1_700_000_000_250, Some(b"key-2"), Some(b"value two"));
    with_headers.headers = vec![
        ("trace-id".to_owned(), Some(b"abc123".to_vec())),
        ("empty".to_owned(), Some(Vec::new())),
        ("null-valued".to_owned(), None),
    ];
    vec![
        spec(1_700_000_000_100, Some(b"key-0"), Some(b"value zero")),
        spec(1_700_000_000_050, None, Some(b"null key")),
        with_headers,
        spec(1_700_000_000_900, Some(b""), None),
        spec(1_700_000_000_400, Some(b"key-4"), Some(&[0u8; 300])),
    ]
}

pub fn idempotent_producer() -> Producer {
    Producer {
        id: 4242,
        epoch: 7,
        base_sequence: 100,
        transactional: false,
        leader_epoch: 3,
    }
}

/// A batch assembled by hand around an arbitrary records section (for shapes no encoder emits).
pub fn raw_batch(
    attributes: i16,
    record_count: i32,
    last_offset_delta: i32,
    records: &[u8],
) -> Vec<u8> {
    let mut batch = Vec::with_capacity(61 + records.len());
    batch.extend_from_slice(&0i64.to_be_bytes());
    batch.extend_from_slice(&((49 + records.len()) as i32).to_be_bytes());
    batch.extend_from_slice(&(-1i32).to_be_bytes()); // partition leader epoch
    batch.push(2); // magic
    batch.extend_from_slice(&0u32.to_be_bytes()); // crc, filled below
    batch.extend_from_slice(&attributes.to_be_bytes());
    batch.extend_from_slice(&last_offset_delta.to_be_bytes());
    batch.extend_from_slice(&1_000i64.to_be_bytes()); // base timestamp
    batch.extend_from_slice(&1_000i64.to_be_bytes()); // max timestamp
    batch.extend_from_slice(&(-1i64).to_be_bytes()); // producer id
    batch.extend_from_slice(&(-1i16).to_be_bytes()); // producer epoch
    batch.extend_from_slice(&(-1i32).to_be_bytes()); // base sequence
    batch.extend_from_slice(&record_count.to_be_bytes());
    batch.extend_from_slice(records);
    fix_crc(&mut batch);
    batch
}

/// Rewrites bytes of a batch header and recomputes its CRC, so only the intended rule trips.
pub fn patch_header(batch: &mut [u8], at: usize, bytes: &[u8]) {
    batch[at..at + bytes.len()].copy_from_slice(bytes);
    fix_crc(batch);
}

pub fn fix_crc(batch: &mut [u8]) {
    let crc = crc32c::crc32c(&batch[21..]);
    batch[17..21].copy_from_slice(&crc.to_be_bytes());
}

/// Zigzag varint encoding, for hand-built records.
pub fn varint(value: i64, out: &mut Vec<u8>) {
    let mut raw = ((value << 1) ^ (value >> 63)) as u64;
    loop {
        let byte = (raw & 0x7f) as u8;
        raw >>= 7;
        if raw == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// One hand-encoded record body (without its length prefix).
pub fn record_body(
    timestamp_delta: i64,
    offset_delta: i32,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
) -> Vec<u8> {
    let mut body = vec![0u8];
    varint(timestamp_delta, &mut body);
    varint(i64::from(offset_delta), &mut body);
    for field in [key, value] {
        match field {
            Some(bytes) => {
                varint(bytes.len() as i64, &mut body);
                body.extend_from_slice(bytes);
            }
            None => varint(-1, &mut body),
        }
    }
    varint(0, &mut body); // header count
    body
}

pub fn with_length_prefix(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    varint(body.len() as i64, &mut out);
    out.extend_from_slice(body);
    out
}
