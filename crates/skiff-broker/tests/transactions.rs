//! Transactions over real sockets (issue 19): FindCoordinator for a transactional id,
//! InitProducerId with one (timeouts, fencing), AddPartitionsToTxn, transactional produce and
//! what it refuses, AddOffsetsToTxn, TxnOffsetCommit with the group checks, EndTxn, and what
//! READ_COMMITTED fetches see before and after the end. Stock clients run the same flows in
//! tests/e2e/test_transactions.py.

use crate::support;

use bytes::{Bytes, BytesMut};
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use kafka_protocol::messages::txn_offset_commit_request::{
    TxnOffsetCommitRequestPartition, TxnOffsetCommitRequestTopic,
};
use kafka_protocol::messages::{
    AddOffsetsToTxnRequest, AddPartitionsToTxnRequest, AddPartitionsToTxnResponse, EndTxnRequest,
    FetchResponse, FindCoordinatorRequest, InitProducerIdRequest, InitProducerIdResponse,
    ProducerId, TxnOffsetCommitRequest,
};
use kafka_protocol::records::{
    Compression, NO_PARTITION_LEADER_EPOCH, Record, RecordBatchDecoder, RecordBatchEncoder,
    RecordEncodeOptions, TimestampType,
};
use skiff_meta::Propose;
use support::*;

const READ_UNCOMMITTED: i8 = 0;
const READ_COMMITTED: i8 = 1;

fn code(error: ResponseError) -> i16 {
    error.code()
}

fn s(text: &str) -> kafka_protocol::protocol::StrBytes {
    kafka_protocol::protocol::StrBytes::from_string(text.to_string())
}

/// One transactional batch of `count` records from the producer, sequences from `sequence`.
fn txn_batch(prefix: &str, count: usize, producer: (i64, i16), sequence: i32) -> Bytes {
    let records: Vec<Record> = (0..count)
        .map(|i| Record {
            transactional: true,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: NO_PARTITION_LEADER_EPOCH,
            producer_id: producer.0,
            producer_epoch: producer.1,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            sequence: sequence + i as i32,
            timestamp: 1_000 + i as i64,
            key: None,
            value: Some(Bytes::from(format!("{prefix}-{i}"))),
            headers: Default::default(),
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        &records,
        &RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        },
    )
    .expect("batch encodes");
    buf.freeze()
}

async fn init(
    client: &mut RawClient,
    version: i16,
    transactional_id: &str,
    timeout_ms: i32,
) -> InitProducerIdResponse {
    let mut request = InitProducerIdRequest::default();
    request.transactional_id = Some(s(transactional_id).into());
    request.transaction_timeout_ms = timeout_ms;
    if version >= 3 {
        request.producer_id = ProducerId(-1);
        request.producer_epoch = -1;
    }
    client.call(version, &request).await
}

async fn add_partitions(
    client: &mut RawClient,
    version: i16,
    transactional_id: &str,
    producer: (i64, i16),
    topics: &[(&str, &[i32])],
) -> AddPartitionsToTxnResponse {
    let mut request = AddPartitionsToTxnRequest::default();
    request.v3_and_below_transactional_id = s(transactional_id).into();
    request.v3_and_below_producer_id = ProducerId(producer.0);
    request.v3_and_below_producer_epoch = producer.1;
    request.v3_and_below_topics = topics
        .iter()
        .map(|(name, partitions)| {
            let mut t = AddPartitionsToTxnTopic::default();
            t.name = topic_name(name);
            t.partitions = partitions.to_vec();
            t
        })
        .collect();
    client.call(version, &request).await
}

/// (topic, partition, code) of every partition in the answer.
fn add_codes(response: &AddPartitionsToTxnResponse) -> Vec<(String, i32, i16)> {
    response
        .results_by_topic_v3_and_below
        .iter()
        .flat_map(|t| {
            t.results_by_partition.iter().map(|p| {
                (
                    t.name.0.to_string(),
                    p.partition_index,
                    p.partition_error_code,
                )
            })
        })
        .collect()
}

async fn end(
    client: &mut RawClient,
    version: i16,
    transactional_id: &str,
    producer: (i64, i16),
    commit: bool,
) -> i16 {
    let mut request = EndTxnRequest::default();
    request.transactional_id = s(transactional_id).into();
    request.producer_id = ProducerId(producer.0);
    request.producer_epoch = producer.1;
    request.committed = commit;
    client.call(version, &request).await.error_code
}

