use super::*;

#[test]
fn table_is_sorted_and_every_key_names_a_topic_config() {
    for pair in BROKER_CONFIGS.windows(2) {
        assert!(
            pair[0].name < pair[1].name,
            "{} before {}",
            pair[0].name,
            pair[1].name
        );
    }
    for def in BROKER_CONFIGS {
        let topic = config_def(def.topic_key).expect(def.topic_key);
        assert!(
            topic.honoured,
            "{} defaults {}, which Skiff ignores",
            def.name, def.topic_key
        );
        assert_eq!(
            broker_synonym_of(def.topic_key).map(|d| d.name),
            Some(def.name)
        );
    }
}

#[test]
fn built_in_defaults_resolve_to_kafkas() {
    let defaults = BrokerDefaults::BUILT_IN;
    let (value, source) = defaults.resolve("log.cleanup.policy").unwrap();
    assert_eq!((value.as_ref(), source), ("delete", ConfigSource::Default));
    let (value, _) = defaults.resolve("log.retention.ms").unwrap();
    assert_eq!(value, "604800000");
    assert!(defaults.resolve("broker.id").is_none());
    assert_eq!(defaults.layers("message.max.bytes").len(), 1);
}

#[test]
fn validation_names_the_broker_key() {
    let error = validate(None, "log.retention.bytes", "lots").unwrap_err();
    assert!(
        error.to_string().starts_with("log.retention.bytes: "),
        "{error}"
    );
    let error = validate(Some(0), "log.cleaner.delete.retention.ms", "5").unwrap_err();
    assert!(matches!(error, BrokerConfigError::ClusterWideOnly { .. }));
    assert_eq!(
        validate(Some(0), "message.max.bytes", " 10 ").unwrap(),
        "10"
    );
}
