use std::collections::BTreeMap;

use super::*;

/// The error's message, or "ok".
fn message<T>(result: &Result<T, TopicError>) -> String {
    match result {
        Ok(_) => "ok".to_string(),
        Err(e) => e.to_string(),
    }
}
use crate::state::MAX_PARTITIONS;

fn invalid_name(name: &str) -> String {
    let mut state = ControllerState::default();
    match create_topics(&mut state, vec![new_topic(name, topic_id(9), 1)]).remove(0) {
        Err(TopicError::InvalidName(problem)) => problem.to_string(),
        other => panic!("expected InvalidName for {name:?}, got {other:?}"),
    }
}

#[test]
fn created_topics_are_found_by_id_and_name_and_listed_by_name() {
    let mut state = ControllerState::default();
    let mut configs = BTreeMap::new();
    configs.insert("retention.ms".to_string(), "1000".to_string());
    let zeta = NewTopic {
        configs,
        ..new_topic("zeta", topic_id(1), 3)
    };
    let results = create_topics(&mut state, vec![zeta, new_topic("alpha", topic_id(2), 1)]);
    assert_eq!(results, vec![Ok(topic_id(1)), Ok(topic_id(2))]);

    let topic = state.topic_by_name("zeta").expect("zeta exists");
    assert_eq!(
        (topic.id, topic.partitions.len(), topic.created_ms),
        (topic_id(1), 3, T0)
    );
    assert_eq!(topic.config.retention_ms(), 1000);
    assert_eq!(
        state.topic(&topic_id(2)).map(|t| t.name.as_str()),
        Some("alpha")
    );
    let names: Vec<&str> = state.topics().map(|t| t.name.as_str()).collect();
    assert_eq!(names, vec!["alpha", "zeta"]);
    assert!(
        topic
            .partitions
            .iter()
            .all(|p| p.high_watermark() == 0 && p.log_start_offset() == 0)
    );
}

#[test]
fn duplicate_names_and_ids_are_rejected() {
    let (mut state, _) = state_with_topic(1);
    let results = create_topics(
        &mut state,
        vec![
            new_topic("t", topic_id(5), 1),
            new_topic("u", topic_id(1), 1),
            new_topic("v", topic_id(6), 1),
            new_topic("v", topic_id(7), 1),
        ],
    );
    assert_eq!(
        results,
        vec![
            Err(TopicError::AlreadyExists),
            Err(TopicError::AlreadyExists),
            Ok(topic_id(6)),
            Err(TopicError::AlreadyExists)
        ]
    );
    assert_eq!(state.topic_count(), 2);
    assert_eq!(state.topic_by_name("t").map(|t| t.id), Some(topic_id(1)));
}

#[test]
fn topic_names_follow_kafka_rules() {
    assert_eq!(invalid_name(""), "the name is empty");
    assert_eq!(invalid_name("."), "'.' is not allowed");
    assert_eq!(invalid_name(".."), "'..' is not allowed");
    assert_eq!(
        invalid_name(&"a".repeat(250)),
        "the name is 250 characters long; the limit is 249"
    );
    assert_eq!(
        invalid_name("my topic"),
        "'my topic' contains ' '; only ASCII letters, digits, '.', '_' and '-' are allowed"
    );
    assert!(invalid_name("caf\u{e9}").contains("contains '\u{e9}'"));
    assert!(invalid_name("a/b").contains("contains '/'"));

    let mut state = ControllerState::default();
    let long = "b".repeat(249);
    let results = create_topics(
        &mut state,
        vec![
            new_topic(&long, topic_id(1), 1),
            new_topic("A-z_0.9", topic_id(2), 1),
            new_topic("...", topic_id(3), 1),
        ],
    );
    assert!(results.iter().all(Result::is_ok), "{results:?}");
}