async fn produce_txn(
    client: &mut RawClient,
    transactional_id: Option<&str>,
    parts: &[(&str, i32, Bytes)],
) -> Vec<i16> {
    let mut request = produce_request(-1, parts);
    request.transactional_id = transactional_id.map(|id| s(id).into());
    let response = client.call(9, &request).await;
    produce_results(&response)
        .into_iter()
        .map(|(code, _)| code)
        .collect()
}

async fn fetch_at(
    client: &mut RawClient,
    topic: &str,
    partition: i32,
    isolation: i8,
) -> FetchResponse {
    let id = topic_id(client, topic).await;
    let mut request = fetch_request(topic, id, partition, 0, 0, 0);
    request.isolation_level = isolation;
    client.call(12, &request).await
}

/// (high watermark, last stable offset, values of the data records) of one partition.
fn read(response: &FetchResponse) -> (i64, i64, Vec<String>) {
    let p = &response.responses[0].partitions[0];
    assert_eq!(p.error_code, 0, "fetch error");
    let mut records = p.records.clone().unwrap_or_default();
    let values = RecordBatchDecoder::decode_all(&mut records)
        .expect("fetched batches decode")
        .into_iter()
        .flat_map(|set| set.records)
        // Clients skip the markers' control records.
        .filter(|r| !r.control)
        .map(|r| String::from_utf8(r.value.unwrap_or_default().to_vec()).expect("utf-8"))
        .collect();
    (p.high_watermark, p.last_stable_offset, values)
}

/// (producer id, current transaction start offset) of each producer of t-`partition`.
async fn open_transaction_start(client: &mut RawClient, partition: i32) -> Vec<(i64, i64)> {
    use kafka_protocol::messages::DescribeProducersRequest;
    use kafka_protocol::messages::describe_producers_request::TopicRequest;
    let mut topic = TopicRequest::default();
    topic.name = topic_name("t");
    topic.partition_indexes = vec![partition];
    let mut request = DescribeProducersRequest::default();
    request.topics = vec![topic];
    let response = client.call(0, &request).await;
    response.topics[0].partitions[0]
        .active_producers
        .iter()
        .map(|p| (p.producer_id.0, p.current_txn_start_offset))
        .collect()
}

/// (code, offset) of group "readers", partition t-0, at OffsetFetch v7.
async fn offset_fetch(client: &mut RawClient, require_stable: bool) -> (i16, i64) {
    use kafka_protocol::messages::OffsetFetchRequest;
    use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
    let mut topic = OffsetFetchRequestTopic::default();
    topic.name = topic_name("t");
    topic.partition_indexes = vec![0];
    let mut request = OffsetFetchRequest::default();
    request.group_id = s("readers").into();
    request.topics = Some(vec![topic]);
    request.require_stable = require_stable;
    let response = client.call(7, &request).await;
    let p = &response.topics[0].partitions[0];
    (p.error_code, p.committed_offset)
}

