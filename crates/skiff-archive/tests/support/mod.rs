//! Stored batches for the archive tests, built by kafka-protocol's encoder (not ours) and
//! compressed with skiff-records' client-side codecs, offsets assigned as the controller
//! would; and the S3 server the tests may use.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::BTreeMap;

use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, Int64Type, TimestampMicrosecondType};
use arrow_array::{Array, RecordBatch};
use bytes::{Bytes, BytesMut};
use futures::TryStreamExt;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{
    Compression as KCompression, Record, RecordBatchEncoder, RecordEncodeOptions,
    TimestampType as KTimestampType,
};
use skiff_archive::{ArchivePass, PassConfig};
use skiff_records::Compression;
use skiff_storage::SegmentStore;
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

/// 2026-12-05T20:00:00Z: the test records run across the next UTC midnight.
pub const START_MS: i64 = 1_796_500_800_000;

#[derive(Debug, PartialEq, Eq)]
pub struct Row {
    pub topic: String,
    pub timestamp_ms: i64,
    pub timestamp_type: String,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(String, Option<Vec<u8>>)>,
}

pub fn expected_row(topic: &str, produced: &Produced) -> Row {
    Row {
        topic: topic.to_string(),
        timestamp_ms: produced.timestamp_ms,
        timestamp_type: "CREATE_TIME".to_string(),
        key: produced.key.clone(),
        value: produced.value.clone(),
        headers: produced.headers.clone(),
    }
}

/// Every row of the table's current snapshot, by (partition, offset).
pub async fn read_table(store: &SegmentStore, location: &str) -> BTreeMap<(i32, i64), Row> {
    let file_io = skiff_archive::pass::file_io(store);
    let metadata = iceberg::spec::TableMetadata::read_from(&file_io, location)
        .await
        .unwrap();
    let table = iceberg::table::Table::builder()
        .file_io(file_io)
        .metadata_location(location)
        .metadata(metadata)
        .identifier(iceberg::TableIdent::from_strs(["skiff", "t"]).unwrap())
        .readonly(true)
        .runtime(iceberg::Runtime::try_current().unwrap())
        .build()
        .unwrap();
    let batches: Vec<RecordBatch> = table
        .scan()
        .select_all()
        .build()
        .unwrap()
        .to_arrow()
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let mut rows = BTreeMap::new();
    for batch in batches {
        let names: Vec<&str> = batch
            .schema_ref()
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect();
        assert_eq!(names, skiff_archive::schema::COLUMNS);
        let topic = batch.column(0).as_string::<i32>();
        let partition = batch.column(1).as_primitive::<Int32Type>();
        let offset = batch.column(2).as_primitive::<Int64Type>();
        let timestamp = batch.column(3).as_primitive::<TimestampMicrosecondType>();
        let timestamp_type = batch.column(4).as_string::<i32>();
        let key = batch.column(5).as_binary::<i64>();
        let value = batch.column(6).as_binary::<i64>();
        let headers = batch.column(7).as_list::<i32>();
        for i in 0..batch.num_rows() {
            let header_rows = headers.value(i);
            let header_rows = header_rows.as_struct();
            let header_keys = header_rows.column(0).as_string::<i32>();
            let header_values = header_rows.column(1).as_binary::<i64>();
            let row = Row {
                topic: topic.value(i).to_string(),
                timestamp_ms: timestamp.value(i) / 1000,
                timestamp_type: timestamp_type.value(i).to_string(),
                key: key.is_valid(i).then(|| key.value(i).to_vec()),
                value: value.is_valid(i).then(|| value.value(i).to_vec()),
                headers: (0..header_rows.len())
                    .map(|h| {
                        (
                            header_keys.value(h).to_string(),
                            header_values
                                .is_valid(h)
                                .then(|| header_values.value(h).to_vec()),
                        )
                    })
                    .collect(),
            };
            let previous = rows.insert((partition.value(i), offset.value(i)), row);
            assert!(previous.is_none(), "offset {} twice", offset.value(i));
        }
    }
    rows
}

/// Partition 0: uncompressed and gzip; partition 1: snappy, lz4 and zstd.
pub fn first_batches() -> Vec<(i32, Vec<u8>, Vec<Produced>)> {
    let mut out = Vec::new();
    let mut add = |partition: i32, first: i64, count: i64, codec: Compression| {
        let produced = records(first, count, START_MS);
        out.push((partition, stored_batch(&produced, codec), produced));
    };
    add(0, 0, 6, Compression::None);
    add(0, 6, 5, Compression::Gzip);
    add(1, 0, 4, Compression::Snappy);
    add(1, 4, 4, Compression::Lz4);
    add(1, 8, 5, Compression::Zstd);
    out
}

pub async fn archive(
    store: &SegmentStore,
    current: Option<&str>,
    from: &BTreeMap<i32, i64>,
    batches: &[(i32, Vec<u8>, Vec<Produced>)],
) -> Option<skiff_archive::ArchiveCommit> {
    archive_with(store, current, from, batches, &PassConfig::default()).await
}

/// [`archive`] with the pass's settings given.
pub async fn archive_with(
    store: &SegmentStore,
    current: Option<&str>,
    from: &BTreeMap<i32, i64>,
    batches: &[(i32, Vec<u8>, Vec<Produced>)],
    config: &PassConfig,
) -> Option<skiff_archive::ArchiveCommit> {
    let mut pass = ArchivePass::begin(store, "t", current, config)
        .await
        .unwrap();
    for partition in [0, 1] {
        pass.start_partition(partition, from.get(&partition).copied().unwrap_or(0))
            .await
            .unwrap();
        for (p, bytes, _) in batches {
            if *p == partition {
                pass.append(bytes).await.unwrap();
            }
        }
    }
    pass.commit().await.unwrap()
}
