//! `skiff topic …` against a real `skiff dev`: output, JSON and exit codes, errors included.
#![allow(clippy::unwrap_used)]

use crate::support;

use serde_json::json;
use support::Dev;

#[test]
fn a_topic_is_created_listed_described_altered_grown_and_deleted() {
    let dev = Dev::start();

    let out = dev
        .run(&[
            "topic",
            "create",
            "orders",
            "--partitions",
            "3",
            "--config",
            "retention.ms=86400000",
        ])
        .ok();
    assert_eq!(out, "created topic orders (3 partitions)\n");

    let error = dev.run(&["topic", "create", "orders"]).fails();
    assert!(
        error.contains("cannot create topic orders") && error.contains("already exists"),
        "{error}"
    );
    let again = dev
        .run(&["topic", "create", "orders", "--if-not-exists", "--json"])
        .json();
    assert_eq!(
        again,
        json!({"topic": "orders", "created": false, "partitions": 3})
    );

    dev.run_with_input(&["produce", "orders", "--partition", "1"], b"a\nb\n")
        .ok();
    let list = dev.run(&["topic", "list", "--json"]).json();
    let bytes = list["topics"][0]["bytes"].as_i64().expect("bytes");
    assert!(bytes > 0, "{list}");
    assert_eq!(
        list,
        json!({"topics": [{"name": "orders", "partitions": 3, "records": 2, "bytes": bytes, "internal": false}]})
    );
    let table = dev.run(&["topic", "list"]).ok();
    let lines: Vec<Vec<&str>> = table
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        lines,
        vec![
            vec!["NAME", "PARTITIONS", "RECORDS", "BYTES"],
            vec!["orders", "3", "2", &bytes.to_string()]
        ]
    );

    let described = dev.run(&["topic", "describe", "orders"]).ok();
    assert!(described.starts_with("topic orders  id "), "{described}");
    assert!(
        described.contains("PARTITION  LEADER  START  END  RECORDS  BYTES  OBJECTS\n"),
        "{described}"
    );
    // Partition 1 holds both records, in one object; the others hold nothing.
    let row = |p: &str| {
        described
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .find(|cols| cols.len() == 7 && cols[0] == p)
            .unwrap_or_else(|| panic!("no row for partition {p}: {described}"))
    };
    assert_eq!(row("1")[..5], ["1", "1", "0", "2", "2"], "{described}");
    assert!(
        row("1")[5].parse::<u64>().is_ok_and(|b| b > 0),
        "{described}"
    );
    assert_eq!(row("1")[6], "1", "{described}");
    assert_eq!(row("0")[2..], ["0", "0", "0", "0", "0"], "{described}");
    let retention = described
        .lines()
        .find(|l| l.starts_with("retention.ms "))
        .unwrap();
    // Retention is applied, so the table does not call it "not enforced" (from DescribeConfigs).
    assert_eq!(
        retention.split_whitespace().collect::<Vec<_>>(),
        ["retention.ms", "86400000", "topic"]
    );
    let cleanup = described
        .lines()
        .find(|l| l.starts_with("cleanup.policy "))
        .unwrap();
    // Retention runs under cleanup.policy=delete (compaction under compact): enforced.
    assert_eq!(
        cleanup.split_whitespace().collect::<Vec<_>>(),
        ["cleanup.policy", "delete", "default"]
    );
    let max_bytes = described
        .lines()
        .find(|l| l.starts_with("max.message.bytes "))
        .unwrap();
    assert_eq!(
        max_bytes.split_whitespace().collect::<Vec<_>>(),
        ["max.message.bytes", "1048588", "default"]
    );
    assert!(
        described.contains("\nnot enforced: accepted and stored for tools that set it, but Skiff does not apply it yet\n"),
        "{described}"
    );

    let json = dev.run(&["topic", "describe", "orders", "--json"]).json();
    assert_eq!(json["name"], "orders");
    assert_eq!(json["partitions"].as_array().unwrap().len(), 3);
    assert_eq!(json["partitions"][1]["end_offset"], 2);
    assert_eq!(json["partitions"][1]["start_offset"], 0);
    assert_eq!(json["partitions"][1]["leader"], 1);
    let config = |json: &serde_json::Value, name: &str| {
        json["configs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .cloned()
            .unwrap()
    };
    assert_eq!(config(&json, "retention.ms")["source"], "topic");
    assert_eq!(config(&json, "retention.ms")["enforced"], true);
    assert_eq!(config(&json, "min.compaction.lag.ms")["enforced"], true);
    assert_eq!(config(&json, "segment.ms")["enforced"], false);
    assert!(
        json["partitions"][1]["stored_bytes"]
            .as_i64()
            .is_some_and(|b| b > 0)
    );
    assert_eq!(json["partitions"][1]["objects"], 1);
    assert_eq!(config(&json, "max.message.bytes")["enforced"], true);

    let out = dev
        .run(&[
            "topic",
            "alter-config",
            "orders",
            "--set",
            "max.message.bytes=2097152",
            "--delete",
            "retention.ms",
        ])
        .ok();
    assert_eq!(
        out,
        "updated topic orders: set max.message.bytes=2097152, reset retention.ms to its default\n"
    );
    let json = dev.run(&["topic", "describe", "orders", "--json"]).json();
    assert_eq!(config(&json, "max.message.bytes")["value"], "2097152");
    assert_eq!(config(&json, "max.message.bytes")["source"], "topic");
    assert_eq!(config(&json, "retention.ms")["source"], "default");

    let error = dev
        .run(&["topic", "alter-config", "orders", "--set", "no.such.key=1"])
        .fails();
    // The broker's own words name the key; the code's are the fallback.
    assert!(
        error.starts_with("error: cannot alter the configs of topic orders: invalid")
            && error.contains("config")
            && error.contains("no.such.key"),
        "{error}"
    );

    assert_eq!(
        dev.run(&["topic", "add-partitions", "orders", "--to", "5"])
            .ok(),
        "topic orders now has 5 partitions\n"
    );
    let error = dev
        .run(&["topic", "add-partitions", "orders", "--to", "2"])
        .fails();
    assert!(error.contains("invalid number of partitions"), "{error}");
    let json = dev.run(&["topic", "describe", "orders", "--json"]).json();
    assert_eq!(json["partitions"].as_array().unwrap().len(), 5);

    assert_eq!(
        dev.run(&["topic", "delete", "orders"]).ok(),
        "deleted topic orders\n"
    );
    assert_eq!(dev.run(&["topic", "list"]).ok(), "no topics\n");
    assert_eq!(
        dev.run(&["topic", "delete", "orders"]).fails(),
        "error: unknown topic orders"
    );
    assert_eq!(
        dev.run(&["topic", "delete", "orders", "--if-exists", "--json"])
            .json(),
        json!({"topic": "orders", "deleted": false})
    );
}