#[tokio::test]
async fn a_transaction_commits_with_markers_and_group_offsets() {
    let broker = TestBroker::start_with(|c| c.group_initial_rebalance_delay_ms = 0).await;
    let mut client = broker.client().await;
    create_topic(&mut client, "t", 2, &[]).await;

    let mut find = FindCoordinatorRequest::default();
    find.key = s("app");
    find.key_type = 1;
    let found = client.call(3, &find).await;
    assert_eq!((found.error_code, found.node_id.0), (0, 1));

    let refused = init(&mut client, 4, "app", 900_001).await;
    assert_eq!(
        refused.error_code,
        code(ResponseError::InvalidTransactionTimeout)
    );
    let started = init(&mut client, 4, "app", 60_000).await;
    assert_eq!(started.error_code, 0);
    let producer = (started.producer_id.0, started.producer_epoch);
    assert_eq!(producer.1, 0);

    // A transactional batch needs a transactional id in the request, and its partition added.
    let without_id = produce_txn(
        &mut client,
        None,
        &[("t", 0, txn_batch("x", 1, producer, 0))],
    )
    .await;
    assert_eq!(
        without_id,
        vec![code(ResponseError::TransactionalIdAuthorizationFailed)]
    );
    let not_added = produce_txn(
        &mut client,
        Some("app"),
        &[("t", 0, txn_batch("x", 1, producer, 0))],
    )
    .await;
    assert_eq!(not_added, vec![code(ResponseError::InvalidTxnState)]);

    // One unknown partition adds none.
    let partly = add_partitions(
        &mut client,
        3,
        "app",
        producer,
        &[("t", &[0, 1]), ("nope", &[0])],
    )
    .await;
    let mut codes = add_codes(&partly);
    codes.sort();
    assert_eq!(
        codes,
        vec![
            (
                "nope".into(),
                0,
                code(ResponseError::UnknownTopicOrPartition)
            ),
            ("t".into(), 0, code(ResponseError::OperationNotAttempted)),
            ("t".into(), 1, code(ResponseError::OperationNotAttempted)),
        ]
    );
    let added = add_partitions(&mut client, 3, "app", producer, &[("t", &[0, 1])]).await;
    assert!(
        add_codes(&added).iter().all(|(_, _, c)| *c == 0),
        "{added:?}"
    );

    let written = produce_txn(
        &mut client,
        Some("app"),
        &[
            ("t", 0, txn_batch("a", 2, producer, 0)),
            ("t", 1, txn_batch("b", 2, producer, 0)),
        ],
    )
    .await;
    assert_eq!(written, vec![0, 0]);
    let (high, lso, values) = read(&fetch_at(&mut client, "t", 0, READ_COMMITTED).await);
    assert_eq!((high, lso), (2, 0), "the open transaction holds the LSO");
    assert!(
        values.is_empty(),
        "read_committed sees nothing yet: {values:?}"
    );
    let (_, _, values) = read(&fetch_at(&mut client, "t", 0, READ_UNCOMMITTED).await);
    assert_eq!(values, vec!["a-0", "a-1"]);
    assert_eq!(
        open_transaction_start(&mut client, 1).await,
        vec![(producer.0, 0)]
    );

    // Offsets for a group: AddOffsetsToTxn, then TxnOffsetCommit checked against the group.
    let mut add_offsets = AddOffsetsToTxnRequest::default();
    add_offsets.transactional_id = s("app").into();
    add_offsets.producer_id = ProducerId(producer.0);
    add_offsets.producer_epoch = producer.1;
    add_offsets.group_id = s("readers").into();
    assert_eq!(client.call(3, &add_offsets).await.error_code, 0);
    let commit_offsets = |member: &str, generation: i32| {
        let mut p = TxnOffsetCommitRequestPartition::default();
        p.partition_index = 0;
        p.committed_offset = 42;
        let mut t = TxnOffsetCommitRequestTopic::default();
        t.name = topic_name("t");
        t.partitions = vec![p];
        let mut request = TxnOffsetCommitRequest::default();
        request.transactional_id = s("app").into();
        request.group_id = s("readers").into();
        request.producer_id = ProducerId(producer.0);
        request.producer_epoch = producer.1;
        request.generation_id = generation;
        request.member_id = s(member);
        request.topics = vec![t];
        request
    };
    let stale = client.call(3, &commit_offsets("ghost", 3)).await;
    assert_eq!(
        stale.topics[0].partitions[0].error_code,
        code(ResponseError::UnknownMemberId),
        "KIP-447: a member the group does not know cannot commit"
    );
    let ok = client.call(3, &commit_offsets("", -1)).await;
    assert_eq!(ok.topics[0].partitions[0].error_code, 0);
    // KIP-447: a consumer asking for stable offsets waits for the open transaction.
    assert_eq!(
        offset_fetch(&mut client, true).await,
        (code(ResponseError::UnstableOffsetCommit), -1)
    );
    assert_eq!(offset_fetch(&mut client, false).await, (0, -1));

    assert_eq!(end(&mut client, 3, "app", producer, true).await, 0);
    for partition in [0, 1] {
        let (high, lso, values) =
            read(&fetch_at(&mut client, "t", partition, READ_COMMITTED).await);
        assert_eq!((high, lso), (3, 3), "two records and the COMMIT marker");
        let prefix = if partition == 0 { "a" } else { "b" };
        assert_eq!(values, vec![format!("{prefix}-0"), format!("{prefix}-1")]);
    }
    {
        let state = broker.controller().state();
        let state = state.read();
        let topic = state.topic_by_name("t").expect("topic").id;
        let offset = state.group("readers").and_then(|g| {
            g.offsets()
                .find(|(t, p, _)| (*t, *p) == (topic, 0))
                .map(|(_, _, o)| o.offset)
        });
        assert_eq!(offset, Some(42), "the pending offset applied on commit");
    }

    assert_eq!(offset_fetch(&mut client, true).await, (0, 42));
    assert_eq!(
        open_transaction_start(&mut client, 1).await,
        vec![(producer.0, -1)]
    );
    // A retry of the commit succeeds; an abort of the ended transaction does not.
    assert_eq!(end(&mut client, 3, "app", producer, true).await, 0);
    assert_eq!(
        end(&mut client, 3, "app", producer, false).await,
        code(ResponseError::InvalidTxnState)
    );
}

