//! Drives the real `skiff` binary: a `skiff dev` on a free port with a temp data dir, and
//! client commands against it.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod processes;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub const SKIFF: &str = env!("CARGO_BIN_EXE_skiff");
const READY: &str = "skiff dev ready: Kafka on ";
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// A client command that takes longer than this is hung, not slow.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `skiff dev`; stopped with SIGINT when dropped.
pub struct Dev {
    child: Child,
    pub bootstrap: String,
    _dir: tempfile::TempDir,
    log: PathBuf,
}

impl Dev {
    pub fn start() -> Dev {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("skiff.log");
        // A port picked by binding to 0 can be taken before skiff binds it: then try another.
        for _ in 0..3 {
            let bootstrap = format!("127.0.0.1:{}", free_port());
            let mut child = Command::new(SKIFF)
                .args(["dev", "--data-dir"])
                .arg(dir.path().join("data"))
                .args(["--kafka-addr", &bootstrap, "--flush-interval-ms", "5"])
                // Groups rebalance as soon as their members are in, not 3 s later.
                .args(["--group-initial-rebalance-delay-ms", "0"])
                .env("NO_COLOR", "1")
                .env_remove("SKIFF_BOOTSTRAP")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&log).unwrap())
                .spawn()
                .unwrap();
            let deadline = Instant::now() + START_TIMEOUT;
            loop {
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                if text.contains(&format!("{READY}{bootstrap}")) {
                    return Dev {
                        child,
                        bootstrap,
                        _dir: dir,
                        log,
                    };
                }
                if let Some(status) = child.try_wait().unwrap() {
                    if text.contains("in use") {
                        break;
                    }
                    panic!("skiff dev exited with {status} before it was ready:\n{text}");
                }
                if Instant::now() >= deadline {
                    let _ = child.kill();
                    panic!("skiff dev not ready within {START_TIMEOUT:?}:\n{text}");
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        panic!("skiff dev found no free port in 3 tries");
    }

    /// Runs `skiff ARGS` against this cluster.
    pub fn run(&self, args: &[&str]) -> Run {
        run_with(args, None, Some(&self.bootstrap))
    }

    /// Runs `skiff ARGS` with `input` on stdin.
    pub fn run_with_input(&self, args: &[&str], input: &[u8]) -> Run {
        run_with(args, Some(input), Some(&self.bootstrap))
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Dev {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A finished command.
#[derive(Debug)]
pub struct Run {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Run {
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// Asserts exit 0 and returns stdout.
    pub fn ok(&self) -> String {
        assert!(
            self.status.success(),
            "expected success, got {:?}\nstdout: {}\nstderr: {}",
            self.status,
            self.stdout(),
            self.stderr
        );
        self.stdout()
    }

    /// Asserts exit 1 with exactly one line on stderr, and returns it.
    pub fn fails(&self) -> String {
        assert_eq!(
            self.code(),
            Some(1),
            "expected exit 1\nstdout: {}\nstderr: {}",
            self.stdout(),
            self.stderr
        );
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "one error line expected: {:?}", self.stderr);
        assert!(lines[0].starts_with("error: "), "{:?}", lines[0]);
        lines[0].to_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.stdout()))
    }

    /// One JSON value per stdout line.
    pub fn json_lines(&self) -> Vec<serde_json::Value> {
        self.stdout()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect()
    }
}

/// Runs `skiff ARGS`, failing the test if it does not finish within [`COMMAND_TIMEOUT`].
pub fn run_with(args: &[&str], input: Option<&[u8]>, bootstrap: Option<&str>) -> Run {
    let mut command = Command::new(SKIFF);
    command
        .args(args)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env_remove("SKIFF_LOG");
    match bootstrap {
        Some(bootstrap) => command.env("SKIFF_BOOTSTRAP", bootstrap),
        None => command.env_remove("SKIFF_BOOTSTRAP"),
    };
    let mut child = command.spawn().unwrap();
    if let Some(input) = input {
        let mut stdin = child.stdin.take().unwrap();
        let input = input.to_vec();
        std::thread::spawn(move || {
            let _ = stdin.write_all(&input);
        });
    }
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || read_all(stdout));
    let err = std::thread::spawn(move || read_all(stderr));
    let deadline = Instant::now() + COMMAND_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            panic!("skiff {args:?} did not finish within {COMMAND_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Run {
        status,
        stdout: out.join().unwrap(),
        stderr: String::from_utf8_lossy(&err.join().unwrap()).into_owned(),
    }
}

/// Runs `skiff ARGS` with `input` on stdin against `bootstrap`; asserts success, returns stdout.
pub fn run_with_input_at(args: &[&str], input: &[u8], bootstrap: &str) -> String {
    run_with(args, Some(input), Some(bootstrap)).ok()
}

fn read_all(mut reader: impl Read) -> Vec<u8> {
    let mut out = Vec::new();
    let _ = reader.read_to_end(&mut out);
    out
}

/// A long-running `skiff` whose stdout lines arrive on a channel.
pub struct Streaming {
    pub child: Child,
    lines: mpsc::Receiver<String>,
}

impl Streaming {
    pub fn spawn(args: &[&str], bootstrap: &str) -> Streaming {
        let mut child = Command::new(SKIFF)
            .args(args)
            .env("SKIFF_BOOTSTRAP", bootstrap)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Streaming { child, lines }
    }

    /// The next stdout line, failing the test after `timeout`.
    pub fn next_line(&self, timeout: Duration) -> String {
        self.lines
            .recv_timeout(timeout)
            .unwrap_or_else(|e| panic!("no output line within {timeout:?}: {e}"))
    }

    /// The next stdout line if one arrives within `timeout`.
    pub fn try_next_line(&self, timeout: Duration) -> Option<String> {
        self.lines.recv_timeout(timeout).ok()
    }

    /// Waits for the process to exit on its own, failing the test after `timeout`.
    pub fn wait(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "no exit within {timeout:?}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Sends SIGINT (Ctrl-C) and waits for the exit.
    pub fn interrupt(mut self, timeout: Duration) -> (ExitStatus, String) {
        let status = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                let mut stderr = String::new();
                if let Some(mut err) = self.child.stderr.take() {
                    let _ = err.read_to_string(&mut stderr);
                }
                return (status, stderr);
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                panic!("no exit within {timeout:?} of SIGINT");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Streaming {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Calls `probe` until it returns `Some`, failing the test with `what` and the last value
/// seen after `timeout`.
pub fn wait_until<T, L: std::fmt::Debug>(
    timeout: Duration,
    what: &str,
    mut probe: impl FnMut() -> Result<T, L>,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        match probe() {
            Ok(value) => return value,
            Err(last) => assert!(
                Instant::now() < deadline,
                "timed out after {timeout:?} waiting for {what}; last: {last:?}"
            ),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