#[test]
fn commands_on_a_missing_topic_name_it() {
    let dev = Dev::start();
    for args in [
        &["topic", "describe", "ghost"][..],
        &["topic", "delete", "ghost"],
        &["topic", "alter-config", "ghost", "--set", "retention.ms=1"],
        &["topic", "add-partitions", "ghost", "--to", "3"],
        &["consume", "ghost"],
    ] {
        assert_eq!(
            dev.run(args).fails(),
            "error: unknown topic ghost",
            "{args:?}"
        );
    }
    assert_eq!(
        dev.run_with_input(&["produce", "ghost"], b"x\n").fails(),
        "error: unknown topic ghost"
    );
}

#[test]
fn create_uses_the_brokers_default_partition_count_and_checks_config_keys() {
    let dev = Dev::start();
    assert_eq!(
        dev.run(&["topic", "create", "plain"]).ok(),
        "created topic plain (1 partitions)\n"
    );
    let error = dev
        .run(&["topic", "create", "bad", "--config", "retention.mss=5"])
        .fails();
    assert!(
        error.starts_with("error: cannot create topic bad: invalid") && error.contains("config"),
        "{error}"
    );
    assert!(error.contains("retention.mss"), "{error}");
    let error = dev.run(&["topic", "create", "bad name!"]).fails();
    assert!(error.contains("invalid topic name"), "{error}");
}
