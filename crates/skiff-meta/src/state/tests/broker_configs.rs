use super::*;
use crate::broker_config::{BrokerConfigError, ConfigSource};
use crate::state::ControllerStateV7;

fn alter(
    state: &mut ControllerState,
    broker: Option<i32>,
    set: &[(&str, &str)],
    delete: &[&str],
) -> Result<(), BrokerConfigError> {
    run(
        state,
        AlterBrokerConfigs {
            broker,
            set: set
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            delete: delete.iter().map(|k| k.to_string()).collect(),
        },
    )
}

#[test]
fn cluster_default_applies_to_topics_without_an_override() {
    let (mut state, t) = state_with_topic(1);
    let before = state
        .topic(&t)
        .unwrap()
        .config
        .effective(state.topic_defaults(None));
    assert!(!before.cleanup_policy().compact);
    alter(
        &mut state,
        None,
        &[
            ("log.cleanup.policy", "compact"),
            ("log.retention.ms", "1000"),
        ],
        &[],
    )
    .unwrap();
    let topic = state.topic(&t).unwrap();
    let config = topic.config.effective(state.topic_defaults(None));
    assert!(config.cleanup_policy().compact);
    assert!(!config.cleanup_policy().delete);
    assert_eq!(config.retention_ms(), 1000);
    assert_eq!(
        config
            .resolve("retention.ms")
            .map(|(v, s)| (v.into_owned(), s)),
        Some(("1000".to_string(), ConfigSource::DynamicDefaultBroker))
    );
    // The topic's own override still wins.
    run(
        &mut state,
        AlterTopicConfigs(vec![TopicConfigChange {
            topic: t,
            set: vec![("retention.ms".into(), "5".into())],
            delete: vec![],
        }]),
    );
    let topic = state.topic(&t).unwrap();
    let config = topic.config.effective(state.topic_defaults(None));
    assert_eq!(config.retention_ms(), 5);
    assert_eq!(
        config.resolve("retention.ms").unwrap().1,
        ConfigSource::Topic
    );
}

#[test]
fn per_broker_override_beats_the_cluster_default_only_on_that_broker() {
    let (mut state, t) = state_with_topic(1);
    alter(&mut state, None, &[("message.max.bytes", "2000")], &[]).unwrap();
    alter(&mut state, Some(2), &[("message.max.bytes", "3000")], &[]).unwrap();
    let topic = state.topic(&t).unwrap();
    let on = |b| {
        topic
            .config
            .effective(state.topic_defaults(b))
            .max_message_bytes()
    };
    assert_eq!(on(Some(1)), 2000);
    assert_eq!(on(Some(2)), 3000);
    assert_eq!(on(None), 2000);
    let layers: Vec<_> = state
        .topic_defaults(Some(2))
        .layers("message.max.bytes")
        .into_iter()
        .map(|(v, s)| (v.into_owned(), s))
        .collect();
    assert_eq!(
        layers,
        vec![
            ("3000".to_string(), ConfigSource::DynamicBroker),
            ("2000".to_string(), ConfigSource::DynamicDefaultBroker),
            ("1048588".to_string(), ConfigSource::Default),
        ]
    );
    // Deleting the last override forgets the broker.
    alter(&mut state, Some(2), &[], &["message.max.bytes"]).unwrap();
    assert_eq!(state.broker_configs().brokers_with_overrides().count(), 0);
}

#[test]
fn static_retention_flag_sits_below_the_dynamic_default() {
    let (mut state, _) = state_with_topic(1);
    run(
        &mut state,
        SetLogDefaults(LogDefaults {
            retention_ms: DAY,
            retention_bytes: -1,
        }),
    );
    let source = |s: &ControllerState| {
        let (value, source) = s.topic_defaults(None).resolve("log.retention.ms").unwrap();
        (value.into_owned(), source)
    };
    assert_eq!(source(&state).1, ConfigSource::StaticBroker);
    assert_eq!(source(&state).0, DAY.to_string());
    alter(&mut state, None, &[("log.retention.ms", "60000")], &[]).unwrap();
    assert_eq!(source(&state).1, ConfigSource::DynamicDefaultBroker);
    alter(&mut state, None, &[], &["log.retention.ms"]).unwrap();
    assert_eq!(source(&state).1, ConfigSource::StaticBroker);
    assert_eq!(
        state
            .topic_defaults(None)
            .resolve("log.retention.bytes")
            .unwrap()
            .1,
        ConfigSource::Default
    );
}

