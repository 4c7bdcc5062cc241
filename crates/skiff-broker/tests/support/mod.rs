//! An in-process broker on a real socket (port 0) and a raw Kafka client that speaks exactly
//! the bytes a test asks for. Stock clients are exercised in tests/e2e; these tests need
//! control over malformed and edge-case requests that no real client would send.
#![allow(dead_code)]

pub mod proxy;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::{
    ApiKey, CreateTopicsRequest, CreateTopicsResponse, FetchRequest, FetchResponse,
    MetadataRequest, ProduceRequest, ProduceResponse, RequestHeader, ResponseHeader, TopicName,
    create_topics_request::CreatableTopic,
    create_topics_request::CreatableTopicConfig,
    produce_request::{PartitionProduceData, TopicProduceData},
};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};
use kafka_protocol::records::{
    Compression, NO_PARTITION_LEADER_EPOCH, Record, RecordBatchDecoder, RecordBatchEncoder,
    RecordEncodeOptions, TimestampType,
};
use skiff_broker::{Broker, BrokerConfig, BrokerDeps};
use skiff_controller::{Controller, ControllerConfig};
use skiff_meta::{BrokerInfo, Propose, RegisterBroker};
use skiff_storage::{CacheConfig, ChunkCache, SegmentStore, StoreConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use uuid::Uuid;

/// How long any single wait in these tests may take before it counts as a hang.
pub const DEADLINE: Duration = Duration::from_secs(20);

pub struct TestBroker {
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    broker: Broker,
    controller: Arc<Controller>,
    cache: ChunkCache,
    _tempdir: Option<tempfile::TempDir>,
}

impl TestBroker {
    /// A broker on an in-memory store, flushing every 5 ms so tests run fast.
    pub async fn start() -> TestBroker {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(tune: impl FnOnce(&mut BrokerConfig)) -> TestBroker {
        let tempdir = tempfile::tempdir().expect("tempdir");
        let dir = tempdir.path().to_path_buf();
        let mut broker = Self::start_in(&dir, StoreConfig::for_url("memory://"), tune).await;
        broker._tempdir = Some(tempdir);
        broker
    }

    /// A broker whose controller lives in `dir`, on the given store.
    pub async fn start_in(
        dir: &Path,
        store: StoreConfig,
        tune: impl FnOnce(&mut BrokerConfig),
    ) -> TestBroker {
        let controller = start_controller(dir).await;
        Self::start_on(controller, dir, store, tune).await
    }

    /// Broker 1 beside [`absent_broker`], which is registered first and never runs, so
    /// partitions and groups spread over two brokers while only one answers. The test drives
    /// broker 2's lease through [`TestBroker::controller`].
    pub async fn start_beside_absent_broker(tune: impl FnOnce(&mut BrokerConfig)) -> TestBroker {
        let tempdir = tempfile::tempdir().expect("tempdir");
        let dir = tempdir.path().to_path_buf();
        let controller = start_controller(&dir).await;
        controller
            .propose(RegisterBroker(absent_broker()))
            .await
            .expect("second broker registered");
        let mut broker =
            Self::start_on(controller, &dir, StoreConfig::for_url("memory://"), tune).await;
        broker._tempdir = Some(tempdir);
        broker
    }

    async fn start_on(
        controller: Arc<Controller>,
        dir: &Path,
        store: StoreConfig,
        tune: impl FnOnce(&mut BrokerConfig),
    ) -> TestBroker {
        let store = SegmentStore::open(&store).expect("store opens");
        let cache = ChunkCache::open(&CacheConfig {
            memory_bytes: 64 << 20,
            disk_bytes: 0,
            dir: dir.join("cache"),
        })
        .await
        .expect("cache opens");
        let mut config = BrokerConfig {
            kafka_addr: "127.0.0.1:0".parse().expect("addr"),
            flush_interval_ms: 5,
            ..Default::default()
        };
        tune(&mut config);
        let broker = Broker::start(
            config,
            BrokerDeps {
                controller: controller.clone(),
                store,
                cache: cache.clone(),
                log_levels: None,
            },
        )
        .await
        .expect("broker starts");
        TestBroker {
            addr: broker.local_addr(),
            data_dir: dir.to_path_buf(),
            broker,
            controller,
            cache,
            _tempdir: None,
        }
    }

    /// Bytes held against the broker's request and response budgets.
    pub fn budget_use(&self) -> skiff_broker::BudgetUse {
        self.broker.budget_use()
    }

    /// The embedded controller, for tests that propose on another broker's behalf.
    pub fn controller(&self) -> &Controller {
        &self.controller
    }

    pub async fn client(&self) -> RawClient {
        RawClient::connect(self.addr).await
    }

    /// Clean shutdown, as Ctrl-C does it. Returns the temp dir so a restart can reuse it.
    pub async fn stop(self) -> Option<tempfile::TempDir> {
        self.broker.shutdown().await;
        self.controller
            .shutdown()
            .await
            .expect("controller shuts down");
        self.cache.close().await.expect("cache closes");
        self._tempdir
    }
}

async fn start_controller(dir: &Path) -> Arc<Controller> {
    let controller = Controller::start(ControllerConfig {
        data_dir: dir.join("controller"),
        ..Default::default()
    })
    .await
    .expect("controller starts");
    Arc::new(controller)
}

/// Broker 2 of [`TestBroker::start_beside_absent_broker`]: registered, never running.
pub fn absent_broker() -> BrokerInfo {
    BrokerInfo {
        id: 2,
        host: "elsewhere.example".into(),
        port: 9999,
        rack: None,
    }
}

/// A Kafka client that sends typed requests at explicit versions, or raw bytes.
pub struct RawClient {
    stream: TcpStream,
    next_correlation: i32,
}

impl RawClient {
    pub async fn connect(addr: SocketAddr) -> RawClient {
        let stream = tokio::time::timeout(DEADLINE, TcpStream::connect(addr))
            .await
            .expect("connect in time")
            .expect("connect");
        RawClient {
            stream,
            next_correlation: 1,
        }
    }

    /// Sends `request` at `version`; returns its correlation id.
    pub async fn send<R: Request>(&mut self, version: i16, request: &R) -> i32 {
        let correlation_id = self.next_correlation;
        self.next_correlation += 1;
        let api_key = ApiKey::try_from(R::KEY).expect("known key");
        let mut body = BytesMut::new();
        RequestHeader::default()
            .with_request_api_key(R::KEY)
            .with_request_api_version(version)
            .with_correlation_id(correlation_id)
            .with_client_id(Some(StrBytes::from_static_str("skiff-test")))
            .encode(&mut body, api_key.request_header_version(version))
            .expect("header encodes");
        request.encode(&mut body, version).expect("request encodes");
        self.send_frame(&body).await;
        correlation_id
    }

    /// Reads one response for `R` at `version`, checking its correlation id.
    pub async fn recv<R: Request>(&mut self, version: i16, correlation_id: i32) -> R::Response {
        let mut frame = self
            .recv_frame()
            .await
            .expect("a response, not a closed connection");
        let header = ResponseHeader::decode(&mut frame, R::Response::header_version(version))
            .expect("response header");
        assert_eq!(
            header.correlation_id, correlation_id,
            "responses arrive in request order"
        );
        let response = R::Response::decode(&mut frame, version).expect("response body decodes");
        assert!(
            !frame.has_remaining(),
            "{} trailing bytes after the response",
            frame.remaining()
        );
        response
    }

    pub async fn call<R: Request>(&mut self, version: i16, request: &R) -> R::Response {
        let correlation_id = self.send(version, request).await;
        self.recv::<R>(version, correlation_id).await
    }

    pub async fn send_frame(&mut self, body: &[u8]) {
        let mut frame = BytesMut::with_capacity(body.len() + 4);
        frame.put_i32(body.len() as i32);
        frame.extend_from_slice(body);
        self.stream.write_all(&frame).await.expect("write");
    }

    /// The socket itself, for tests that read or write around the framing.
    pub fn stream(&mut self) -> &mut TcpStream {
        &mut self.stream
    }

    pub async fn send_bytes(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes).await
    }

    /// The next frame's body, or `None` once the broker closed the connection.
    pub async fn recv_frame(&mut self) -> Option<Bytes> {
        let read = async {
            let len = self.stream.read_i32().await.ok()?;
            let mut body = vec![0; len as usize];
            self.stream.read_exact(&mut body).await.ok()?;
            Some(Bytes::from(body))
        };
        tokio::time::timeout(DEADLINE, read)
            .await
            .expect("broker answered or closed in time")
    }
}

pub fn topic_name(name: &str) -> TopicName {
    TopicName(StrBytes::from_string(name.to_string()))
}

pub async fn create_topic(
    client: &mut RawClient,
    name: &str,
    partitions: i32,
    configs: &[(&str, &str)],
) -> CreateTopicsResponse {
    let mut topic = CreatableTopic::default();
    topic.name = topic_name(name);
    topic.num_partitions = partitions;
    topic.replication_factor = -1;
    topic.configs = configs
        .iter()
        .map(|(k, v)| {
            let mut c = CreatableTopicConfig::default();
            c.name = StrBytes::from_string(k.to_string());
            c.value = Some(StrBytes::from_string(v.to_string()));
            c
        })
        .collect();
    let mut request = CreateTopicsRequest::default();
    request.topics = vec![topic];
    request.timeout_ms = 5000;
    client.call(7, &request).await
}

/// Producer identity written into a batch header.
#[derive(Clone, Copy)]
pub struct ProducerFields {
    pub id: i64,
    pub epoch: i16,
    pub sequence: i32,
}

pub const NO_PRODUCER: ProducerFields = ProducerFields {
    id: -1,
    epoch: -1,
    sequence: -1,
};

/// One uncompressed batch of `count` records with values `"{prefix}-{i}"` and timestamps
/// `first_timestamp + i`, encoded by kafka-protocol's (independent) encoder.
pub fn batch(prefix: &str, count: usize, first_timestamp: i64, producer: ProducerFields) -> Bytes {
    let records: Vec<Record> = (0..count)
        .map(|i| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: NO_PARTITION_LEADER_EPOCH,
            producer_id: producer.id,
            producer_epoch: producer.epoch,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            // kafka-protocol's encoder starts a new batch whenever offset - sequence changes,
            // so sequences must step with offsets even without a producer id (base stays -1).
            sequence: producer.sequence.wrapping_add(i as i32),
            timestamp: first_timestamp + i as i64,
            key: Some(Bytes::from(format!("key-{i}"))),
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

/// A produce request writing `records` to each (topic, partition).
pub fn produce_request(acks: i16, parts: &[(&str, i32, Bytes)]) -> ProduceRequest {
    let mut request = ProduceRequest::default();
    request.acks = acks;
    request.timeout_ms = 10_000;
    for (topic, partition, records) in parts {
        let mut data = PartitionProduceData::default();
        data.index = *partition;
        data.records = Some(records.clone());
        match request
            .topic_data
            .iter_mut()
            .find(|t| t.name.0.as_str() == *topic)
        {
            Some(t) => t.partition_data.push(data),
            None => {
                let mut t = TopicProduceData::default();
                t.name = topic_name(topic);
                t.partition_data.push(data);
                request.topic_data.push(t);
            }
        }
    }
    request
}

/// (error code, base offset) for each partition of a produce response, in response order.
pub fn produce_results(response: &ProduceResponse) -> Vec<(i16, i64)> {
    response
        .responses
        .iter()
        .flat_map(|t| {
            t.partition_responses
                .iter()
                .map(|p| (p.error_code, p.base_offset))
        })
        .collect()
}

pub fn fetch_request(
    topic: &str,
    topic_id: Uuid,
    partition: i32,
    offset: i64,
    max_wait_ms: i32,
    min_bytes: i32,
) -> FetchRequest {
    let mut p = FetchPartition::default();
    p.partition = partition;
    p.fetch_offset = offset;
    p.partition_max_bytes = 1 << 20;
    let mut t = FetchTopic::default();
    t.topic = topic_name(topic);
    t.topic_id = topic_id;
    t.partitions = vec![p];
    let mut request = FetchRequest::default();
    request.max_wait_ms = max_wait_ms;
    request.min_bytes = min_bytes;
    request.max_bytes = 50 << 20;
    request.topics = vec![t];
    request
}

/// (offset, value) of every record in a fetch response's first partition.
pub fn fetched(response: &FetchResponse) -> Vec<(i64, String)> {
    let partition = &response.responses[0].partitions[0];
    assert_eq!(partition.error_code, 0, "fetch error");
    let mut records = partition.records.clone().unwrap_or_default();
    let mut out = Vec::new();
    for set in RecordBatchDecoder::decode_all(&mut records)
        .expect("fetched batches decode with valid CRCs")
    {
        for r in set.records {
            let value = String::from_utf8(r.value.map(|v| v.to_vec()).unwrap_or_default())
                .expect("utf-8 value");
            out.push((r.offset, value));
        }
    }
    out
}

pub async fn topic_id(client: &mut RawClient, name: &str) -> Uuid {
    let mut request = MetadataRequest::default();
    request.topics = None;
    let response = client.call(12, &request).await;
    response
        .topics
        .iter()
        .find(|t| t.name.as_ref().map(|n| n.0.as_str()) == Some(name))
        .expect("topic listed")
        .topic_id
}

/// A batch built by hand around an arbitrary records section, with a correct CRC: for contents
/// no encoder would write. Base timestamp 1,000; `codec` goes into the attributes.
pub fn raw_batch(codec: u8, record_count: i32, last_offset_delta: i32, records: &[u8]) -> Bytes {
    let mut batch = Vec::with_capacity(61 + records.len());
    batch.extend_from_slice(&0i64.to_be_bytes());
    batch.extend_from_slice(&((49 + records.len()) as i32).to_be_bytes());
    batch.extend_from_slice(&(-1i32).to_be_bytes()); // partition leader epoch
    batch.push(2); // magic
    batch.extend_from_slice(&0u32.to_be_bytes()); // crc, below
    batch.extend_from_slice(&i16::from(codec).to_be_bytes());
    batch.extend_from_slice(&last_offset_delta.to_be_bytes());
    batch.extend_from_slice(&1_000i64.to_be_bytes()); // base timestamp
    batch.extend_from_slice(&1_000i64.to_be_bytes()); // max timestamp
    batch.extend_from_slice(&(-1i64).to_be_bytes()); // producer id
    batch.extend_from_slice(&(-1i16).to_be_bytes()); // producer epoch
    batch.extend_from_slice(&(-1i32).to_be_bytes()); // base sequence
    batch.extend_from_slice(&record_count.to_be_bytes());
    batch.extend_from_slice(records);
    let crc = crc32c::crc32c(&batch[21..]);
    batch[17..21].copy_from_slice(&crc.to_be_bytes());
    Bytes::from(batch)
}

/// One record in the v2 encoding, length prefix included.
pub fn raw_record(offset_delta: i32, key: Option<&[u8]>, value: Option<&[u8]>) -> Vec<u8> {
    fn varint(value: i64, out: &mut Vec<u8>) {
        let mut raw = ((value << 1) ^ (value >> 63)) as u64;
        while raw >= 0x80 {
            out.push((raw as u8) | 0x80);
            raw >>= 7;
        }
        out.push(raw as u8);
    }
    let mut body = vec![0u8]; // attributes
    varint(0, &mut body); // timestamp delta
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
    varint(0, &mut body); // no headers
    let mut record = Vec::new();
    varint(body.len() as i64, &mut record);
    record.extend_from_slice(&body);
    record
}
