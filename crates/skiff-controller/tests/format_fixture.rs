//! A data directory written by an earlier build (snapshot + Raft log holding every command
//! kind) must still start and give exactly the state it had. `fixtures/format-v3/` was written
//! by `write_fixture` below at commit 65eef63 (before the metadata model moved to skiff-meta);
//! `expected-state.txt` is that state's Debug form.
//!
//! To write a new fixture after a deliberate format change:
//! `SKIFF_WRITE_FIXTURE=<dir> cargo nextest run -p skiff-controller --test format_fixture --run-ignored only`

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use skiff_controller::*;
use skiff_meta::*;

const T0: i64 = 1_700_000_000_000;
const WAIT: Duration = Duration::from_secs(20);

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/format-v3")
}

fn config(dir: &Path, snapshot_logs_since_last: u64) -> ControllerConfig {
    ControllerConfig {
        data_dir: dir.to_path_buf(),
        snapshot_logs_since_last,
        ..ControllerConfig::default()
    }
}

fn topic(n: u128) -> TopicId {
    uuid::Uuid::from_u128(0xf1c5_0000 + n)
}

fn batch(producer_id: i64, epoch: i16, base_sequence: i32) -> BatchCommit {
    BatchCommit {
        len: 100,
        offset_count: 3,
        record_count: 3,
        max_timestamp: T0 + 7,
        producer_id,
        producer_epoch: epoch,
        base_sequence,
    }
}

fn segment(n: u64, chunks: Vec<ChunkCommit>) -> Command {
    Command::CommitSegment(SegmentCommit {
        object_key: format!("segments/2026-12-06/1-{n:04}.seg"),
        object_size: 4096,
        broker_id: 1,
        append_time_ms: T0 + 1000 * i64::try_from(n).unwrap_or(0),
        chunks,
    })
}

fn chunk(topic_id: TopicId, partition: u32, batches: Vec<BatchCommit>) -> ChunkCommit {
    ChunkCommit {
        topic_id,
        partition,
        position: 12,
        batches,
    }
}

fn broker(id: i32) -> BrokerInfo {
    BrokerInfo {
        id,
        host: format!("broker-{id}.local"),
        port: 9092,
        rack: (id == 2).then(|| "rack-b".to_string()),
    }
}

fn member(id: &str) -> StoredMember {
    StoredMember {
        member_id: id.into(),
        group_instance_id: (id == "m-2").then(|| "instance-2".to_string()),
        client_id: "client".into(),
        client_host: "/127.0.0.1".into(),
        session_timeout_ms: 10_000,
        rebalance_timeout_ms: 30_000,
        subscription: vec![0, 1, 2, 3],
        assignment: vec![4, 5, 6],
    }
}

fn offsets(group: &str, topic_id: TopicId, partition: u32, offset: i64) -> GroupOffsets {
    GroupOffsets {
        group_id: group.into(),
        commit_time_ms: T0 + offset,
        partitions: vec![PartitionOffset {
            topic_id,
            partition,
            offset,
            leader_epoch: -1,
            metadata: format!("meta {offset}"),
        }],
    }
}

