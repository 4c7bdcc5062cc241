use std::collections::BTreeMap;

use super::*;

fn overrides(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn config_error(result: Result<TopicConfig, ConfigError>) -> String {
    match result {
        Err(e) => e.to_string(),
        other => panic!("expected a config error, got {other:?}"),
    }
}

#[test]
fn table_is_sorted_unique_and_defaults_validate() {
    for pair in TOPIC_CONFIGS.windows(2) {
        assert!(
            pair[0].name < pair[1].name,
            "{} must sort before {}",
            pair[0].name,
            pair[1].name
        );
    }
    for def in TOPIC_CONFIGS {
        assert_eq!(config_def(def.name).map(|d| d.name), Some(def.name));
        let normalised = def.normalise(def.default);
        assert_eq!(
            normalised.as_deref(),
            Ok(def.default),
            "default of {} must validate",
            def.name
        );
    }
    assert_eq!(TOPIC_CONFIGS.len(), 35);
}

#[test]
fn defaults_match_kafka() {
    let config = TopicConfig::default();
    assert_eq!(config.max_message_bytes(), 1_048_588);
    assert_eq!(config.timestamp_type(), TimestampType::CreateTime);
    assert_eq!(config.retention_ms(), 604_800_000);
    assert_eq!(config.retention_bytes(), -1);
    assert_eq!(
        config.cleanup_policy(),
        CleanupPolicy {
            delete: true,
            compact: false
        }
    );
    assert_eq!(config.get("segment.bytes"), Some("1073741824"));
    assert_eq!(config.get("no.such.key"), None);
}

#[test]
fn typed_getters_read_overrides() {
    let config = TopicConfig::from_overrides(&overrides(&[
        ("max.message.bytes", "2048"),
        ("message.timestamp.type", "LogAppendTime"),
        ("retention.ms", "-1"),
        ("retention.bytes", " 1000 "),
        ("cleanup.policy", "compact, delete"),
        ("message.timestamp.after.max.ms", "3600000"),
    ]))
    .expect("valid overrides");
    assert_eq!(config.max_message_bytes(), 2048);
    assert_eq!(config.timestamp_type(), TimestampType::LogAppendTime);
    assert_eq!(config.retention_ms(), -1);
    assert_eq!(config.retention_bytes(), 1000);
    assert_eq!(
        config.cleanup_policy(),
        CleanupPolicy {
            delete: true,
            compact: true
        }
    );
    assert_eq!(config.message_timestamp_after_max_ms(), 3_600_000);
    assert_eq!(
        config.overrides().get("cleanup.policy").map(String::as_str),
        Some("compact,delete")
    );
}

#[test]
fn unknown_keys_and_bad_values_are_rejected_with_the_key_and_reason() {
    let msg = config_error(TopicConfig::from_overrides(&overrides(&[(
        "retention.mss",
        "1",
    )])));
    assert_eq!(msg, "retention.mss: unknown topic config");
    let msg = config_error(TopicConfig::from_overrides(&overrides(&[(
        "retention.ms",
        "soon",
    )])));
    assert_eq!(msg, "retention.ms: 'soon' is not a whole number");
    let msg = config_error(TopicConfig::from_overrides(&overrides(&[(
        "retention.ms",
        "-2",
    )])));
    assert_eq!(msg, "retention.ms: -2 is below the minimum -1");
    let msg = config_error(TopicConfig::from_overrides(&overrides(&[(
        "max.message.bytes",
        "3000000000",
    )])));
    assert!(msg.starts_with("max.message.bytes: "), "{msg}");
    let msg = config_error(TopicConfig::from_overrides(&overrides(&[(
        "preallocate",
        "yes",
    )])));
    assert_eq!(msg, "preallocate: 'yes' is not true or false");
    let msg = config_error(TopicConfig::from_overrides(&overrides(&[(
        "min.cleanable.dirty.ratio",
        "1.5",
    )])));
    assert_eq!(msg, "min.cleanable.dirty.ratio: 1.5 is outside [0, 1]");
    let msg = config_error(TopicConfig::from_overrides(&overrides(&[(
        "cleanup.policy",
        "shred",
    )])));
    assert_eq!(msg, "cleanup.policy: 'shred' is not one of compact, delete");
    let msg = config_error(TopicConfig::from_overrides(&overrides(&[(
        "cleanup.policy",
        " ",
    )])));
    assert_eq!(
        msg,
        "cleanup.policy: must name at least one of compact, delete"
    );
    let msg = config_error(TopicConfig::from_overrides(&overrides(&[(
        "message.timestamp.type",
        "Now",
    )])));
    assert_eq!(
        msg,
        "message.timestamp.type: 'Now' is not one of CreateTime, LogAppendTime"
    );
    let msg = config_error(TopicConfig::from_overrides(&overrides(&[(
        "leader.replication.throttled.replicas",
        "0:1,x",
    )])));
    assert_eq!(
        msg,
        "leader.replication.throttled.replicas: 'x' is not '*' or a partition:broker pair"
    );
}

#[test]
fn compression_type_takes_every_kafka_codec_and_levels_their_ranges() {
    for codec in ["producer", "uncompressed", "gzip", "snappy", "lz4", "zstd"] {
        let config = TopicConfig::from_overrides(&overrides(&[("compression.type", codec)]));
        assert!(config.is_ok(), "{codec}");
    }
    let msg = config_error(TopicConfig::from_overrides(&overrides(&[(
        "compression.type",
        "brotli",
    )])));
    assert_eq!(
        msg,
        "compression.type: 'brotli' is not one of gzip, lz4, producer, snappy, uncompressed, zstd"
    );
    // Kafka's level validators: gzip 1-9 or -1, lz4 1-17, zstd down to -131072 and up to 22.
    for (key, good, bad) in [
        ("compression.gzip.level", ["-1", "1", "9"], ["0", "10"]),
        ("compression.lz4.level", ["1", "9", "17"], ["0", "18"]),
        (
            "compression.zstd.level",
            ["-131072", "3", "22"],
            ["-131073", "23"],
        ),
    ] {
        for value in good {
            assert!(
                TopicConfig::from_overrides(&overrides(&[(key, value)])).is_ok(),
                "{key}={value}"
            );
        }
        for value in bad {
            let msg = config_error(TopicConfig::from_overrides(&overrides(&[(key, value)])));
            assert!(
                msg.starts_with(&format!("{key}: {value} is outside [")),
                "{msg}"
            );
        }
    }
}

#[test]
fn booleans_and_throttle_lists_are_normalised() {
    let config = TopicConfig::from_overrides(&overrides(&[
        ("preallocate", "TRUE"),
        ("follower.replication.throttled.replicas", "*"),
        ("leader.replication.throttled.replicas", "0:1, 1:2"),
    ]))
    .expect("valid overrides");
    assert_eq!(config.get("preallocate"), Some("true"));
    assert_eq!(
        config.get("follower.replication.throttled.replicas"),
        Some("*")
    );
    assert_eq!(
        config.get("leader.replication.throttled.replicas"),
        Some("0:1,1:2")
    );
}

#[test]
fn alter_is_all_or_nothing() {
    let mut config =
        TopicConfig::from_overrides(&overrides(&[("retention.ms", "1000")])).expect("valid");
    let err = config
        .alter(
            &[
                ("retention.bytes".into(), "5".into()),
                ("flush.ms".into(), "-5".into()),
            ],
            &[],
        )
        .expect_err("flush.ms below minimum");
    assert_eq!(
        err,
        ConfigError::new(
            "flush.ms",
            ConfigProblem::BelowMinimum { value: -5, min: 0 }
        )
    );
    assert_eq!(err.to_string(), "flush.ms: -5 is below the minimum 0");
    assert_eq!(config.overrides().len(), 1, "nothing applied on failure");

    config
        .alter(
            &[("retention.bytes".into(), "5".into())],
            &["retention.ms".into(), "segment.ms".into()],
        )
        .expect("valid change");
    assert_eq!(config.retention_ms(), 604_800_000);
    assert_eq!(config.retention_bytes(), 5);

    let err = config
        .alter(&[], &["bogus".into()])
        .expect_err("unknown key");
    assert_eq!(err, ConfigError::new("bogus", ConfigProblem::UnknownKey));
    assert_eq!(err.to_string(), "bogus: unknown topic config");
    let err = config
        .alter(
            &[("retention.ms".into(), "1".into())],
            &["retention.ms".into()],
        )
        .expect_err("set and delete");
    assert_eq!(
        err.to_string(),
        "retention.ms: both set and deleted in one change"
    );
}

#[test]
fn entries_list_every_key_with_default_flags() {
    let config =
        TopicConfig::from_overrides(&overrides(&[("retention.ms", "1000")])).expect("valid");
    let entries: Vec<_> = config.entries().collect();
    assert_eq!(entries.len(), TOPIC_CONFIGS.len());
    let retention = entries
        .iter()
        .find(|e| e.name == "retention.ms")
        .expect("retention.ms listed");
    assert_eq!((retention.value, retention.is_default), ("1000", false));
    let segment = entries
        .iter()
        .find(|e| e.name == "segment.ms")
        .expect("segment.ms listed");
    assert_eq!(
        (segment.value, segment.is_default, segment.honoured),
        ("604800000", true, false)
    );
    assert!(entries.iter().all(|e| !e.is_sensitive && !e.read_only));
}

#[test]
fn the_minimum_compaction_lag_may_not_pass_the_maximum() {
    let refused = config_error(
        TopicConfig::from_overrides(&overrides(&[
            ("min.compaction.lag.ms", "5000"),
            ("max.compaction.lag.ms", "1000"),
        ]))
        .and_then(|c| c.check_compaction_lags().map(|()| c)),
    );
    assert!(
        refused.starts_with("min.compaction.lag.ms: 5000 is above max.compaction.lag.ms (1000)"),
        "{refused}"
    );
    let mut config = TopicConfig::from_overrides(&overrides(&[("max.compaction.lag.ms", "1000")]))
        .expect("a maximum alone is fine");
    let mut preview = config.clone();
    preview
        .alter(
            &[("min.compaction.lag.ms".to_string(), "1001".to_string())],
            &[],
        )
        .expect("each value alone is valid");
    assert!(preview.check_compaction_lags().is_err());
    config
        .alter(
            &[("min.compaction.lag.ms".to_string(), "1000".to_string())],
            &[],
        )
        .expect("equal is fine");
    config.check_compaction_lags().expect("equal is fine");
}

#[test]
fn enforcement_follows_what_skiff_applies() {
    let enforced = |pairs: &[(&str, &str)], key: &str| {
        let config = TopicConfig::from_overrides(&overrides(pairs)).expect("valid overrides");
        config
            .entries()
            .find(|e| e.name == key)
            .map(|e| e.honoured)
            .expect("key listed")
    };
    // Retention applies under delete, key compaction under compact.
    for policy in ["delete", "compact", "compact,delete", "delete,compact"] {
        assert!(enforced(&[("cleanup.policy", policy)], "cleanup.policy"));
    }
    // Produce checks the timestamp bounds.
    for key in [
        "message.timestamp.after.max.ms",
        "message.timestamp.before.max.ms",
        "message.timestamp.difference.max.ms",
    ] {
        assert!(enforced(&[], key), "{key}");
    }
    for key in [
        "delete.retention.ms",
        "max.compaction.lag.ms",
        "min.cleanable.dirty.ratio",
        "min.compaction.lag.ms",
    ] {
        assert!(enforced(&[], key), "{key}");
    }
    assert!(!enforced(&[], "segment.ms"));
}

#[test]
fn archive_enable_is_a_boolean_and_other_archive_keys_are_unknown() {
    assert!(!TopicConfig::default().archive_enabled());
    let config = TopicConfig::from_overrides(&overrides(&[("skiff.archive.enable", "true")]))
        .expect("a boolean is accepted");
    assert!(config.archive_enabled());
    assert!(
        config_error(TopicConfig::from_overrides(&overrides(&[(
            "skiff.archive.enable",
            "yes"
        )])))
        .contains("skiff.archive.enable")
    );
    let unknown = config_error(TopicConfig::from_overrides(&overrides(&[(
        "skiff.archive.format",
        "orc",
    )])));
    assert!(unknown.contains("unknown topic config"), "{unknown}");
    let mut altered = TopicConfig::default();
    altered
        .alter(
            &[("skiff.archive.enable".to_string(), "true".to_string())],
            &[],
        )
        .expect("settable by IncrementalAlterConfigs");
    assert!(altered.archive_enabled());
    assert!(
        altered
            .alter(
                &[("skiff.archive.interval".to_string(), "1".to_string())],
                &[]
            )
            .is_err()
    );
}

#[test]
fn archive_retention_is_forever_unless_set() {
    assert_eq!(TopicConfig::default().archive_retention(), None);
    let config =
        TopicConfig::from_overrides(&overrides(&[("skiff.archive.retention.ms", "86400000")]))
            .unwrap();
    assert_eq!(
        config.archive_retention(),
        Some(std::time::Duration::from_secs(86_400))
    );
    assert!(
        TopicConfig::from_overrides(&overrides(&[("skiff.archive.retention.ms", "-2")]))
            .unwrap_err()
            .to_string()
            .contains("skiff.archive.retention.ms")
    );
}
