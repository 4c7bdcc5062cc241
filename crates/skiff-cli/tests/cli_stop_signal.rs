//! A server stopped the moment it says it is ready (as scripts and test harnesses do) shuts down
//! cleanly: its Ctrl-C / SIGTERM handlers exist before the ready line. They used to be installed
//! only when first awaited, after it, and such a signal killed the process most of the time.
#![allow(clippy::unwrap_used)]

use crate::support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use support::{SKIFF, free_port};

/// The race is lost in a fraction of runs only, so it gets several chances to show.
const TRIES: usize = 5;

#[test]
fn skiff_dev_stopped_right_after_its_ready_line_exits_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    for (i, signal) in ["-INT", "-TERM"].iter().cycle().take(TRIES).enumerate() {
        let bootstrap = format!("127.0.0.1:{}", free_port());
        let mut child = Command::new(SKIFF)
            .args(["dev", "--data-dir"])
            .arg(dir.path().join(i.to_string()))
            .args(["--kafka-addr", &bootstrap])
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut log = String::new();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        for line in lines.by_ref() {
            let line = line.unwrap();
            log.push_str(&line);
            log.push('\n');
            if line.contains("skiff dev ready: Kafka on ") {
                let sent = Command::new("kill")
                    .arg(signal)
                    .arg(child.id().to_string())
                    .status()
                    .unwrap();
                assert!(sent.success());
                break;
            }
        }
        log.extend(lines.map(|l| l.unwrap() + "\n"));
        let status = child.wait().unwrap();
        assert!(
            status.success(),
            "kill {signal} right after ready: {status:?}\n{log}"
        );
        assert!(log.ends_with("skiff::dev: stopped\n"), "{log}");
    }
}