#[tokio::test]
async fn a_new_instance_fences_the_old_and_aborts_its_transaction() {
    let broker = TestBroker::start().await;
    let mut client = broker.client().await;
    create_topic(&mut client, "f", 1, &[]).await;
    let first = init(&mut client, 3, "app", 60_000).await;
    let old = (first.producer_id.0, first.producer_epoch);
    let added = add_partitions(&mut client, 1, "app", old, &[("f", &[0])]).await;
    assert!(add_codes(&added).iter().all(|(_, _, c)| *c == 0));
    let written = produce_txn(
        &mut client,
        Some("app"),
        &[("f", 0, txn_batch("old", 2, old, 0))],
    )
    .await;
    assert_eq!(written, vec![0]);

    let second = init(&mut client, 4, "app", 60_000).await;
    assert_eq!(second.error_code, 0);
    let new = (second.producer_id.0, second.producer_epoch);
    assert_eq!(new, (old.0, old.1 + 1), "same producer id, next epoch");

    // The old instance: fenced everywhere, with the code its request version knows.
    assert_eq!(
        end(&mut client, 1, "app", old, true).await,
        code(ResponseError::InvalidProducerEpoch)
    );
    assert_eq!(
        end(&mut client, 3, "app", old, true).await,
        code(ResponseError::ProducerFenced)
    );
    let late = produce_txn(
        &mut client,
        Some("app"),
        &[("f", 0, txn_batch("late", 1, old, 2))],
    )
    .await;
    assert_eq!(late, vec![code(ResponseError::InvalidProducerEpoch)]);
    let unknown = add_partitions(&mut client, 3, "nobody", old, &[("f", &[0])]).await;
    assert_eq!(
        add_codes(&unknown)[0].2,
        code(ResponseError::InvalidProducerIdMapping)
    );

    // Its transaction was aborted by the new instance's InitProducerId: read_committed skips
    // it (the aborted list) and the LSO is past the ABORT marker.
    let response = fetch_at(&mut client, "f", 0, READ_COMMITTED).await;
    let partition = &response.responses[0].partitions[0];
    assert_eq!(
        (partition.high_watermark, partition.last_stable_offset),
        (3, 3)
    );
    let aborted: Vec<(i64, i64)> = partition
        .aborted_transactions
        .iter()
        .flatten()
        .map(|a| (a.producer_id.0, a.first_offset))
        .collect();
    assert_eq!(aborted, vec![(old.0, 0)]);

    // The new instance writes and commits normally.
    let added = add_partitions(&mut client, 3, "app", new, &[("f", &[0])]).await;
    assert!(add_codes(&added).iter().all(|(_, _, c)| *c == 0));
    let written = produce_txn(
        &mut client,
        Some("app"),
        &[("f", 0, txn_batch("new", 1, new, 0))],
    )
    .await;
    assert_eq!(written, vec![0]);
    assert_eq!(end(&mut client, 3, "app", new, true).await, 0);
    let (high, lso, _) = read(&fetch_at(&mut client, "f", 0, READ_COMMITTED).await);
    assert_eq!((high, lso), (5, 5));
}

fn versions(key: kafka_protocol::messages::ApiKey) -> std::ops::RangeInclusive<i16> {
    let range = skiff_protocol::supported_versions(key).expect("advertised");
    range.min..=range.max
}

