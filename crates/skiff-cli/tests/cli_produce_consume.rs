//! `skiff produce` → `skiff consume` round trips: every codec, keys, headers, partitions,
//! binary data in JSON, start offsets, record limits and summaries.
#![allow(clippy::unwrap_used)]

use crate::support;

use std::collections::BTreeSet;

use serde_json::json;
use support::Dev;

#[test]
fn records_round_trip_with_every_codec_keys_and_headers() {
    let dev = Dev::start();
    dev.run(&["topic", "create", "codecs", "--partitions", "3"])
        .ok();
    let mut expected = BTreeSet::new();
    for codec in ["none", "gzip", "snappy", "lz4", "zstd"] {
        let input: String = (0..200)
            .map(|i| format!("{codec}-{i}:value {i} of {codec}\n"))
            .collect();
        let run = dev.run_with_input(
            &[
                "produce",
                "codecs",
                "--key-separator",
                ":",
                "--compression",
                codec,
                "--header",
                &format!("codec={codec}"),
                "--header",
                "app=test",
                "--json",
            ],
            input.as_bytes(),
        );
        let summary = run.json();
        assert_eq!(summary["records"], 200, "{codec}: {summary}");
        assert_eq!(summary["failed"], 0);
        assert_eq!(summary["error"], serde_json::Value::Null);
        for i in 0..200 {
            expected.insert((
                format!("{codec}-{i}"),
                format!("value {i} of {codec}"),
                codec.to_owned(),
            ));
        }
    }
    let records = dev
        .run(&["consume", "codecs", "--format", "json"])
        .json_lines();
    assert_eq!(records.len(), 1000);
    let mut got = BTreeSet::new();
    for r in &records {
        assert_eq!(r["topic"], "codecs");
        let headers = r["headers"].as_array().unwrap();
        assert_eq!(headers[1], json!({"key": "app", "value": "test"}));
        assert!(r["timestamp"].as_i64().unwrap() > 1_600_000_000_000);
        got.insert((
            r["key"].as_str().unwrap().to_owned(),
            r["value"].as_str().unwrap().to_owned(),
            headers[0]["value"].as_str().unwrap().to_owned(),
        ));
    }
    assert_eq!(got, expected);
    // Same key, same partition: the Java client's murmur2 placement.
    let partition_of = |key: &str| {
        records.iter().find(|r| r["key"] == key).unwrap()["partition"]
            .as_i64()
            .unwrap()
    };
    assert_eq!(
        partition_of("gzip-7"),
        i64::from(skiff_client::partition_for_key(b"gzip-7", 3))
    );
    // Per partition, offsets are dense and in order.
    for p in 0..3 {
        let offsets: Vec<i64> = records
            .iter()
            .filter(|r| r["partition"] == p)
            .map(|r| r["offset"].as_i64().unwrap())
            .collect();
        assert_eq!(offsets, (0..offsets.len() as i64).collect::<Vec<_>>());
    }
}

#[test]
fn text_output_keys_offsets_and_the_produce_summary() {
    let dev = Dev::start();
    dev.run(&["topic", "create", "t", "--partitions", "2"]).ok();
    let out = dev
        .run_with_input(
            &["produce", "t", "--key-separator", "=>", "--partition", "1"],
            b"a=>1\nb=>2\nno key\n",
        )
        .ok();
    assert_eq!(out, "produced 3 records (10 bytes) to t, partition 1\n");
    let out = dev.run(&["consume", "t"]).ok();
    assert_eq!(out, "1\n2\nno key\n");
    let out = dev
        .run(&[
            "consume",
            "t",
            "--print-keys",
            "--print-offsets",
            "--key-separator",
            ":",
        ])
        .ok();
    assert_eq!(out, "1:0 a:1\n1:1 b:2\n1:2 :no key\n");
    assert_eq!(
        dev.run(&["consume", "t", "--offset", "1", "--max-records", "1"])
            .ok(),
        "2\n"
    );
    assert_eq!(
        dev.run(&["consume", "t", "--offset", "-1"]).ok(),
        "no key\n"
    );
    assert_eq!(dev.run(&["consume", "t", "--offset", "end"]).ok(), "");
    assert_eq!(dev.run(&["consume", "t", "--partition", "0"]).ok(), "");
    let error = dev.run(&["consume", "t", "--partition", "7"]).fails();
    assert_eq!(error, "error: topic t has no partition 7 (it has 2)");
    let error = dev
        .run_with_input(&["produce", "t", "--partition", "2"], b"x\n")
        .fails();
    assert_eq!(error, "error: topic t has no partition 2 (it has 2)");
}

