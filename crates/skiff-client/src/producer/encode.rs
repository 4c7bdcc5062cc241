//! One sealed batch → RecordBatch v2 bytes, compressed with skiff-records' codecs.

use bytes::{Bytes, BytesMut};
use kafka_protocol::records::{Record, RecordBatchEncoder, RecordEncodeOptions};
use skiff_records::Compression;

use crate::codec::{compress_into, to_wire};
use crate::error::ClientError;

pub(crate) fn encode_batch(records: &[Record], codec: Compression) -> Result<Bytes, ClientError> {
    let estimate: usize = records
        .iter()
        .map(|r| r.key.as_ref().map_or(0, Bytes::len) + r.value.as_ref().map_or(0, Bytes::len) + 16)
        .sum();
    let mut buf = BytesMut::with_capacity(61 + estimate);
    RecordBatchEncoder::encode_with_custom_compression(
        &mut buf,
        records,
        &RecordEncodeOptions {
            version: 2,
            compression: to_wire(codec),
        },
        Some(compress_into),
    )
    .map_err(|e| ClientError::Encode {
        api: "Produce",
        detail: format!("record batch: {e:#}"),
    })?;
    Ok(buf.freeze())
}

/// A batch of plain values, for other modules' tests.
#[cfg(test)]
pub(crate) fn encode_batch_for_tests(values: &[&str], codec: Compression) -> Bytes {
    let records: Vec<Record> = values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            crate::producer::wire_record(
                crate::record::ProducerRecord {
                    value: Some(Bytes::from(v.to_string())),
                    ..Default::default()
                },
                i as i64,
                1_000 + i as i64,
            )
        })
        .collect();
    encode_batch(&records, codec).unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::producer::wire_record;
    use crate::record::ProducerRecord;
    use kafka_protocol::protocol::StrBytes;
    use kafka_protocol::records::RecordBatchDecoder;
    use skiff_records::BatchView;

    fn records(n: usize) -> Vec<Record> {
        (0..n)
            .map(|i| {
                let mut record = ProducerRecord {
                    key: Some(Bytes::from(format!("key-{i}"))),
                    value: Some(Bytes::from(format!("value {i} ").repeat(20))),
                    ..ProducerRecord::default()
                };
                record.headers.insert(
                    StrBytes::from_static_str("h"),
                    Some(Bytes::from_static(b"v")),
                );
                wire_record(record, i as i64, 1_700_000_000_000 + i as i64)
            })
            .collect()
    }

    #[test]
    fn every_codec_yields_one_valid_batch_that_decodes_back() {
        for codec in [
            Compression::None,
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ] {
            let input = records(50);
            let bytes = encode_batch(&input, codec).unwrap();
            let batch = BatchView::new(&bytes).unwrap();
            assert_eq!(batch.len(), bytes.len(), "{codec}: exactly one batch");
            batch.verify_crc().unwrap();
            assert_eq!(batch.compression().unwrap(), codec);
            assert_eq!(batch.record_count(), 50);
            assert_eq!(batch.base_sequence(), -1, "not idempotent");
            assert_eq!(batch.producer_id(), -1);
            let mut buf = bytes.clone();
            let set = RecordBatchDecoder::decode_with_custom_compression(
                &mut buf,
                Some(crate::codec::decompressor(50)),
            )
            .unwrap();
            let keys: Vec<_> = set.records.iter().map(|r| r.key.clone()).collect();
            let expected: Vec<_> = input.iter().map(|r| r.key.clone()).collect();
            assert_eq!(keys, expected, "{codec}");
            assert_eq!(set.records[7].headers, input[7].headers);
            assert_eq!(set.records[7].timestamp, input[7].timestamp);
        }
    }
}