#[test]
fn partition_counts_must_be_between_1_and_100000() {
    let mut state = ControllerState::default();
    let results = create_topics(
        &mut state,
        vec![
            new_topic("zero", topic_id(1), 0),
            new_topic("huge", topic_id(2), MAX_PARTITIONS + 1),
        ],
    );
    assert_eq!(
        results[0],
        Err(TopicError::InvalidPartitions(
            PartitionCountError::OutOfRange {
                got: 0,
                max: 100_000
            }
        ))
    );
    assert_eq!(
        message(&results[0]),
        "invalid partition count: the partition count must be between 1 and 100000, got 0"
    );
    assert_eq!(
        message(&results[1]),
        "invalid partition count: the partition count must be between 1 and 100000, got 100001"
    );
    assert_eq!(state.topic_count(), 0);
    assert_eq!(
        create_topics(
            &mut state,
            vec![new_topic("max", topic_id(3), MAX_PARTITIONS)]
        ),
        vec![Ok(topic_id(3))]
    );
}

#[test]
fn invalid_configs_reject_the_topic() {
    let mut state = ControllerState::default();
    let mut configs = BTreeMap::new();
    configs.insert("compression.type".to_string(), "brotli".to_string());
    let results = create_topics(
        &mut state,
        vec![NewTopic {
            configs,
            ..new_topic("t", topic_id(1), 1)
        }],
    );
    assert!(
        matches!(&results[0], Err(TopicError::InvalidConfig(e)) if e.key == "compression.type")
    );
    assert!(state.topic_by_name("t").is_none());
}

#[test]
fn deleting_a_topic_releases_its_objects_and_name() {
    let (mut state, t) = state_with_topic(2);
    let other = topic_id(2);
    create_topics(&mut state, vec![new_topic("other", other, 1)]);
    let shared = commit(
        &mut state,
        vec![
            chunk(t, 0, 0, vec![plain(10, 1)]),
            chunk(other, 0, 10, vec![plain(10, 1)]),
        ],
    );
    let only_t = commit(&mut state, vec![chunk(t, 1, 0, vec![plain(10, 1)])]);
    assert_eq!(state.unreferenced_objects().count(), 0);

    let response = run(&mut state, DeleteTopics(vec![t, topic_id(99)]));
    assert_eq!(response, vec![Ok(()), Err(TopicError::UnknownTopic)]);
    assert!(state.topic(&t).is_none() && state.topic_by_name("t").is_none());
    assert_eq!(
        state.object(shared.object_id).map(|o| o.live_entries),
        Some(1)
    );
    let unreferenced: Vec<u64> = state.unreferenced_objects().map(|(id, _, _)| id).collect();
    assert_eq!(unreferenced, vec![only_t.object_id]);

    // The name is free again, under a new id, with a fresh log.
    assert_eq!(
        create_topics(&mut state, vec![new_topic("t", topic_id(3), 1)]),
        vec![Ok(topic_id(3))]
    );
    assert_eq!(partition(&state, topic_id(3), 0).high_watermark(), 0);
    // Commits still naming the deleted topic append nothing.
    let late = commit(&mut state, vec![chunk(t, 0, 0, vec![plain(10, 1)])]);
    assert_eq!(late.chunks, vec![ChunkOutcome::UnknownTopicOrPartition]);
}

#[test]
fn deleting_a_topic_drops_its_producer_state() {
    let (mut state, t) = state_with_topic(2);
    commit(
        &mut state,
        vec![
            chunk(t, 0, 0, vec![idem(7, 0, 0, 1)]),
            chunk(t, 1, 0, vec![idem(8, 0, 0, 1)]),
        ],
    );
    assert_eq!(state.producer_state_count(), 2);
    run(&mut state, DeleteTopics(vec![t]));
    assert_eq!(state.producer_state_count(), 0);
}