#[test]
fn binary_values_come_out_as_base64_in_json() {
    let dev = Dev::start();
    dev.run(&["topic", "create", "bin"]).ok();
    dev.run_with_input(
        &["produce", "bin", "-K", "|"],
        b"k|\xff\xfe\x00\nplain|text\n",
    )
    .ok();
    let records = dev.run(&["consume", "bin", "--json"]).json_lines();
    assert_eq!(records[0]["key"], "k");
    assert_eq!(records[0]["value"], "//4A");
    assert_eq!(records[0]["value_encoding"], "base64");
    assert_eq!(records[1]["value"], "text");
    assert!(records[1].get("value_encoding").is_none());
    let forced = dev
        .run(&["consume", "bin", "--json", "--base64"])
        .json_lines();
    assert_eq!(forced[1]["key"], "cGxhaW4=");
    assert_eq!(forced[1]["key_encoding"], "base64");
    // Text output writes the bytes as they are.
    assert_eq!(
        dev.run(&["consume", "bin", "-n", "1"]).stdout,
        b"\xff\xfe\x00\n"
    );
}

#[test]
fn produce_reads_a_file_and_every_acks_mode_delivers() {
    let dev = Dev::start();
    dev.run(&["topic", "create", "f"]).ok();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("lines.txt");
    std::fs::write(&file, "one\r\ntwo\nthree").unwrap();
    let out = dev
        .run(&["produce", "f", "--file", file.to_str().unwrap()])
        .ok();
    assert_eq!(out, "produced 3 records (11 bytes) to f, partition 0\n");
    let out = dev
        .run_with_input(&["produce", "f", "--acks", "1"], b"four\n")
        .ok();
    assert_eq!(out, "produced 1 record (4 bytes) to f, partition 0\n");
    let out = dev
        .run_with_input(&["produce", "f", "--acks", "0"], b"five\n")
        .ok();
    assert_eq!(
        out,
        "sent (acks=0, not confirmed) 1 record (4 bytes) to f, partition 0\n"
    );
    // acks=0 has no answer to wait for; the record shows up once the broker flushed it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let out = dev.run(&["consume", "f"]).ok();
        if out == "one\ntwo\nthree\nfour\nfive\n" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "acks=0 record never arrived: {out:?}"
        );
    }
    let error = dev
        .run(&["produce", "f", "--file", "/nonexistent/x"])
        .fails();
    assert!(
        error.starts_with("error: cannot open /nonexistent/x"),
        "{error}"
    );
    let error = dev
        .run_with_input(
            &["produce", "f", "--max-line-bytes", "4"],
            b"ok\ntoo long\n",
        )
        .fails();
    assert_eq!(
        error,
        "error: line 2 is longer than 4 bytes (raise --max-line-bytes)"
    );
}

#[test]
fn a_large_input_is_batched_and_read_back_in_order() {
    let dev = Dev::start();
    dev.run(&["topic", "create", "big"]).ok();
    let input: String = (0..50_000).map(|i| format!("record {i:06}\n")).collect();
    let summary = dev
        .run_with_input(
            &[
                "produce",
                "big",
                "--compression",
                "lz4",
                "--batch-bytes",
                "64KiB",
                "--json",
            ],
            input.as_bytes(),
        )
        .json();
    assert_eq!(summary["records"], 50_000);
    assert_eq!(summary["bytes"], 50_000 * 13);
    let out = dev.run(&["consume", "big"]).ok();
    assert_eq!(out, input);
}
