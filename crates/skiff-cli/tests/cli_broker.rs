//! `skiff broker` processes against three `skiff controller` processes: both brokers serve
//! the same topic, records written through one are read through the other, and both stop
//! cleanly on SIGTERM.
#![allow(clippy::unwrap_used)]

use crate::support;

use support::processes::{start_broker, start_controllers};
use support::run_with;

#[test]
fn two_brokers_serve_one_topic_and_stop_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let (mut controllers, addrs) = start_controllers(dir.path());
    let (mut b1, kafka1) = start_broker(dir.path(), 1, &addrs);
    let (mut b2, kafka2) = start_broker(dir.path(), 2, &addrs[1..]);

    run_with(
        &["topic", "create", "t", "--partitions", "2"],
        None,
        Some(&kafka1),
    )
    .ok();
    let produced = support::run_with(&["produce", "t"], Some(b"one\ntwo\nthree\n"), Some(&kafka2));
    produced.ok();
    let out = run_with(&["consume", "t"], None, Some(&kafka1)).ok();
    let mut values: Vec<&str> = out.lines().collect();
    values.sort();
    assert_eq!(values, ["one", "three", "two"], "{out}");

    let status = run_with(&["cluster", "status", "--json"], None, Some(&kafka1)).json();
    assert_eq!(status["brokers"].as_array().unwrap().len(), 2, "{status}");

    let admin = |addr: &str| {
        run_with(
            &["controller", "admin", "-c", addr, "status", "--json"],
            None,
            None,
        )
        .json()
    };
    let brokers = admin(&addrs[2])["brokers"].clone();
    assert_eq!(brokers.as_array().unwrap().len(), 2, "{brokers}");
    assert!(
        brokers
            .as_array()
            .unwrap()
            .iter()
            .all(|b| b["live"] == true),
        "{brokers}"
    );

    for broker in [&mut b2, &mut b1] {
        let status = broker.terminate();
        assert!(status.success(), "{status:?}\n{}", broker.log_text());
        assert!(
            broker
                .log_text()
                .contains("unregistered from the controller")
        );
        assert!(broker.log_text().contains("stopped"));
    }
    let brokers = admin(&addrs[0])["brokers"].clone();
    assert_eq!(
        brokers,
        serde_json::json!([]),
        "both unregistered on SIGTERM"
    );
    for node in &mut controllers {
        assert!(node.terminate().success());
    }
}

#[test]
fn a_broker_without_an_object_store_or_id_is_refused() {
    let err = run_with(&["broker", "--controllers", "127.0.0.1:1"], None, None).fails();
    assert!(err.contains("--object-store"), "{err}");
    let err = run_with(
        &[
            "broker",
            "--controllers",
            "127.0.0.1:1",
            "--object-store",
            "memory://",
        ],
        None,
        None,
    )
    .fails();
    assert!(err.contains("--broker-id"), "{err}");
}
