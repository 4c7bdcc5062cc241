//! A fuzz harness over the request decoder that runs on stable Rust (cargo-fuzz needs nightly):
//! valid requests of every API and version we serve, mutated the ways hostile or broken
//! clients mangle bytes (bit flips, extreme integers in length and count fields, cut, spliced
//! and grown frames), fed to `decode_request`, which must answer or refuse every one without
//! panicking. Decoded requests are encoded again, which must not panic either.
//!
//! CI runs a fixed budget of inputs from a fixed seed. By hand, for an hour:
//!
//! ```sh
//! SKIFF_FUZZ_SECONDS=3600 SKIFF_FUZZ_SEED=$RANDOM cargo test --release -p skiff-protocol --test fuzz_decoder
//! ```
//!
//! A panic prints the seed, the iteration and the input's path under the system temp dir;
//! copy that file into `tests/fuzz_regressions/` and it is replayed by every run from then on.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use skiff_protocol::kafka_protocol::messages::*;
use skiff_protocol::kafka_protocol::protocol::{Encodable, Request, StrBytes};
use skiff_protocol::{SUPPORTED_APIS, decode_request};

const DEFAULT_ITERATIONS: u64 = 200_000;
const DEFAULT_SEED: u64 = 0x5EED_0023;

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Values that make length, count and size fields interesting.
const EXTREMES: [i32; 10] = [0, -1, -2, 1, 127, 128, 0x7fff, 0xffff, i32::MAX, i32::MIN];

fn mutate(rng: &mut Rng, input: &[u8], corpus: &[Vec<u8>]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..=rng.below(4) {
        let len = out.len();
        match rng.below(8) {
            0 if len > 0 => {
                let at = rng.below(len);
                out[at] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let at = rng.below(len);
                out[at] = [0x00, 0xff, 0x7f, 0x80, 0x01][rng.below(5)];
            }
            2 if len >= 4 => {
                let at = rng.below(len - 3);
                let value = EXTREMES[rng.below(EXTREMES.len())].to_be_bytes();
                out[at..at + 4].copy_from_slice(&value);
            }
            3 if len >= 2 => {
                let at = rng.below(len - 1);
                let value = (EXTREMES[rng.below(EXTREMES.len())] as i16).to_be_bytes();
                out[at..at + 2].copy_from_slice(&value);
            }
            4 => out.truncate(rng.below(len + 1)),
            5 => {
                let donor = &corpus[rng.below(corpus.len())];
                if !donor.is_empty() {
                    let from = rng.below(donor.len());
                    let to = from + rng.below(donor.len() - from + 1);
                    let at = rng.below(len + 1);
                    out.splice(at..at, donor[from..to].iter().copied());
                }
            }
            6 if len > 0 => {
                let from = rng.below(len);
                let to = from + rng.below(len - from + 1);
                out.drain(from..to);
            }
            _ => {
                let at = rng.below(len + 1);
                let noise: Vec<u8> = (0..rng.below(16)).map(|_| rng.next() as u8).collect();
                out.splice(at..at, noise);
            }
        }
    }
    out
}

fn frame<R: Request + Encodable>(version: i16, body: &R) -> Option<Vec<u8>> {
    let key = ApiKey::try_from(R::KEY).ok()?;
    let mut buf = BytesMut::new();
    RequestHeader::default()
        .with_request_api_key(R::KEY)
        .with_request_api_version(version)
        .with_correlation_id(42)
        .with_client_id(Some(StrBytes::from_static_str("fuzz")))
        .encode(&mut buf, key.request_header_version(version))
        .ok()?;
    body.encode(&mut buf, version).ok()?;
    Some(buf.to_vec())
}

fn versions(key: i16) -> Vec<i16> {
    SUPPORTED_APIS
        .iter()
        .find(|api| api.key as i16 == key)
        .map(|api| (api.min..=api.max).collect())
        .unwrap_or_default()
}

