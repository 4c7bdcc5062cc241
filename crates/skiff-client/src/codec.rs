//! The bridge between kafka-protocol's (de)compression callbacks and skiff-records' codecs.

use bytes::{Bytes, BytesMut};
use kafka_protocol::records::Compression as WireCompression;
use skiff_records::Compression;

/// Largest decompressed records section accepted from a broker, so a hostile batch cannot
/// make the client allocate without bound.
pub(crate) const MAX_DECOMPRESSED_BYTES: usize = skiff_records::DEFAULT_MAX_DECOMPRESSED_BYTES;

/// The smallest encoded record: length, attributes, timestamp delta, offset delta, key length,
/// value length and header count, one byte each.
pub(crate) const MIN_RECORD_BYTES: usize = 7;

pub(crate) fn to_wire(codec: Compression) -> WireCompression {
    match codec {
        Compression::None => WireCompression::None,
        Compression::Gzip => WireCompression::Gzip,
        Compression::Snappy => WireCompression::Snappy,
        Compression::Lz4 => WireCompression::Lz4,
        Compression::Zstd => WireCompression::Zstd,
    }
}

fn from_wire(codec: WireCompression) -> Compression {
    match codec {
        WireCompression::None => Compression::None,
        WireCompression::Gzip => Compression::Gzip,
        WireCompression::Snappy => Compression::Snappy,
        WireCompression::Lz4 => Compression::Lz4,
        WireCompression::Zstd => Compression::Zstd,
    }
}

/// `RecordBatchEncoder`'s compressor: the records section in `raw`, compressed into `out`.
pub(crate) fn compress_into(
    raw: &mut BytesMut,
    out: &mut BytesMut,
    codec: WireCompression,
) -> anyhow::Result<()> {
    let codec = from_wire(codec);
    if codec == Compression::None {
        out.extend_from_slice(raw);
        return Ok(());
    }
    let mut packed = Vec::with_capacity(raw.len() / 2 + 64);
    skiff_records::compress(codec, raw, &mut packed)?;
    out.extend_from_slice(&packed);
    Ok(())
}

/// `RecordBatchDecoder`'s decompressor for a batch declaring `record_count` records: bounded,
/// and refusing output too short to hold that many records (so the decoder never reserves
/// room for a count the bytes cannot back).
pub(crate) fn decompressor(
    record_count: usize,
) -> impl Fn(&mut Bytes, WireCompression) -> anyhow::Result<Bytes> {
    move |compressed: &mut Bytes, codec: WireCompression| {
        let data = match from_wire(codec) {
            Compression::None => compressed.clone(),
            codec => Bytes::from(skiff_records::decompress(
                codec,
                compressed,
                MAX_DECOMPRESSED_BYTES,
            )?),
        };
        let needed = record_count.saturating_mul(MIN_RECORD_BYTES);
        if data.len() < needed {
            anyhow::bail!(
                "the batch declares {record_count} records but holds only {} bytes of them",
                data.len()
            );
        }
        Ok(data)
    }
}
