//! Records → Parquet throughput of one archive pass on one core: builds stored batches of
//! 1 KiB records (uncompressed, like a client with `compression.type=none`; set
//! ARCHIVE_BENCH_CODEC=zstd for zstd batches), archives them to a local directory, and prints
//! record MB/s (key + value + header bytes per CPU-second of the pass).
//!
//! `cargo run --release -p skiff-archive --example archive_throughput [MB]`

use std::time::Instant;

use bytes::{BufMut, BytesMut};
use skiff_archive::{ArchivePass, PassConfig};
use skiff_records::Compression;
use skiff_storage::{SegmentStore, StoreConfig};

const RECORD_VALUE: usize = 1000;
const RECORDS_PER_BATCH: i64 = 500;
const WORDS: [&str; 16] = [
    "{\"user\":",
    "\"order\",",
    " 42.17,",
    "\"status\":",
    "\"shipped\"}",
    " true,",
    "\"id\":",
    " 98231,",
    "\"sku\":\"A-",
    "7781\",",
    "\"eur\",",
    "\"ts\":",
    " 1796500800,",
    "\"ok\"",
    " null,",
    "\"note\":\"",
];

fn varint(out: &mut BytesMut, value: i64) {
    let mut v = ((value << 1) ^ (value >> 63)) as u64;
    while v >= 0x80 {
        out.put_u8((v as u8) | 0x80);
        v >>= 7;
    }
    out.put_u8(v as u8);
}

/// One v2 batch, written by hand (the bench needs no Kafka client): the CRC is not checked by
/// the archive, so it is left zero.
fn batch(base_offset: i64, codec: Compression, timestamp: i64) -> Vec<u8> {
    let mut records = BytesMut::new();
    let mut body = BytesMut::new();
    for delta in 0..RECORDS_PER_BATCH {
        body.clear();
        body.put_u8(0);
        varint(&mut body, 0);
        varint(&mut body, delta);
        let key = format!("key-{}", base_offset + delta);
        varint(&mut body, key.len() as i64);
        body.put_slice(key.as_bytes());
        varint(&mut body, RECORD_VALUE as i64);
        // Text-like values: words from a small vocabulary in a pseudo-random order, which
        // compress about as well as JSON payloads do (3-4x), not as well as a repeated byte.
        let mut state = ((base_offset + delta) as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut written = 0;
        while written < RECORD_VALUE {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let word = WORDS[(state % WORDS.len() as u64) as usize].as_bytes();
            let take = word.len().min(RECORD_VALUE - written);
            body.put_slice(&word[..take]);
            written += take;
        }
        varint(&mut body, 1);
        varint(&mut body, 5);
        body.put_slice(b"trace");
        varint(&mut body, 8);
        body.put_i64(delta);
        varint(&mut records, body.len() as i64);
        records.put_slice(&body);
    }
    let mut compressed = Vec::new();
    skiff_records::compress(codec, &records, &mut compressed).expect("compresses");
    let mut out = BytesMut::new();
    out.put_i64(base_offset);
    out.put_i32((49 + compressed.len()) as i32);
    out.put_i32(-1);
    out.put_u8(2);
    out.put_u32(0);
    let attributes: i16 = match codec {
        Compression::None => 0,
        Compression::Gzip => 1,
        Compression::Snappy => 2,
        Compression::Lz4 => 3,
        Compression::Zstd => 4,
    };
    out.put_i16(attributes);
    out.put_i32((RECORDS_PER_BATCH - 1) as i32);
    out.put_i64(timestamp);
    out.put_i64(timestamp);
    out.put_i64(-1);
    out.put_i16(-1);
    out.put_i32(-1);
    out.put_i32(RECORDS_PER_BATCH as i32);
    out.put_slice(&compressed);
    out.to_vec()
}

fn cpu_seconds() -> f64 {
    // utime + stime of this process, from /proc (Linux).
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let megabytes: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(256);
    let codec = match std::env::var("ARCHIVE_BENCH_CODEC").as_deref() {
        Ok("zstd") => Compression::Zstd,
        _ => Compression::None,
    };
    let batches_needed = megabytes * 1_000_000 / (RECORD_VALUE * RECORDS_PER_BATCH as usize);
    let batches: Vec<Vec<u8>> = (0..batches_needed)
        .map(|i| batch(i as i64 * RECORDS_PER_BATCH, codec, 1_796_500_800_000))
        .collect();
    let record_bytes: usize = batches_needed * RECORDS_PER_BATCH as usize * (RECORD_VALUE + 8 + 13);
    // ARCHIVE_BENCH_DIR keeps the table for a look (DuckDB, pyarrow); else a temp dir.
    let dir = tempfile::tempdir().expect("temp dir");
    let root =
        std::env::var("ARCHIVE_BENCH_DIR").unwrap_or_else(|_| dir.path().display().to_string());
    let store = SegmentStore::open(&StoreConfig::for_url(format!("file://{root}"))).expect("store");
    let cpu_before = cpu_seconds();
    let wall = Instant::now();
    let mut pass = ArchivePass::begin(&store, "bench", None, &PassConfig::default())
        .await
        .expect("begin");
    pass.start_partition(0, 0).await.expect("start");
    for bytes in &batches {
        pass.append(bytes).await.expect("append");
    }
    let commit = pass.commit().await.expect("commit").expect("archived");
    skiff_archive::publish_version_hint(&store, "bench", &commit.metadata_location)
        .await
        .expect("version hint");
    let cpu = cpu_seconds() - cpu_before;
    let wall = wall.elapsed().as_secs_f64();
    let mb = record_bytes as f64 / 1e6;
    println!(
        "{} rows, {mb:.0} MB of records ({codec:?} batches) -> {} Parquet files, {:.1} MB: {:.2} s CPU, {:.2} s wall, {:.0} MB/s per core",
        commit.rows,
        commit.data_files,
        commit.data_bytes as f64 / 1e6,
        cpu,
        wall,
        mb / cpu.max(1e-9),
    );
}