/// Every served API at every served version, empty and with some content.
fn corpus() -> Vec<Vec<u8>> {
    let mut corpus = Vec::new();
    macro_rules! seeds {
        ($($request:expr),* $(,)?) => {$(
            let request = $request;
            for version in versions(request_key(&request)) {
                corpus.extend(frame(version, &request));
            }
        )*};
    }
    fn request_key<R: Request>(_: &R) -> i16 {
        R::KEY
    }
    let topic = || TopicName(StrBytes::from_static_str("orders"));
    let mut produce = ProduceRequest::default();
    let mut data = produce_request::TopicProduceData::default();
    data.name = topic();
    let mut partition = produce_request::PartitionProduceData::default();
    partition.records = Some(Bytes::from_static(&[0u8; 70]));
    data.partition_data = vec![partition];
    produce.topic_data = vec![data];
    let mut fetch = FetchRequest::default();
    let mut fetch_topic = fetch_request::FetchTopic::default();
    fetch_topic.topic = topic();
    fetch_topic.partitions = vec![fetch_request::FetchPartition::default(); 2];
    fetch.topics = vec![fetch_topic];
    let mut metadata = MetadataRequest::default();
    let mut wanted = metadata_request::MetadataRequestTopic::default();
    wanted.name = Some(topic());
    metadata.topics = Some(vec![wanted]);
    let mut create = CreateTopicsRequest::default();
    let mut creatable = create_topics_request::CreatableTopic::default();
    creatable.name = topic();
    creatable.configs = vec![create_topics_request::CreatableTopicConfig::default()];
    create.topics = vec![creatable];
    let mut join = JoinGroupRequest::default();
    join.protocols = vec![join_group_request::JoinGroupRequestProtocol::default()];
    let mut commit = OffsetCommitRequest::default();
    let mut commit_topic = offset_commit_request::OffsetCommitRequestTopic::default();
    commit_topic.partitions = vec![offset_commit_request::OffsetCommitRequestPartition::default()];
    commit.topics = vec![commit_topic];
    seeds!(
        produce,
        fetch,
        metadata,
        create,
        join,
        commit,
        ApiVersionsRequest::default(),
        ListOffsetsRequest::default(),
        DeleteTopicsRequest::default(),
        CreatePartitionsRequest::default(),
        InitProducerIdRequest::default(),
        DescribeConfigsRequest::default(),
        IncrementalAlterConfigsRequest::default(),
        DescribeClusterRequest::default(),
        FindCoordinatorRequest::default(),
        SyncGroupRequest::default(),
        HeartbeatRequest::default(),
        LeaveGroupRequest::default(),
        OffsetFetchRequest::default(),
        DescribeGroupsRequest::default(),
        ListGroupsRequest::default(),
        DeleteGroupsRequest::default(),
        OffsetDeleteRequest::default(),
    );
    corpus
}

fn check(input: &[u8]) {
    if let Ok(request) = decode_request(Bytes::copy_from_slice(input)) {
        let mut again = BytesMut::new();
        let _ = request.body.encode(&mut again, request.api_version);
    }
}

fn regressions() -> Vec<(PathBuf, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz_regressions");
    let mut found: Vec<_> = std::fs::read_dir(&dir)
        .map(|entries| entries.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    found.sort();
    found
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "bin"))
        .filter_map(|p| std::fs::read(&p).ok().map(|bytes| (p, bytes)))
        .collect()
}

fn env_number(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

#[test]
fn the_request_decoder_survives_mutated_requests() {
    for (path, input) in regressions() {
        if catch_unwind(|| check(&input)).is_err() {
            panic!("regression input {} panics again", path.display());
        }
    }
    let corpus = corpus();
    assert!(
        corpus.len() > 100,
        "every API and version seeds the corpus: {}",
        corpus.len()
    );
    eprintln!("{} seed frames", corpus.len());
    for seed in &corpus {
        let decoded = decode_request(Bytes::copy_from_slice(seed));
        assert!(decoded.is_ok(), "seed frames decode: {:?}", decoded.err());
    }
    let seed = env_number("SKIFF_FUZZ_SEED").unwrap_or(DEFAULT_SEED);
    let until = env_number("SKIFF_FUZZ_SECONDS").map(|s| Instant::now() + Duration::from_secs(s));
    let iterations = env_number("SKIFF_FUZZ_ITERATIONS").unwrap_or(DEFAULT_ITERATIONS);
    let mut rng = Rng(seed | 1);
    let mut done = 0u64;
    while until.map_or(done < iterations, |until| Instant::now() < until) {
        let base = &corpus[rng.below(corpus.len())];
        let input = mutate(&mut rng, base, &corpus);
        if catch_unwind(AssertUnwindSafe(|| check(&input))).is_err() {
            let path = std::env::temp_dir().join(format!("skiff-fuzz-decoder-{seed}-{done}.bin"));
            let _ = std::fs::write(&path, &input);
            panic!(
                "seed {seed}, iteration {done}: decode_request panicked; input saved to {}",
                path.display()
            );
        }
        done += 1;
    }
    eprintln!("fuzzed the request decoder with {done} inputs from seed {seed}");
}