/// Every command kind, in an order where each one changes something.
fn first_half() -> Vec<Command> {
    vec![
        Command::RegisterBroker(RegisterBroker(broker(1))),
        Command::RegisterBroker(RegisterBroker(broker(2))),
        Command::RegisterBroker(RegisterBroker(broker(3))),
        Command::BrokerHeartbeat(BrokerHeartbeat {
            broker_id: 1,
            now_ms: T0,
        }),
        Command::CreateTopics(CreateTopics(vec![
            NewTopic {
                name: "orders".into(),
                id: topic(1),
                partitions: 3,
                configs: BTreeMap::from([
                    ("retention.ms".to_string(), "3600000".to_string()),
                    ("cleanup.policy".to_string(), "compact,delete".to_string()),
                ]),
                created_ms: T0,
            },
            NewTopic {
                name: "doomed".into(),
                id: topic(2),
                partitions: 1,
                configs: BTreeMap::new(),
                created_ms: T0,
            },
            NewTopic {
                name: "clicks".into(),
                id: topic(3),
                partitions: 2,
                configs: BTreeMap::from([(
                    "message.timestamp.type".to_string(),
                    "LogAppendTime".to_string(),
                )]),
                created_ms: T0,
            },
        ])),
        Command::InitProducerId(InitProducerId { current: None }),
        Command::InitProducerId(InitProducerId { current: None }),
        segment(
            1,
            vec![
                chunk(topic(1), 0, vec![batch(1000, 0, 0), batch(1000, 0, 3)]),
                chunk(topic(2), 0, vec![batch(-1, -1, -1)]),
                chunk(topic(3), 1, vec![batch(-1, -1, -1)]),
            ],
        ),
        segment(2, vec![chunk(topic(1), 1, vec![batch(1001, 0, 0)])]),
        Command::DeleteTopics(DeleteTopics(vec![topic(2)])),
        Command::CreatePartitions(CreatePartitions(vec![PartitionIncrease {
            topic: topic(3),
            total: 4,
        }])),
        Command::AlterTopicConfigs(AlterTopicConfigs(vec![TopicConfigChange {
            topic: topic(1),
            set: vec![("retention.bytes".into(), "1048576".into())],
            delete: vec!["retention.ms".into()],
        }])),
        Command::CommitOffsets(CommitOffsets(vec![offsets("legacy-group", topic(1), 0, 3)])),
        Command::StoreGroups(StoreGroups(vec![StoredGroup {
            group_id: "legacy-group".into(),
            protocol_type: "consumer".into(),
            generation: 2,
            protocol: Some("range".into()),
            leader: Some("m-1".into()),
            members: vec![member("m-1")],
            stored_at_ms: T0 + 5,
        }])),
    ]
}

