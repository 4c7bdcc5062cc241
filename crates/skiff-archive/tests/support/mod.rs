//! Stored batches for the archive tests, built by kafka-protocol's encoder (not ours) and
//! compressed with skiff-records' client-side codecs, offsets assigned as the controller
//! would; and the S3 server the tests may use.
#![allow(dead_code, clippy::unwrap_used)]

use bytes::{Bytes, BytesMut};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{
    Compression as KCompression, Record, RecordBatchEncoder, RecordEncodeOptions,
    TimestampType as KTimestampType,
};
use skiff_records::Compression;
use skiff_storage::StoreConfig;

/// One record as produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Produced {
    pub offset: i64,
    pub timestamp_ms: i64,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(String, Option<Vec<u8>>)>,
}

fn kafka_codec(codec: Compression) -> KCompression {
    match codec {
        Compression::None => KCompression::None,
        Compression::Gzip => KCompression::Gzip,
        Compression::Snappy => KCompression::Snappy,
        Compression::Lz4 => KCompression::Lz4,
        Compression::Zstd => KCompression::Zstd,
    }
}

/// One stored batch holding `records` (their offsets must be consecutive), compressed with
/// `codec`, base offset set to the first record's offset.
pub fn stored_batch(records: &[Produced], codec: Compression) -> Vec<u8> {
    let kafka_records: Vec<Record> = records
        .iter()
        .map(|r| {
            let mut record = Record {
                transactional: false,
                control: false,
                delete_horizon: false,
                partition_leader_epoch: -1,
                producer_id: -1,
                producer_epoch: -1,
                timestamp_type: KTimestampType::Creation,
                offset: r.offset,
                sequence: -1,
                timestamp: r.timestamp_ms,
                key: r.key.clone().map(Bytes::from),
                value: r.value.clone().map(Bytes::from),
                headers: Default::default(),
            };
            for (key, value) in &r.headers {
                record.headers.insert(
                    StrBytes::from_string(key.clone()),
                    value.clone().map(Bytes::from),
                );
            }
            record
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode_with_custom_compression(
        &mut buf,
        &kafka_records,
        &RecordEncodeOptions {
            version: 2,
            compression: kafka_codec(codec),
        },
        Some(
            |raw: &mut BytesMut, out: &mut BytesMut, _: KCompression| -> anyhow::Result<()> {
                let mut compressed = Vec::new();
                skiff_records::compress(codec, raw, &mut compressed)?;
                out.extend_from_slice(&compressed);
                Ok(())
            },
        ),
    )
    .unwrap();
    let mut batch = buf.to_vec();
    skiff_records::set_base_offset(&mut batch, records[0].offset);
    batch
}

/// `count` records from `first_offset`: every third key null, every fifth value a tombstone,
/// two headers (one with a null value) on odd offsets, bytes that are not UTF-8, timestamps a
/// few hours apart from `start_ms` so they cross a UTC day.
pub fn records(first_offset: i64, count: i64, start_ms: i64) -> Vec<Produced> {
    (first_offset..first_offset + count)
        .map(|offset| Produced {
            offset,
            timestamp_ms: start_ms + offset * 3 * 3_600_000,
            key: (offset % 3 != 0).then(|| format!("key-{offset}").into_bytes()),
            value: (offset % 5 != 4).then(|| {
                let mut value = format!("value-{offset}-").into_bytes();
                value.extend_from_slice(&[0xff, 0x00, 0xfe]);
                value
            }),
            headers: if offset % 2 == 1 {
                vec![
                    ("trace".to_string(), Some(vec![0xc3, 0x28, offset as u8])),
                    ("empty".to_string(), None),
                ]
            } else {
                Vec::new()
            },
        })
        .collect()
}

pub struct S3Target {
    pub endpoint: String,
    pub bucket: String,
}

pub fn s3_target() -> Option<S3Target> {
    let endpoint = std::env::var("SKIFF_TEST_S3_ENDPOINT")
        .ok()
        .filter(|e| !e.is_empty())?;
    let bucket = std::env::var("SKIFF_TEST_S3_BUCKET").unwrap_or_else(|_| "skiff-test".to_string());
    Some(S3Target { endpoint, bucket })
}

/// Without an S3 server the test is skipped, except under tests/run (SKIFF_REQUIRE_S3=1).
pub fn skip_s3() {
    assert!(
        std::env::var_os("SKIFF_REQUIRE_S3").is_none(),
        "SKIFF_REQUIRE_S3 is set but SKIFF_TEST_S3_ENDPOINT is not"
    );
    println!("skipped: set SKIFF_TEST_S3_ENDPOINT (e.g. http://127.0.0.1:4566) to run against S3");
}

pub fn s3_config(target: &S3Target, prefix: &str) -> StoreConfig {
    let mut cfg = StoreConfig::for_url(format!("s3://{}/{prefix}", target.bucket));
    cfg.endpoint = Some(target.endpoint.clone());
    if std::env::var("AWS_ACCESS_KEY_ID").is_err() {
        cfg.access_key_id = Some("test".to_string());
        cfg.secret_access_key = Some("test".to_string());
    }
    cfg
}