#[test]
fn refused_changes_change_nothing() {
    let (mut state, _) = state_with_topic(1);
    alter(&mut state, None, &[("log.retention.ms", "1000")], &[]).unwrap();
    let before = state.clone();
    type Case<'a> = (
        Option<i32>,
        &'a [(&'a str, &'a str)],
        &'a [&'a str],
        &'a str,
    );
    let cases: Vec<Case> = vec![
        (
            None,
            &[("log.retention.ms", "5"), ("log.cleanup.policy", "shred")],
            &[],
            "log.cleanup.policy",
        ),
        (None, &[("no.such.config", "1")], &[], "no.such.config"),
        (
            None,
            &[("message.max.bytes", "-4")],
            &[],
            "message.max.bytes",
        ),
        (
            None,
            &[("log.cleaner.min.cleanable.ratio", "1.5")],
            &[],
            "log.cleaner.min.cleanable.ratio",
        ),
        (
            None,
            &[("log.retention.ms", "1")],
            &["log.retention.ms"],
            "log.retention.ms",
        ),
        (
            Some(1),
            &[("log.retention.ms", "1")],
            &[],
            "log.retention.ms",
        ),
        (Some(1), &[], &["broker.id"], "broker.id"),
    ];
    for (broker, set, delete, key) in cases {
        let error = alter(&mut state, broker, set, delete).unwrap_err();
        assert_eq!(error.key(), key, "{error}");
        assert!(error.to_string().contains(key), "{error}");
        assert_eq!(state, before, "{error}");
    }
    assert!(matches!(
        alter(
            &mut state,
            Some(1),
            &[("log.cleanup.policy", "compact")],
            &[]
        ),
        Err(BrokerConfigError::ClusterWideOnly { .. })
    ));
}

#[test]
fn values_are_stored_normalised() {
    let mut state = ControllerState::default();
    alter(
        &mut state,
        None,
        &[("log.cleanup.policy", " compact , delete ")],
        &[],
    )
    .unwrap();
    assert_eq!(
        state
            .broker_configs()
            .cluster()
            .get("log.cleanup.policy")
            .map(String::as_str),
        Some("compact,delete")
    );
}

#[test]
fn snapshot_round_trip_keeps_broker_configs() {
    let (mut state, _) = state_with_topic(1);
    alter(&mut state, None, &[("log.cleanup.policy", "compact")], &[]).unwrap();
    alter(&mut state, Some(3), &[("message.max.bytes", "4096")], &[]).unwrap();
    let bytes = postcard::to_allocvec(&state).expect("encodes");
    let back: ControllerState = postcard::from_bytes(&bytes).expect("decodes");
    assert_eq!(back, state);
    assert_eq!(back.broker_configs().broker(3).len(), 1);
}

#[test]
fn format_7_snapshot_loads_without_broker_configs() {
    let (mut state, _) = state_with_topic(2);
    run(
        &mut state,
        AlterTopicConfigs(vec![TopicConfigChange {
            topic: topic_id(1),
            set: vec![("retention.ms".into(), "77".into())],
            delete: vec![],
        }]),
    );
    // Format 8 appended the broker configs (two empty maps, one byte each) to format 7.
    let bytes = postcard::to_allocvec(&state).expect("encodes");
    let (v7_bytes, tail) = bytes.split_at(bytes.len() - 2);
    assert_eq!(tail, [0, 0]);
    let v7: ControllerStateV7 = postcard::from_bytes(v7_bytes).expect("decodes as format 7");
    let loaded = ControllerState::from(v7);
    assert_eq!(loaded, state);
    assert!(loaded.broker_configs().cluster().is_empty());
}
