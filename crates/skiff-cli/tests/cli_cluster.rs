//! `skiff cluster status` against a real `skiff dev`.
#![allow(clippy::unwrap_used)]

use crate::support;

use support::Dev;

#[test]
fn cluster_status_shows_brokers_controller_counts_and_version() {
    let dev = Dev::start();
    dev.run(&["topic", "create", "a", "--partitions", "2"]).ok();
    dev.run(&["topic", "create", "b", "--partitions", "3"]).ok();
    let out = dev.run(&["cluster", "status"]).ok();
    let version = env!("CARGO_PKG_VERSION");
    assert!(
        out.contains(&format!("version     skiff {version}\n")),
        "{out}"
    );
    assert!(out.contains("controller  broker 1\n"), "{out}");
    assert!(out.contains("topics      2 (5 partitions)\n"), "{out}");
    let row = out
        .lines()
        .find(|l| l.trim_start().starts_with("1  "))
        .unwrap();
    assert_eq!(
        row.split_whitespace().collect::<Vec<_>>(),
        ["1", &dev.bootstrap, "-", "yes"]
    );

    let json = dev.run(&["cluster", "status", "--json"]).json();
    assert_eq!(json["topics"], 2);
    assert_eq!(json["partitions"], 5);
    assert_eq!(json["controller_id"], 1);
    assert_eq!(json["skiff_version"], version);
    assert_eq!(json["brokers"][0]["live"], true);
    assert_eq!(json["brokers"][0]["id"], 1);
    assert!(json["cluster_id"].as_str().unwrap().len() >= 16, "{json}");
}