#[test]
fn partitions_only_grow() {
    let (mut state, t) = state_with_topic(2);
    commit(&mut state, vec![chunk(t, 1, 0, vec![plain(10, 4)])]);
    let grow = |total| PartitionIncrease { topic: t, total };
    let response = run(
        &mut state,
        CreatePartitions(vec![
            grow(5),
            grow(5),
            grow(3),
            grow(MAX_PARTITIONS + 1),
            PartitionIncrease {
                topic: topic_id(42),
                total: 9,
            },
        ]),
    );
    let results = response;
    assert_eq!(results[0], Ok(()));
    assert_eq!(
        results[1],
        Err(TopicError::InvalidPartitions(
            PartitionCountError::CannotShrink { current: 5, got: 5 }
        ))
    );
    assert_eq!(
        message(&results[2]),
        "invalid partition count: the topic has 5 partitions and the count can only grow, got 3"
    );
    assert!(message(&results[3]).contains("100000"));
    assert_eq!(results[4], Err(TopicError::UnknownTopic));

    assert_eq!(state.topic(&t).map(|t| t.partitions.len()), Some(5));
    assert_eq!(
        partition(&state, t, 1).high_watermark(),
        4,
        "existing data kept"
    );
    let outcomes = commit_batches(&mut state, t, 4, vec![plain(10, 2)]);
    assert_eq!(outcomes, vec![appended(0)]);
}

#[test]
fn config_changes_apply_per_topic_all_or_nothing() {
    let (mut state, t) = state_with_topic(1);
    let change = |set: &[(&str, &str)], delete: &[&str]| TopicConfigChange {
        topic: t,
        set: set
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        delete: delete.iter().map(|k| k.to_string()).collect(),
    };
    let response = run(
        &mut state,
        AlterTopicConfigs(vec![
            change(
                &[("retention.ms", "5000"), ("max.message.bytes", "2048")],
                &[],
            ),
            change(
                &[("retention.bytes", "1"), ("max.message.bytes", "big")],
                &[],
            ),
            TopicConfigChange {
                topic: topic_id(77),
                set: vec![],
                delete: vec![],
            },
            change(&[], &["retention.ms"]),
        ]),
    );
    let results = response;
    assert_eq!(results[0], Ok(()));
    assert_eq!(
        message(&results[1]),
        "invalid topic config max.message.bytes: 'big' is not a 32-bit whole number"
    );
    assert_eq!(results[2], Err(TopicError::UnknownTopic));
    assert_eq!(results[3], Ok(()));
    let config = &state.topic(&t).expect("topic").config;
    assert_eq!(config.max_message_bytes(), 2048);
    assert_eq!(
        config.retention_bytes(),
        -1,
        "failed change left nothing behind"
    );
    assert_eq!(
        config.retention_ms(),
        604_800_000,
        "deleted override falls back to the default"
    );
}

#[test]
fn cluster_id_is_set_once_and_brokers_upsert_in_id_order() {
    let mut state = ControllerState::default();
    assert_eq!(state.cluster_id(), None);
    assert_eq!(
        run(
            &mut state,
            InitCluster {
                cluster_id: "first".into()
            }
        ),
        ()
    );
    run(
        &mut state,
        InitCluster {
            cluster_id: "second".into(),
        },
    );
    assert_eq!(state.cluster_id(), Some("first"));

    let broker = |id, host: &str| BrokerInfo {
        id,
        host: host.into(),
        port: 9092,
        rack: None,
    };
    run(&mut state, RegisterBroker(broker(3, "c")));
    run(&mut state, RegisterBroker(broker(1, "a")));
    run(
        &mut state,
        RegisterBroker(BrokerInfo {
            rack: Some("r1".into()),
            ..broker(3, "c2")
        }),
    );
    let brokers: Vec<(i32, &str)> = state.brokers().map(|b| (b.id, b.host.as_str())).collect();
    assert_eq!(brokers, vec![(1, "a"), (3, "c2")]);
    assert_eq!(state.broker(3).and_then(|b| b.rack.as_deref()), Some("r1"));
}
