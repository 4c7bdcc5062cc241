use super::*;

fn at(topic: TopicId, partition: u32) -> PartitionRef {
    PartitionRef {
        topic_id: topic,
        partition,
    }
}

fn with_ts(mut batch: BatchCommit, max_timestamp: i64) -> BatchCommit {
    batch.max_timestamp = max_timestamp;
    batch
}

/// One commit (one object, one entry) of `count` offsets and `len` bytes with this max
/// timestamp, on partition 0.
fn flush(state: &mut ControllerState, t: TopicId, len: u32, count: u32, ts: i64) -> u64 {
    let result = commit_at(
        state,
        ts.max(T0),
        vec![chunk(t, 0, 0, vec![with_ts(plain(len, count), ts)])],
    );
    result.object_id
}

fn set_config(state: &mut ControllerState, t: TopicId, key: &str, value: &str) {
    let outcome = run(
        state,
        AlterTopicConfigs(vec![TopicConfigChange {
            topic: t,
            set: vec![(key.into(), value.into())],
            delete: vec![],
        }]),
    );
    assert_eq!(outcome, vec![Ok(())]);
}

fn enforce(state: &mut ControllerState, now: i64, t: TopicId) -> Truncation {
    let mut answers = run(
        state,
        EnforceRetention {
            now_ms: now,
            partitions: vec![at(t, 0)],
        },
    );
    answers.remove(0).expect("partition exists")
}

#[test]
fn time_retention_drops_whole_entries_older_than_retention_ms() {
    let (mut state, t) = state_with_topic(1);
    set_config(&mut state, t, "retention.ms", &HOUR.to_string());
    let first = flush(&mut state, t, 100, 5, T0);
    flush(&mut state, t, 100, 5, T0 + 30 * 60_000);
    flush(&mut state, t, 100, 5, T0 + 2 * HOUR);

    // At T0 + 1h the first entry is exactly one hour old: not yet older than retention.
    assert_eq!(enforce(&mut state, T0 + HOUR, t).dropped_entries, 0);
    let cut = enforce(&mut state, T0 + HOUR + 1, t);
    assert_eq!(
        cut,
        Truncation {
            log_start_offset: 5,
            dropped_entries: 1,
            dropped_bytes: 100
        }
    );
    let log = partition(&state, t, 0);
    assert_eq!(log.log_start_offset(), 5);
    assert_eq!(log.size_bytes(), 200);
    assert_eq!(log.entries().next().map(|e| e.base_offset), Some(5));
    // The first object lost its only entry and waits for the collector.
    let unreferenced: Vec<(u64, i64)> = state
        .unreferenced_objects()
        .map(|(id, _, since)| (id, since))
        .collect();
    assert_eq!(unreferenced, vec![(first, T0 + HOUR + 1)]);

    // Later everything expires; the log start reaches the high watermark.
    let all = enforce(&mut state, T0 + 10 * HOUR, t);
    assert_eq!(all.log_start_offset, 15);
    assert_eq!(partition(&state, t, 0).entries().count(), 0);
    assert_eq!(partition(&state, t, 0).high_watermark(), 15);
    assert_eq!(state.unreferenced_object_count(), 3);
}

#[test]
fn retention_stops_at_the_first_entry_it_keeps_even_if_later_ones_are_older() {
    let (mut state, t) = state_with_topic(1);
    set_config(&mut state, t, "retention.ms", &HOUR.to_string());
    flush(&mut state, t, 100, 1, T0 + 5 * HOUR); // a producer clock ahead
    flush(&mut state, t, 100, 1, T0);
    assert_eq!(enforce(&mut state, T0 + 3 * HOUR, t).dropped_entries, 0);
}

#[test]
fn size_retention_keeps_at_least_retention_bytes() {
    let (mut state, t) = state_with_topic(1);
    set_config(&mut state, t, "retention.bytes", "250");
    set_config(&mut state, t, "retention.ms", "-1");
    for _ in 0..4 {
        flush(&mut state, t, 100, 2, T0);
    }
    // 400 bytes: dropping one entry leaves 300 >= 250, dropping two would leave 200 < 250.
    let cut = enforce(&mut state, T0, t);
    assert_eq!((cut.dropped_entries, cut.log_start_offset), (1, 2));
    assert_eq!(partition(&state, t, 0).size_bytes(), 300);
    assert_eq!(enforce(&mut state, T0, t).dropped_entries, 0);
}

