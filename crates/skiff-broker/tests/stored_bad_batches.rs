//! Data stored before produce validated records (or damaged in the store) never makes a
//! partition fail forever: ListOffsets answers around an unreadable batch, and a fetch steps
//! over an entry whose bytes no longer match the index, both with a logged error.

use crate::support;

use std::path::{Path, PathBuf};

use kafka_protocol::messages::ListOffsetsRequest;
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use skiff_storage::StoreConfig;
use support::*;
use uuid::Uuid;

const MARKER: &[u8] = b"stored-batch-to-damage";

fn segment_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "seg") {
                out.push(path);
            }
        }
    }
    out
}

/// Finds the segment holding MARKER and lets `damage` edit it at the marker's position.
fn damage_stored_batch(objects: &Path, damage: impl FnOnce(&mut Vec<u8>, usize)) {
    for path in segment_files(objects) {
        let mut bytes = std::fs::read(&path).expect("read segment");
        if let Some(at) = bytes.windows(MARKER.len()).position(|w| w == MARKER) {
            damage(&mut bytes, at);
            std::fs::write(&path, bytes).expect("write segment");
            return;
        }
    }
    panic!("no segment holds the marker");
}

async fn list_offset(client: &mut RawClient, topic: &str, timestamp: i64) -> (i16, i64, i64) {
    let mut p = ListOffsetsPartition::default();
    p.partition_index = 0;
    p.timestamp = timestamp;
    let mut t = ListOffsetsTopic::default();
    t.name = topic_name(topic);
    t.partitions = vec![p];
    let mut request = ListOffsetsRequest::default();
    request.replica_id = (-1).into();
    request.topics = vec![t];
    let response = client.call(8, &request).await;
    let p = &response.topics[0].partitions[0];
    (p.error_code, p.offset, p.timestamp)
}

/// Writes 3 batches to `topic` (offsets 0-1 at 1,000 ms, 2-3 at 5,000 ms holding MARKER, 4-5 at
/// 3,000 ms), each in its own segment, and stops the broker so nothing is cached.
async fn write_three_batches(dir: &Path, store: &StoreConfig, topic: &str) {
    let broker = TestBroker::start_in(dir, store.clone(), |_| {}).await;
    let mut client = broker.client().await;
    create_topic(&mut client, topic, 1, &[]).await;
    let marked = std::str::from_utf8(MARKER).expect("utf-8");
    for (prefix, timestamp) in [("first", 1_000), (marked, 5_000), ("last", 3_000)] {
        let response = client
            .call(
                9,
                &produce_request(-1, &[(topic, 0, batch(prefix, 2, timestamp, NO_PRODUCER))]),
            )
            .await;
        assert_eq!(produce_results(&response)[0].0, 0);
    }
    drop(client);
    broker.stop().await;
}

#[tokio::test]
async fn timestamp_lookups_answer_around_an_unreadable_stored_batch() {
    let dir = tempfile::tempdir().expect("tempdir");
    let objects = dir.path().join("objects");
    let store = StoreConfig::for_url(format!("file://{}", objects.display()));
    write_three_batches(dir.path(), &store, "times").await;
    // The value length in front of the marker becomes -2: the records can no longer be read.
    damage_stored_batch(&objects, |bytes, at| bytes[at - 1] = 0x03);

    let broker = TestBroker::start_in(dir.path(), store, |_| {}).await;
    let mut client = broker.client().await;
    assert_eq!(
        list_offset(&mut client, "times", 4_000).await,
        (0, 2, 5_001),
        "by time: the unreadable batch is the answer, from its header"
    );
    assert_eq!(
        list_offset(&mut client, "times", -3).await,
        (0, 3, 5_001),
        "max timestamp: the unreadable batch's last offset, as Kafka's time index has it"
    );
    assert_eq!(list_offset(&mut client, "times", 2_000).await.0, 0);
    assert_eq!(
        list_offset(&mut client, "times", 1_001).await,
        (0, 1, 1_001),
        "readable batches still answer exactly"
    );
    drop(client);
    broker.stop().await;
}

#[tokio::test]
async fn a_fetch_steps_over_an_entry_that_no_longer_matches_the_index() {
    let dir = tempfile::tempdir().expect("tempdir");
    let objects = dir.path().join("objects");
    let store = StoreConfig::for_url(format!("file://{}", objects.display()));
    write_three_batches(dir.path(), &store, "holes").await;
    // The batch's length field: kafka-protocol's encoder puts the records (and our marker) after
    // the 61-byte header and each record's few leading bytes; find the batch start by searching
    // back for magic 2 at offset 16 of a plausible header.
    damage_stored_batch(&objects, |bytes, at| {
        let start = (at.saturating_sub(200)..at)
            .find(|&s| bytes[s + 16] == 2 && bytes[s..s + 8] == [0; 8])
            .expect("batch header before the marker");
        bytes[start + 8..start + 12].copy_from_slice(&7i32.to_be_bytes());
    });

    let broker = TestBroker::start_in(dir.path(), store, |_| {}).await;
    let mut client = broker.client().await;
    let first = fetched(
        &client
            .call(11, &fetch_request("holes", Uuid::nil(), 0, 0, 0, 0))
            .await,
    );
    assert_eq!(
        first.iter().map(|(o, _)| *o).collect::<Vec<_>>(),
        vec![0, 1, 4, 5],
        "{first:?}"
    );
    let from_bad = fetched(
        &client
            .call(11, &fetch_request("holes", Uuid::nil(), 0, 2, 0, 0))
            .await,
    );
    assert_eq!(
        from_bad,
        vec![(4, "last-0".to_string()), (5, "last-1".to_string())],
        "a consumer inside the bad entry moves on instead of failing forever"
    );
    drop(client);
    broker.stop().await;
}