#[tokio::test]
async fn every_transactional_api_answers_at_every_advertised_version() {
    use kafka_protocol::messages::ApiKey;
    let broker = TestBroker::start().await;
    let mut client = broker.client().await;
    create_topic(&mut client, "v", 1, &[]).await;
    for version in versions(ApiKey::InitProducerId) {
        let id = format!("v{version}");
        let started = init(&mut client, version, &id, 60_000).await;
        assert_eq!(started.error_code, 0, "InitProducerId v{version}");
    }
    let started = init(&mut client, 4, "all", 60_000).await;
    let producer = (started.producer_id.0, started.producer_epoch);
    for version in versions(ApiKey::AddPartitionsToTxn) {
        let added = add_partitions(&mut client, version, "all", producer, &[("v", &[0])]).await;
        assert_eq!(add_codes(&added), vec![("v".into(), 0, 0)], "v{version}");
    }
    for version in versions(ApiKey::AddOffsetsToTxn) {
        let mut request = AddOffsetsToTxnRequest::default();
        request.transactional_id = s("all").into();
        request.producer_id = ProducerId(producer.0);
        request.producer_epoch = producer.1;
        request.group_id = s("g").into();
        let answer = client.call(version, &request).await;
        assert_eq!(answer.error_code, 0, "AddOffsetsToTxn v{version}");
    }
    for version in versions(ApiKey::TxnOffsetCommit) {
        let mut p = TxnOffsetCommitRequestPartition::default();
        p.partition_index = 0;
        p.committed_offset = i64::from(version);
        let mut t = TxnOffsetCommitRequestTopic::default();
        t.name = topic_name("v");
        t.partitions = vec![p];
        let mut request = TxnOffsetCommitRequest::default();
        request.transactional_id = s("all").into();
        request.group_id = s("g").into();
        request.producer_id = ProducerId(producer.0);
        request.producer_epoch = producer.1;
        request.generation_id = -1;
        request.topics = vec![t];
        let answer = client.call(version, &request).await;
        assert_eq!(
            answer.topics[0].partitions[0].error_code, 0,
            "TxnOffsetCommit v{version}"
        );
    }
    for version in versions(ApiKey::EndTxn) {
        // The first commits; later versions retry it, which succeeds.
        assert_eq!(
            end(&mut client, version, "all", producer, true).await,
            0,
            "EndTxn v{version}"
        );
    }
}

#[tokio::test]
async fn a_zombie_whose_producer_id_was_replaced_is_fenced() {
    let broker = TestBroker::start().await;
    let mut client = broker.client().await;
    create_topic(&mut client, "z", 1, &[]).await;
    let first = init(&mut client, 3, "app", 60_000).await;
    let old = (first.producer_id.0, first.producer_epoch);
    let added = add_partitions(&mut client, 3, "app", old, &[("z", &[0])]).await;
    assert!(add_codes(&added).iter().all(|(_, _, c)| *c == 0));
    let written = produce_txn(
        &mut client,
        Some("app"),
        &[("z", 0, txn_batch("old", 1, old, 0))],
    )
    .await;
    assert_eq!(written, vec![0]);
    assert_eq!(end(&mut client, 3, "app", old, true).await, 0);

    // The id goes idle past its expiration and is forgotten, so the next instance gets a new
    // producer id (as an exhausted epoch does).
    let expired = broker
        .controller()
        .propose(skiff_meta::ExpireTxns {
            now_ms: i64::MAX / 2,
            id_expiration_ms: 1,
            max_aborts: 100,
        })
        .await
        .expect("proposal applies");
    assert_eq!(expired.forgotten, vec!["app".to_string()]);
    // A zombie of a forgotten id is fenced, not told to retry (NOT_ENOUGH_REPLICAS) until
    // its delivery timeout.
    let zombie = produce_txn(
        &mut client,
        Some("app"),
        &[("z", 0, txn_batch("zombie", 1, old, 1))],
    )
    .await;
    assert_eq!(zombie, vec![code(ResponseError::InvalidProducerEpoch)]);

    let second = init(&mut client, 3, "app", 60_000).await;
    assert_eq!(second.error_code, 0);
    assert_ne!(second.producer_id.0, old.0, "a new producer id");
    let zombie = produce_txn(
        &mut client,
        Some("app"),
        &[("z", 0, txn_batch("zombie", 1, old, 1))],
    )
    .await;
    assert_eq!(zombie, vec![code(ResponseError::InvalidProducerEpoch)]);
    // A producer id nobody has handed out yet is one set up through another broker a moment
    // ago: still retriable.
    let ahead = (second.producer_id.0 + 10, 0);
    let early = produce_txn(
        &mut client,
        Some("app"),
        &[("z", 0, txn_batch("early", 1, ahead, 0))],
    )
    .await;
    assert_eq!(early, vec![code(ResponseError::NotEnoughReplicas)]);
    let (high, lso, values) = read(&fetch_at(&mut client, "z", 0, READ_COMMITTED).await);
    assert_eq!((high, lso), (2, 2));
    assert_eq!(values, vec!["old-0".to_string()]);
}