#[test]
fn unlimited_retention_and_compact_only_topics_keep_everything() {
    let (mut state, t) = state_with_topic(1);
    set_config(&mut state, t, "retention.ms", "-1");
    flush(&mut state, t, 100, 1, T0 - 1000 * DAY);
    assert_eq!(enforce(&mut state, T0, t).dropped_entries, 0);

    set_config(&mut state, t, "retention.ms", "1");
    set_config(&mut state, t, "cleanup.policy", "compact");
    assert_eq!(enforce(&mut state, T0, t).dropped_entries, 0);
    set_config(&mut state, t, "cleanup.policy", "compact,delete");
    assert_eq!(enforce(&mut state, T0, t).dropped_entries, 1);
}

#[test]
fn topics_without_their_own_retention_follow_the_cluster_defaults() {
    let (mut state, t) = state_with_topic(1);
    flush(&mut state, t, 100, 1, T0);
    // Kafka's default: 7 days.
    assert_eq!(enforce(&mut state, T0 + 6 * DAY, t).dropped_entries, 0);
    run(
        &mut state,
        SetLogDefaults(LogDefaults {
            retention_ms: DAY,
            retention_bytes: -1,
        }),
    );
    assert_eq!(state.log_defaults().retention_ms, DAY);
    assert_eq!(enforce(&mut state, T0 + 2 * DAY, t).dropped_entries, 1);
}

#[test]
fn dynamic_cluster_defaults_beat_the_flags_and_lose_to_the_topic() {
    let (mut state, t) = state_with_topic(1);
    let alter = |state: &mut ControllerState, key: &str, value: &str| {
        let done = run(
            state,
            AlterBrokerConfigs {
                broker: None,
                set: vec![(key.into(), value.into())],
                delete: vec![],
            },
        );
        assert_eq!(done, Ok(()));
    };
    run(
        &mut state,
        SetLogDefaults(LogDefaults {
            retention_ms: 10 * DAY,
            retention_bytes: -1,
        }),
    );
    flush(&mut state, t, 100, 1, T0);
    flush(&mut state, t, 100, 1, T0 + 3 * DAY);
    alter(&mut state, "log.retention.ms", &(2 * DAY).to_string());
    assert_eq!(enforce(&mut state, T0 + 4 * DAY, t).dropped_entries, 1);
    // A cluster-wide compact policy stops deletion for topics without their own policy.
    alter(&mut state, "log.cleanup.policy", "compact");
    assert_eq!(enforce(&mut state, T0 + 9 * DAY, t).dropped_entries, 0);
    set_config(&mut state, t, "cleanup.policy", "delete");
    assert_eq!(enforce(&mut state, T0 + 9 * DAY, t).dropped_entries, 1);
}

