//! `skiff consume T --group G` against `skiff dev`: resuming from the group's commits after a
//! restart of the consume process, the reset policy for partitions without a commit, and two
//! processes splitting a topic with no record read twice.
#![allow(clippy::unwrap_used)]

use crate::support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{Dev, Streaming, wait_until};

const WAIT: Duration = Duration::from_secs(30);

/// (partition, offset) of each JSON record line.
fn positions(records: &[Value]) -> Vec<(i64, i64)> {
    records
        .iter()
        .map(|r| {
            (
                r["partition"].as_i64().unwrap(),
                r["offset"].as_i64().unwrap(),
            )
        })
        .collect()
}

fn produce_to(dev: &Dev, topic: &str, partition: i32, values: &[&str]) {
    let lines: String = values.iter().map(|v| format!("{v}\n")).collect();
    dev.run_with_input(
        &["produce", topic, "--partition", &partition.to_string()],
        lines.as_bytes(),
    )
    .ok();
}

#[test]
fn a_restarted_group_consumer_resumes_from_its_commits() {
    let dev = Dev::start();
    dev.run(&["topic", "create", "jobs", "--partitions", "2"])
        .ok();
    produce_to(&dev, "jobs", 0, &["a0", "a1", "a2", "a3", "a4"]);
    produce_to(&dev, "jobs", 1, &["b0", "b1", "b2", "b3", "b4"]);
    let consume = |extra: &[&str]| {
        let mut args = vec!["consume", "jobs", "--group", "workers", "--format", "json"];
        args.extend_from_slice(extra);
        let run = dev.run(&args);
        run.ok();
        positions(&run.json_lines())
    };

    let first = consume(&["--from-beginning", "-n", "4"]);
    assert_eq!(first.len(), 4);
    // Every partition now has a commit, so --from-beginning no longer matters.
    let second = consume(&[]);
    assert_eq!(second.len(), 6, "{second:?}");
    let all: BTreeSet<(i64, i64)> = first.iter().chain(&second).copied().collect();
    assert_eq!(
        all.len(),
        10,
        "a record was read twice: {first:?} {second:?}"
    );
    assert_eq!(
        all,
        (0..2)
            .flat_map(|p| (0..5).map(move |o| (p, o)))
            .collect::<BTreeSet<_>>()
    );
    assert_eq!(consume(&["--from-beginning"]), Vec::<(i64, i64)>::new());

    produce_to(&dev, "jobs", 1, &["b5", "b6"]);
    assert_eq!(consume(&[]), [(1, 5), (1, 6)]);
}

#[test]
fn a_new_group_starts_at_the_end_unless_from_beginning() {
    let dev = Dev::start();
    dev.run(&["topic", "create", "feed"]).ok();
    produce_to(&dev, "feed", 0, &["old-1", "old-2"]);
    // Nothing committed and no --from-beginning: start at the end (and commit that position),
    // and tell the person why nothing came out, and how to read from the beginning.
    let first = dev.run(&["consume", "feed", "--group", "late", "--max-records", "4"]);
    assert_eq!(first.ok(), "");
    assert_eq!(
        first.stderr.lines().collect::<Vec<_>>(),
        [
            "note: group late has no committed offset for feed partition 0: starting at the \
             end (offset 2), so only new records are read (Kafka's auto.offset.reset=latest)",
            "note: --from-beginning starts a group's first run at the beginning; this group \
             commits where it stops, so rewind it later with: \
             skiff group reset-offsets late --topic feed --to-earliest",
            "note: reached the end of feed after 0 of 4 records; --follow waits for more",
        ],
        "{}",
        first.stderr
    );
    produce_to(&dev, "feed", 0, &["new-1"]);
    // Committed now: no note about where it starts, and --max-records not asked, so silent.
    let second = dev.run(&["consume", "feed", "--group", "late"]);
    assert_eq!(second.ok(), "new-1\n");
    assert_eq!(second.stderr, "");
    let early = dev.run(&["consume", "feed", "--group", "early", "--from-beginning"]);
    assert_eq!(early.ok(), "old-1\nold-2\nnew-1\n");
    assert_eq!(
        early.stderr, "",
        "--from-beginning says where it starts already"
    );
}

#[test]
fn waiting_stops_after_the_idle_timeout_and_says_so() {
    let dev = Dev::start();
    dev.run(&["topic", "create", "quiet"]).ok();
    produce_to(&dev, "quiet", 0, &["only"]);
    let started = Instant::now();
    let run = dev.run(&[
        "consume",
        "quiet",
        "--follow",
        "--max-records",
        "3",
        "--idle-timeout-ms",
        "500",
    ]);
    // As Kafka's console consumer on --timeout-ms: what came is printed, the shortfall is
    // said on stderr, and the exit is 0.
    assert_eq!(run.ok(), "only\n");
    assert_eq!(
        run.stderr,
        "note: timed out: no record for 500 ms (--idle-timeout-ms) after 1 of 3 records\n"
    );
    assert!(started.elapsed() >= Duration::from_millis(500));
    // Enough records: no note.
    let enough = dev.run(&["consume", "quiet", "--max-records", "1"]);
    assert_eq!(enough.ok(), "only\n");
    assert_eq!(enough.stderr, "");
}

