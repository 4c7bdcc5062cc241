//! `skiff controller` processes: three nodes form a cluster, log their ready lines, answer
//! `controller admin status` (quietly ending when its reader is gone), and stop cleanly on
//! SIGTERM.
#![allow(clippy::unwrap_used)]

use crate::support;

use support::processes::start_controllers;
use support::run_with;

#[test]
fn three_controllers_elect_a_leader_report_status_and_stop_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let (mut nodes, addrs) = start_controllers(dir.path());

    let out = run_with(
        &["controller", "admin", "-c", &addrs[1], "status"],
        None,
        None,
    )
    .ok();
    let leader_line = out.lines().next().unwrap();
    assert!(leader_line.starts_with("leader      "), "{out}");
    let leader: usize = leader_line
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=3).contains(&leader), "{out}");
    assert!(leader_line.contains(&addrs[leader - 1]), "{out}");
    let rows: Vec<&str> = out
        .lines()
        .filter(|l| l.trim_start().starts_with(|c: char| c.is_ascii_digit()))
        .collect();
    assert_eq!(rows.len(), 3, "{out}");
    assert_eq!(
        rows.iter().filter(|r| r.contains("Leader")).count(),
        1,
        "{out}"
    );

    let json = run_with(
        &["controller", "admin", "-c", &addrs[0], "status", "--json"],
        None,
        None,
    )
    .json();
    assert_eq!(json["leader"], leader as u64);
    assert_eq!(json["nodes"].as_array().unwrap().len(), 3);

    // `controller admin status | head -1`, with the reader gone before the first write: a
    // quiet, successful end.
    for extra in [&[][..], &["--json"][..]] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let closed = std::process::Command::new(support::SKIFF)
            .args(["controller", "admin", "-c", &addrs[0], "status"])
            .args(extra)
            .stdout(writer)
            .output()
            .unwrap();
        assert!(closed.status.success(), "{closed:?}");
        assert_eq!(String::from_utf8_lossy(&closed.stderr), "");
    }

    for node in &mut nodes {
        let status = node.terminate();
        assert!(status.success(), "{status:?}\n{}", node.log_text());
        assert!(node.log_text().contains("stopped"), "{}", node.log_text());
    }
}

#[test]
fn admin_commands_name_an_unreachable_cluster() {
    let port = support::free_port();
    let err = run_with(
        &[
            "controller",
            "admin",
            "-c",
            &format!("127.0.0.1:{port}"),
            "status",
        ],
        None,
        None,
    )
    .fails();
    assert!(err.contains("no controller answered"), "{err}");
}
