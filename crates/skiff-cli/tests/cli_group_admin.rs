//! `skiff group list|describe|reset-offsets|delete` against `skiff dev`: output and JSON,
//! lag after a partial consume, every reset mode, the refusals while a `skiff consume --group`
//! runs, and the error cases.
#![allow(clippy::unwrap_used)]

use crate::support;

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use support::{Dev, Streaming, wait_until};

const WAIT: Duration = Duration::from_secs(30);

/// partition → (committed, end, lag) from `group describe --json`.
fn offsets(described: &Value) -> BTreeMap<i64, (Value, Value, Value)> {
    described["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["partition"].as_i64().unwrap(),
                (
                    p["committed_offset"].clone(),
                    p["end_offset"].clone(),
                    p["lag"].clone(),
                ),
            )
        })
        .collect()
}

fn committed(dev: &Dev, group: &str) -> Vec<Value> {
    let described = dev.run(&["group", "describe", group, "--json"]);
    described.ok();
    offsets(&described.json())
        .into_values()
        .map(|(committed, _, _)| committed)
        .collect()
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// A topic with `per_partition[i]` records in partition i, values `p<i>-<n>`.
fn topic_with(dev: &Dev, topic: &str, per_partition: &[usize]) {
    dev.run(&[
        "topic",
        "create",
        topic,
        "--partitions",
        &per_partition.len().to_string(),
    ])
    .ok();
    for (partition, &count) in per_partition.iter().enumerate() {
        let lines: String = (0..count).map(|n| format!("p{partition}-{n}\n")).collect();
        dev.run_with_input(
            &["produce", topic, "--partition", &partition.to_string()],
            lines.as_bytes(),
        )
        .ok();
    }
}

#[test]
fn list_and_describe_show_state_members_offsets_and_lag() {
    let dev = Dev::start();
    topic_with(&dev, "orders", &[6, 4]);
    assert_eq!(dev.run(&["group", "list"]).ok(), "no groups\n");

    // A partial consume: 3 of 10 records, committed on exit.
    let out = dev
        .run(&[
            "consume",
            "orders",
            "--group",
            "billing",
            "--from-beginning",
            "-n",
            "3",
        ])
        .ok();
    assert_eq!(out.lines().count(), 3, "{out}");

    let described = dev.run(&["group", "describe", "billing", "--json"]).json();
    assert_eq!(described["group"], "billing");
    assert_eq!(described["state"], "Empty");
    assert_eq!(described["protocol_type"], "consumer");
    assert_eq!(described["members"], json!([]));
    let by_partition = offsets(&described);
    assert_eq!(by_partition.len(), 2, "{described}");
    let mut committed_sum = 0;
    for (partition, (committed, end, lag)) in &by_partition {
        let (committed, end) = (committed.as_i64().unwrap(), end.as_i64().unwrap());
        assert_eq!(end, [6, 4][*partition as usize]);
        assert_eq!(lag.as_i64().unwrap(), end - committed);
        committed_sum += committed;
    }
    assert_eq!(committed_sum, 3);
    assert_eq!(described["total_lag"], 7);

    let text = dev.run(&["group", "describe", "billing"]).ok();
    assert!(
        text.starts_with("group billing  state Empty  protocol consumer  coordinator 1 ("),
        "{text}"
    );
    assert!(text.contains("no active members"), "{text}");
    assert!(
        text.contains("TOPIC   PARTITION  COMMITTED  END  LAG  OWNER"),
        "{text}"
    );
    assert!(text.ends_with("total lag 7\n"), "{text}");

    let listed = dev.run(&["group", "list", "--json"]).json();
    assert_eq!(
        listed,
        json!({"groups": [{"group": "billing", "state": "Empty", "protocol_type": "consumer", "members": 0}]})
    );
    assert_eq!(
        dev.run(&["group", "list"]).ok(),
        "GROUP    STATE  PROTOCOL-TYPE  MEMBERS\nbilling  Empty  consumer             0\n"
    );

    // A running member owns every partition and shows in both views.
    let consumer = Streaming::spawn(
        &["consume", "orders", "--group", "billing", "--follow"],
        &dev.bootstrap,
    );
    for _ in 0..7 {
        consumer.next_line(WAIT);
    }
    let described = wait_until(WAIT, "one stable member owning both partitions", || {
        let described = dev.run(&["group", "describe", "billing", "--json"]).json();
        let owners: Vec<&Value> = described["partitions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| &p["owner"])
            .collect();
        if described["state"] == "Stable" && owners.iter().all(|o| o.is_string()) {
            Ok(described)
        } else {
            Err(described)
        }
    });
    assert_eq!(described["protocol"], "range");
    let member = &described["members"][0];
    assert_eq!(member["client_id"], "skiff-cli");
    assert_eq!(
        member["assignment"],
        json!([{"topic": "orders", "partitions": [0, 1]}])
    );
    assert_eq!(described["partitions"][0]["owner"], member["member_id"]);
    let listed = dev.run(&["group", "list", "--json"]).json();
    assert_eq!(listed["groups"][0]["members"], 1);
    assert_eq!(listed["groups"][0]["state"], "Stable");
    let text = dev.run(&["group", "describe", "billing"]).ok();
    assert!(text.contains("orders:0,1"), "{text}");
    assert!(text.contains("MEMBER"), "{text}");

    let (status, stderr) = consumer.interrupt(WAIT);
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert_eq!(stderr, "");
    // Everything was printed, so everything is committed: no lag is left.
    let described = dev.run(&["group", "describe", "billing", "--json"]).json();
    assert_eq!(described["state"], "Empty");
    assert_eq!(described["total_lag"], 0);
    assert_eq!(committed(&dev, "billing"), [json!(6), json!(4)]);
}

#[test]
fn reset_offsets_applies_every_mode_and_dry_run_changes_nothing() {
    let dev = Dev::start();
    topic_with(&dev, "ledger", &[5, 5]);
    let cut = now_ms() + 1;
    wait_until(Duration::from_secs(5), "the clock to pass the cut", || {
        if now_ms() > cut {
            Ok(())
        } else {
            Err(now_ms())
        }
    });
    for partition in ["0", "1"] {
        dev.run_with_input(
            &["produce", "ledger", "--partition", partition],
            b"late-1\nlate-2\n",
        )
        .ok();
    }
    let reset = |args: &[&str]| {
        let mut full = vec!["group", "reset-offsets", "audit", "--topic", "ledger"];
        full.extend_from_slice(args);
        dev.run(&full)
    };

    let applied = reset(&["--to-latest", "--json"]).json();
    assert_eq!(applied["applied"], true);
    assert_eq!(applied["dry_run"], false);
    assert_eq!(applied["partitions"][0]["previous_offset"], Value::Null);
    assert_eq!(applied["partitions"][0]["new_offset"], 7);
    assert_eq!(committed(&dev, "audit"), [json!(7), json!(7)]);

    let dry = reset(&["--to-earliest", "--dry-run"]).ok();
    assert_eq!(
        dry,
        "TOPIC   PARTITION  PREVIOUS  NEW\n\
         ledger          0         7    0\n\
         ledger          1         7    0\n\
         dry run: group audit would move 2 partitions of ledger; nothing was committed\n"
    );
    assert_eq!(committed(&dev, "audit"), [json!(7), json!(7)]);

    let text = reset(&["--to-earliest"]).ok();
    assert!(
        text.ends_with("group audit: committed new offsets for 2 partitions of ledger\n"),
        "{text}"
    );
    assert_eq!(committed(&dev, "audit"), [json!(0), json!(0)]);

    reset(&["--to-offset", "3", "--partition", "1"]).ok();
    assert_eq!(committed(&dev, "audit"), [json!(0), json!(3)]);

    let clamped = reset(&["--to-offset", "1000", "--json"]).json();
    assert_eq!(clamped["partitions"][1]["clamped"], true);
    assert_eq!(committed(&dev, "audit"), [json!(7), json!(7)]);
    let text = reset(&["--to-offset", "1000", "--dry-run"]).ok();
    assert!(
        text.contains("* clamped to the partition's start or end"),
        "{text}"
    );

    let rfc3339 = chrono::DateTime::from_timestamp_millis(cut)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    reset(&["--to-datetime", &rfc3339]).ok();
    assert_eq!(committed(&dev, "audit"), [json!(5), json!(5)]);
    reset(&["--to-datetime", "-1h"]).ok();
    assert_eq!(committed(&dev, "audit"), [json!(0), json!(0)]);
    reset(&["--to-datetime", "2999-01-01T00:00:00Z", "--partition", "0"]).ok();
    assert_eq!(committed(&dev, "audit"), [json!(7), json!(0)]);

    // A consumer of the group starts where the reset put it.
    reset(&["--to-offset", "5"]).ok();
    let mut read: Vec<String> = dev
        .run(&["consume", "ledger", "--group", "audit"])
        .ok()
        .lines()
        .map(str::to_owned)
        .collect();
    read.sort();
    assert_eq!(read, ["late-1", "late-1", "late-2", "late-2"]);
}

#[test]
fn active_groups_refuse_reset_and_delete_and_idle_ones_delete() {
    let dev = Dev::start();
    topic_with(&dev, "events", &[2, 2, 2]);
    let consumer = Streaming::spawn(
        &[
            "consume",
            "events",
            "--group",
            "busy",
            "--from-beginning",
            "--follow",
        ],
        &dev.bootstrap,
    );
    for _ in 0..6 {
        consumer.next_line(WAIT);
    }
    wait_until(WAIT, "the consumer to be a member", || {
        let described = dev.run(&["group", "describe", "busy", "--json"]).json();
        if described["members"]
            .as_array()
            .is_some_and(|m| m.len() == 1)
        {
            Ok(())
        } else {
            Err(described)
        }
    });
    let before = committed(&dev, "busy");
    let refused = dev.run(&[
        "group",
        "reset-offsets",
        "busy",
        "--topic",
        "events",
        "--to-earliest",
    ]);
    assert_eq!(
        refused.fails(),
        "error: group busy is active (1 member); stop its consumers first"
    );
    let refused = dev.run(&[
        "group",
        "reset-offsets",
        "busy",
        "--topic",
        "events",
        "--to-earliest",
        "--dry-run",
    ]);
    assert_eq!(
        refused.fails(),
        "error: group busy is active (1 member); stop its consumers first"
    );
    assert_eq!(
        dev.run(&["group", "delete", "busy"]).fails(),
        "error: group busy is active (1 member); stop its consumers first"
    );
    assert_eq!(committed(&dev, "busy"), before);

    let (status, stderr) = consumer.interrupt(WAIT);
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert_eq!(
        dev.run(&["group", "delete", "busy"]).ok(),
        "deleted group busy\n"
    );
    assert_eq!(
        dev.run(&["group", "describe", "busy"]).fails(),
        "error: group busy does not exist"
    );
    assert_eq!(
        dev.run(&["group", "delete", "busy"]).fails(),
        "error: group busy does not exist"
    );
    assert_eq!(dev.run(&["group", "list"]).ok(), "no groups\n");

    // Deleting an idle group that only has offsets (from a reset) works too, in JSON.
    dev.run(&[
        "group",
        "reset-offsets",
        "idle",
        "--topic",
        "events",
        "--to-latest",
    ])
    .ok();
    assert_eq!(
        dev.run(&["group", "delete", "idle", "--json"]).json(),
        json!({"group": "idle", "deleted": true})
    );
}

#[test]
fn group_commands_name_what_is_wrong() {
    let dev = Dev::start();
    topic_with(&dev, "known", &[1, 1]);
    assert_eq!(
        dev.run(&["group", "describe", "nope"]).fails(),
        "error: group nope does not exist"
    );
    assert_eq!(
        dev.run(&["group", "describe", "nope", "--json"]).fails(),
        "error: group nope does not exist"
    );
    assert_eq!(
        dev.run(&[
            "group",
            "reset-offsets",
            "g",
            "--topic",
            "missing",
            "--to-earliest"
        ])
        .fails(),
        "error: unknown topic missing"
    );
    assert_eq!(
        dev.run(&[
            "group",
            "reset-offsets",
            "g",
            "--topic",
            "known",
            "--to-earliest",
            "--partition",
            "7"
        ])
        .fails(),
        "error: topic known has no partition 7 (it has 2)"
    );
    assert_eq!(
        dev.run(&["consume", "missing", "--group", "g"]).fails(),
        "error: unknown topic missing"
    );
    // A session timeout the broker does not allow is refused at join, in one line.
    let refused = dev.run(&[
        "consume",
        "known",
        "--group",
        "g",
        "--session-timeout-ms",
        "100",
    ]);
    assert_eq!(
        refused.fails(),
        "error: cannot join group g: invalid session timeout"
    );
}