/// Reads lines from both consumers until `total` records arrived or the deadline passed.
fn collect(
    consumers: &[&Streaming],
    seen: &mut [Vec<(i64, i64)>],
    total: usize,
    deadline: Instant,
) {
    while seen.iter().map(Vec::len).sum::<usize>() < total {
        assert!(
            Instant::now() < deadline,
            "only {} of {total} records arrived: {seen:?}",
            seen.iter().map(Vec::len).sum::<usize>()
        );
        for (consumer, lines) in consumers.iter().zip(seen.iter_mut()) {
            while let Some(line) = consumer.try_next_line(Duration::from_millis(50)) {
                let record: Value = serde_json::from_str(&line).unwrap();
                lines.push(positions(&[record])[0]);
            }
        }
    }
}

#[test]
fn two_group_consumers_split_the_partitions_and_read_nothing_twice() {
    let dev = Dev::start();
    dev.run(&["topic", "create", "split", "--partitions", "4"])
        .ok();
    for p in 0..4 {
        let values: Vec<String> = (0..10).map(|n| format!("first-{p}-{n}")).collect();
        let values: Vec<&str> = values.iter().map(String::as_str).collect();
        produce_to(&dev, "split", p, &values);
    }
    let args = [
        "consume",
        "split",
        "--group",
        "pair",
        "--from-beginning",
        "--follow",
        "--format",
        "json",
    ];
    let a = Streaming::spawn(&args, &dev.bootstrap);
    let mut seen = vec![Vec::new(), Vec::new()];
    collect(&[&a], &mut seen[..1], 40, Instant::now() + WAIT);

    // The second member joins; the first commits what it read before giving partitions up,
    // so the second starts where the first stopped, not at the beginning.
    let b = Streaming::spawn(&args, &dev.bootstrap);
    let assignments = wait_until(WAIT, "two members with two partitions each", || {
        let described = dev.run(&["group", "describe", "pair", "--json"]).json();
        let members = described["members"].as_array().cloned().unwrap_or_default();
        let counts: Vec<usize> = members
            .iter()
            .map(|m| {
                m["assignment"].as_array().map_or(0, |a| {
                    a.iter()
                        .map(|t| t["partitions"].as_array().unwrap().len())
                        .sum()
                })
            })
            .collect();
        if described["state"] == "Stable" && counts == [2, 2] {
            Ok(described)
        } else {
            Err(described)
        }
    });
    let owner_of: BTreeMap<i64, String> = assignments["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["partition"].as_i64().unwrap(),
                p["owner"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(owner_of.len(), 4);

    for p in 0..4 {
        let values: Vec<String> = (0..10).map(|n| format!("second-{p}-{n}")).collect();
        let values: Vec<&str> = values.iter().map(String::as_str).collect();
        produce_to(&dev, "split", p, &values);
    }
    collect(&[&a, &b], &mut seen, 80, Instant::now() + WAIT);
    let everything: BTreeSet<(i64, i64)> = seen.iter().flatten().copied().collect();
    assert_eq!(everything.len(), 80, "a record was read twice: {seen:?}");
    assert_eq!(
        everything,
        (0..4)
            .flat_map(|p| (0..20).map(move |o| (p, o)))
            .collect::<BTreeSet<_>>()
    );
    // Each member read the second round only from its own two partitions.
    let second_round = |lines: &[(i64, i64)]| -> BTreeSet<i64> {
        lines
            .iter()
            .filter(|(_, offset)| *offset >= 10)
            .map(|(p, _)| *p)
            .collect()
    };
    let (from_a, from_b) = (second_round(&seen[0]), second_round(&seen[1]));
    assert_eq!(from_a.len(), 2, "{seen:?}");
    assert_eq!(from_b.len(), 2, "{seen:?}");
    assert!(from_a.is_disjoint(&from_b));
    let owners_a: BTreeSet<&String> = from_a.iter().map(|p| &owner_of[p]).collect();
    let owners_b: BTreeSet<&String> = from_b.iter().map(|p| &owner_of[p]).collect();
    assert_eq!(owners_a.len(), 1);
    assert_eq!(owners_b.len(), 1);
    assert_ne!(owners_a, owners_b);

    for consumer in [a, b] {
        let (status, stderr) = consumer.interrupt(WAIT);
        assert_eq!(status.code(), Some(0), "{stderr}");
    }
    let described = dev.run(&["group", "describe", "pair", "--json"]).json();
    assert_eq!(described["state"], "Empty");
    assert_eq!(described["total_lag"], 0);
    let committed: Vec<i64> = described["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["committed_offset"].as_i64().unwrap())
        .collect();
    assert_eq!(committed, [20, 20, 20, 20]);
}
