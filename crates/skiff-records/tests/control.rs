//! Transaction marker batches against kafka-protocol's independent decoder.

use bytes::Bytes;
use kafka_protocol::records::RecordBatchDecoder;
use skiff_records::{ControlMarker, control_batch};

#[test]
fn kafka_protocol_decodes_commit_and_abort_markers() {
    for (commit, kind) in [(true, 1u8), (false, 0u8)] {
        let marker = ControlMarker {
            offset: 77,
            producer_id: 4242,
            producer_epoch: 9,
            commit,
            timestamp: 1_700_000_000_123,
            coordinator_epoch: 5,
        };
        let mut bytes = Bytes::copy_from_slice(&control_batch(&marker));
        let set = RecordBatchDecoder::decode(&mut bytes).expect("kafka-protocol decodes it");
        assert!(bytes.is_empty(), "one batch, nothing left");
        assert_eq!(set.records.len(), 1);
        let record = &set.records[0];
        assert!(record.control && record.transactional);
        assert_eq!(record.offset, 77);
        assert_eq!((record.producer_id, record.producer_epoch), (4242, 9));
        assert_eq!(record.timestamp, 1_700_000_000_123);
        assert_eq!(record.key.as_deref(), Some(&[0, 0, 0, kind][..]));
        assert_eq!(record.value.as_deref(), Some(&[0, 0, 0, 0, 0, 5][..]));
        assert!(record.headers.is_empty());
    }
}