#[test]
fn delete_records_moves_the_start_inside_an_entry_and_drops_only_whole_ones() {
    let (mut state, t) = state_with_topic(2);
    flush(&mut state, t, 100, 10, T0); // offsets 0..=9
    flush(&mut state, t, 100, 10, T0); // offsets 10..=19
    let answers = run(
        &mut state,
        DeleteRecords {
            now_ms: T0,
            partitions: vec![
                RecordDeletion {
                    topic_id: t,
                    partition: 0,
                    offset: 15,
                },
                RecordDeletion {
                    topic_id: t,
                    partition: 1,
                    offset: 1,
                },
                RecordDeletion {
                    topic_id: t,
                    partition: 7,
                    offset: 0,
                },
                RecordDeletion {
                    topic_id: topic_id(99),
                    partition: 0,
                    offset: 0,
                },
            ],
        },
    );
    assert_eq!(
        answers,
        vec![
            Ok(Truncation {
                log_start_offset: 15,
                dropped_entries: 1,
                dropped_bytes: 100
            }),
            Err(LogError::OffsetOutOfRange {
                offset: 1,
                high_watermark: 0
            }),
            Err(LogError::UnknownTopicOrPartition),
            Err(LogError::UnknownTopicOrPartition),
        ]
    );
    let log = partition(&state, t, 0);
    assert_eq!(log.log_start_offset(), 15);
    assert_eq!(
        log.entries().map(|e| e.base_offset).collect::<Vec<_>>(),
        vec![10]
    );

    // Backwards is a no-op answered with the current start; -1 means the high watermark.
    let again = run(
        &mut state,
        DeleteRecords {
            now_ms: T0,
            partitions: vec![
                RecordDeletion {
                    topic_id: t,
                    partition: 0,
                    offset: 3,
                },
                RecordDeletion {
                    topic_id: t,
                    partition: 0,
                    offset: DELETE_TO_HIGH_WATERMARK,
                },
            ],
        },
    );
    assert_eq!(again[0].as_ref().map(|t| t.log_start_offset), Ok(15));
    assert_eq!(again[1].as_ref().map(|t| t.log_start_offset), Ok(20));
    assert_eq!(partition(&state, t, 0).entries().count(), 0);
    assert_eq!(partition(&state, t, 0).size_bytes(), 0);
}

#[test]
fn a_shared_object_is_unreferenced_only_when_its_last_partition_lets_go() {
    let (mut state, t) = state_with_topic(2);
    let shared = commit(
        &mut state,
        vec![
            chunk(t, 0, 0, vec![plain(100, 1)]),
            chunk(t, 1, 100, vec![plain(100, 1)]),
        ],
    );
    let delete = |p: u32| DeleteRecords {
        now_ms: T0 + i64::from(p),
        partitions: vec![RecordDeletion {
            topic_id: t,
            partition: p,
            offset: -1,
        }],
    };
    run(&mut state, delete(0));
    assert_eq!(state.unreferenced_object_count(), 0);
    assert_eq!(
        state.object(shared.object_id).map(|o| o.live_entries),
        Some(1)
    );
    run(&mut state, delete(1));
    let unreferenced: Vec<(u64, i64)> = state
        .unreferenced_objects()
        .map(|(id, _, since)| (id, since))
        .collect();
    assert_eq!(unreferenced, vec![(shared.object_id, T0 + 1)]);

    // Forgetting removes it and its bytes from the totals.
    let before = state.stored_bytes();
    run(&mut state, ForgetObjects(vec![shared.object_id]));
    assert_eq!(state.object(shared.object_id), None);
    assert_eq!(state.stored_bytes(), before - OBJECT_SIZE);
    assert_eq!(state.unreferenced_object_count(), 0);
}

#[test]
fn list_offsets_max_timestamp_moves_on_when_its_entry_is_dropped() {
    let (mut state, t) = state_with_topic(1);
    flush(&mut state, t, 100, 2, T0 + 50);
    flush(&mut state, t, 100, 2, T0 + 20);
    flush(&mut state, t, 100, 2, T0 + 30);
    assert_eq!(
        partition(&state, t, 0)
            .max_timestamp()
            .map(|m| m.batch_base_offset),
        Some(0)
    );
    run(
        &mut state,
        DeleteRecords {
            now_ms: T0,
            partitions: vec![RecordDeletion {
                topic_id: t,
                partition: 0,
                offset: 3,
            }],
        },
    );
    let max = partition(&state, t, 0).max_timestamp().expect("a max");
    assert_eq!((max.timestamp, max.batch_base_offset), (T0 + 30, 4));
}

#[test]
fn retention_state_survives_serialisation() {
    let (mut state, t) = state_with_topic(1);
    flush(&mut state, t, 100, 2, T0);
    flush(&mut state, t, 100, 2, T0);
    run(
        &mut state,
        DeleteRecords {
            now_ms: T0,
            partitions: vec![RecordDeletion {
                topic_id: t,
                partition: 0,
                offset: 2,
            }],
        },
    );
    let bytes = postcard::to_allocvec(&state).expect("encodes");
    let back: ControllerState = postcard::from_bytes(&bytes).expect("decodes");
    assert_eq!(back, state);
    assert_eq!(back.unreferenced_object_count(), 1);
}
