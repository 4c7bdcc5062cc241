//! `--from-time` (RFC 3339, epoch ms, relative) and `consume --follow` stopped with Ctrl-C.
#![allow(clippy::unwrap_used)]

use crate::support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use support::{Dev, Streaming};

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Waits (bounded) until the wall clock has passed `ms`, so later records get later stamps.
fn wait_for_clock_past(ms: i64) {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while now_ms() <= ms {
        assert!(
            std::time::Instant::now() < deadline,
            "the clock did not advance"
        );
        std::thread::yield_now();
    }
}

#[test]
fn from_time_starts_at_the_first_record_at_or_after_it() {
    let dev = Dev::start();
    dev.run(&["topic", "create", "timed", "--partitions", "2"])
        .ok();
    dev.run_with_input(&["produce", "timed"], b"old-1\nold-2\n")
        .ok();
    let cut = now_ms();
    wait_for_clock_past(cut);
    let cut = now_ms();
    dev.run_with_input(&["produce", "timed"], b"new-1\nnew-2\nnew-3\n")
        .ok();

    let rfc3339 = chrono::DateTime::from_timestamp_millis(cut)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let sorted = |out: String| {
        let mut lines: Vec<String> = out.lines().map(str::to_owned).collect();
        lines.sort();
        lines
    };
    assert_eq!(
        sorted(dev.run(&["consume", "timed", "--from-time", &rfc3339]).ok()),
        ["new-1", "new-2", "new-3"]
    );
    assert_eq!(
        sorted(
            dev.run(&["consume", "timed", "--from-time", &cut.to_string()])
                .ok()
        ),
        ["new-1", "new-2", "new-3"]
    );
    assert_eq!(
        sorted(dev.run(&["consume", "timed", "--from-time", "-1h"]).ok()),
        ["new-1", "new-2", "new-3", "old-1", "old-2"]
    );
    assert_eq!(
        dev.run(&["consume", "timed", "--from-time", "2999-01-01T00:00:00Z"])
            .ok(),
        ""
    );
    // A relative time after every record: nothing, and a clean exit.
    let later = now_ms() + 3_600_000;
    assert_eq!(
        dev.run(&["consume", "timed", "--from-time", &later.to_string()])
            .ok(),
        ""
    );
}

#[test]
fn consume_follow_prints_new_records_and_exits_0_on_ctrl_c() {
    let dev = Dev::start();
    dev.run(&["topic", "create", "live"]).ok();
    dev.run_with_input(&["produce", "live"], b"before\n").ok();
    let follower = Streaming::spawn(
        &["consume", "live", "--follow", "--print-offsets"],
        &dev.bootstrap,
    );
    assert_eq!(follower.next_line(Duration::from_secs(30)), "0:0 before");
    dev.run_with_input(&["produce", "live"], b"after-1\nafter-2\n")
        .ok();
    assert_eq!(follower.next_line(Duration::from_secs(30)), "0:1 after-1");
    assert_eq!(follower.next_line(Duration::from_secs(30)), "0:2 after-2");
    let (status, stderr) = follower.interrupt(Duration::from_secs(30));
    assert_eq!(status.code(), Some(0), "stderr: {stderr}");
    assert_eq!(stderr, "");
}

#[test]
fn follow_with_a_record_limit_stops_by_itself() {
    let dev = Dev::start();
    dev.run(&["topic", "create", "limited"]).ok();
    let follower = Streaming::spawn(
        &["consume", "limited", "--follow", "-n", "2"],
        &dev.bootstrap,
    );
    dev.run_with_input(&["produce", "limited"], b"1\n2\n3\n")
        .ok();
    assert_eq!(follower.next_line(Duration::from_secs(30)), "1");
    assert_eq!(follower.next_line(Duration::from_secs(30)), "2");
    let mut follower = follower;
    let status = follower.wait(Duration::from_secs(30));
    assert!(status.success());
}