fn second_half() -> Vec<Command> {
    vec![
        Command::InitProducerId(InitProducerId {
            current: Some((1000, 0)),
        }),
        segment(3, vec![chunk(topic(1), 0, vec![batch(1000, 1, 0)])]),
        Command::CommitOffsetsAsCoordinator(CommitOffsetsAsCoordinator {
            broker_id: 1,
            commits: vec![offsets("group-a", topic(1), 1, 2)],
        }),
        Command::StoreGroupsAsCoordinator(StoreGroupsAsCoordinator {
            broker_id: 1,
            groups: vec![StoredGroup {
                group_id: "group-a".into(),
                protocol_type: "consumer".into(),
                generation: 5,
                protocol: Some("cooperative-sticky".into()),
                leader: Some("m-1".into()),
                members: vec![member("m-1"), member("m-2")],
                stored_at_ms: T0 + 9,
            }],
        }),
        Command::CommitOffsets(CommitOffsets(vec![
            offsets("gone-group", topic(1), 0, 1),
            offsets("group-b", topic(3), 0, 1),
            offsets("group-b", topic(3), 1, 1),
        ])),
        Command::DeleteGroups(DeleteGroups(vec!["gone-group".into()])),
        Command::DeleteOffsets(DeleteOffsets(vec![GroupOffsetDeletion {
            group_id: "group-b".into(),
            partitions: vec![(topic(3), 1)],
        }])),
        Command::ExpireBroker(ExpireBroker {
            broker_id: 3,
            heartbeats_seen: 0,
        }),
        Command::UnregisterBroker(UnregisterBroker { broker_id: 2 }),
        Command::ForgetObjects(ForgetObjects(vec![1])),
        Command::BrokerHeartbeat(BrokerHeartbeat {
            broker_id: 1,
            now_ms: T0 + 60_000,
        }),
    ]
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "writes a new fixture; run by hand after a deliberate format change"]
async fn write_fixture() {
    let Some(out) = std::env::var_os("SKIFF_WRITE_FIXTURE") else {
        panic!("set SKIFF_WRITE_FIXTURE to the directory to write");
    };
    let out = PathBuf::from(out);
    let dir = tempfile::tempdir().expect("tempdir");
    let first = first_half();
    // A snapshot after the first half; the second half stays in the log only.
    let threshold = first.len() as u64;
    let controller = Controller::start(config(dir.path(), threshold))
        .await
        .expect("start");
    for cmd in first {
        controller.submit(cmd).await.expect("propose");
    }
    let mut metrics = controller.raft_metrics();
    tokio::time::timeout(WAIT, metrics.wait_for(|m| m.snapshot.is_some()))
        .await
        .expect("a snapshot within the deadline")
        .expect("raft running");
    // Restart with a high threshold so the second half stays in the log only.
    controller.shutdown().await.expect("shutdown");
    drop(controller);
    let controller = Controller::start(config(dir.path(), 10_000))
        .await
        .expect("restart");
    for cmd in second_half() {
        controller.submit(cmd).await.expect("propose");
    }
    let state = format!("{:#?}\n", *controller.state().read());
    controller.shutdown().await.expect("shutdown");
    drop(controller);
    copy_dir(dir.path(), &out.join("data"));
    std::fs::write(out.join("expected-state.txt"), state).expect("write state");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_dir_from_an_earlier_build_starts_with_the_same_state() {
    let fixture = fixture_dir();
    let expected =
        std::fs::read_to_string(fixture.join("expected-state.txt")).expect("expected state");
    let dir = tempfile::tempdir().expect("tempdir");
    copy_dir(&fixture.join("data"), dir.path());
    let controller = Controller::start(config(dir.path(), 10_000))
        .await
        .expect("start from the fixture");
    let m = controller.raft_metrics().borrow().clone();
    let snapshot = m.snapshot.expect("the fixture's snapshot was loaded");
    assert!(
        m.last_applied.is_some_and(|a| a.index > snapshot.index + 5),
        "entries after the snapshot were replayed from the fixture's log: {m:?}"
    );
    let (state, live_sets, derived_ok) = {
        let state = controller.state();
        let state = state.read();
        (
            format!("{:#?}\n", *state),
            state.live_history().epoch(),
            lifecycle_was_derived(&state),
        )
    };
    controller.shutdown().await.expect("shutdown");
    // Fields added to the state since the fixture was written are left out of the comparison
    // (they are checked below); every field the fixture has must be exactly as it was.
    let got = top_level_fields(&state);
    for (name, value) in top_level_fields(&expected) {
        let loaded = got.get(&name).map(String::as_str).unwrap_or("<missing>");
        assert!(
            loaded == value,
            "field {name} of the state loaded from the fixture differs from the one it was written with:\n{}",
            first_difference(&value, loaded)
        );
    }
    // Format 4's live broker history starts from the snapshot's brokers and records the
    // changes replayed from the log after it (an expiry, an unregistration).
    assert!(live_sets >= 2, "live broker history epoch {live_sets}");
    // Format 5's lifecycle indexes are derived from the fixture's objects.
    assert!(
        derived_ok,
        "the lifecycle indexes were not derived from the objects"
    );
}

/// The top-level fields of a `{:#?}` dump, by name, each with its whole (multi-line) value.
fn top_level_fields(dump: &str) -> std::collections::BTreeMap<String, String> {
    let mut fields = std::collections::BTreeMap::new();
    let mut current: Option<(String, String)> = None;
    for line in dump.lines() {
        let field = line
            .strip_prefix("    ")
            .filter(|rest| !rest.starts_with(' '))
            .and_then(|rest| rest.split_once(": "));
        match field {
            Some((name, value)) => {
                if let Some((name, value)) = current.take() {
                    fields.insert(name, value);
                }
                current = Some((name.to_string(), format!("{value}\n")));
            }
            // The struct's own closing brace belongs to no field.
            None if !line.starts_with("    ") => {}
            None => {
                if let Some((_, value)) = current.as_mut() {
                    value.push_str(line);
                    value.push('\n');
                }
            }
        }
    }
    if let Some((name, value)) = current {
        fields.insert(name, value);
    }
    fields
}

/// A state from before snapshot format 5 gets its unreferenced-object index and stored-bytes total from its
/// objects when loaded.
fn lifecycle_was_derived(state: &ControllerState) -> bool {
    let unreferenced: Vec<u64> = state.unreferenced_objects().map(|(id, _, _)| id).collect();
    let expected: Vec<u64> = state
        .objects()
        .filter(|(_, o)| o.live_entries == 0)
        .map(|(id, _)| id)
        .collect();
    let bytes: u64 = state.objects().map(|(_, o)| o.size).sum();
    bytes > 0 && unreferenced == expected && state.stored_bytes() == bytes
}

fn first_difference(expected: &str, got: &str) -> String {
    for (n, (e, g)) in expected.lines().zip(got.lines()).enumerate() {
        if e != g {
            return format!("line {}: expected `{e}`, got `{g}`", n + 1);
        }
    }
    format!(
        "lengths differ: expected {} lines, got {}",
        expected.lines().count(),
        got.lines().count()
    )
}
