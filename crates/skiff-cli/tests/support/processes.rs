//! Long-running `skiff controller` / `skiff broker` processes with their logs in files.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::SKIFF;

pub const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A running `skiff` server process; killed when dropped if still running.
pub struct Process {
    child: Child,
    pub log: PathBuf,
}

impl Process {
    pub fn spawn(args: &[String], log: &Path) -> Process {
        let child = Command::new(SKIFF)
            .args(args)
            .env("NO_COLOR", "1")
            .env_remove("SKIFF_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(log).unwrap())
            .spawn()
            .unwrap();
        Process {
            child,
            log: log.to_path_buf(),
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits (polling the log file, bounded) until the log contains `needle`.
    pub fn wait_for_log(&mut self, needle: &str) {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let text = self.log_text();
            if text.contains(needle) {
                return;
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("exited with {status} before logging {needle:?}:\n{text}");
            }
            assert!(
                Instant::now() < deadline,
                "no {needle:?} within {START_TIMEOUT:?}:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends SIGTERM and waits (bounded) for the exit.
    pub fn terminate(&mut self) -> ExitStatus {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "did not stop within 30 s of SIGTERM:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Process {
    /// SIGKILL: no flush, no goodbye. Waits for the exit.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Starts three controller nodes on free ports; returns them and their addresses.
pub fn start_controllers(dir: &Path) -> (Vec<Process>, Vec<String>) {
    let addrs: Vec<String> = (0..3)
        .map(|_| format!("127.0.0.1:{}", super::free_port()))
        .collect();
    let peers = addrs
        .iter()
        .enumerate()
        .map(|(i, a)| format!("{}={a}", i + 1))
        .collect::<Vec<_>>()
        .join(",");
    let mut nodes: Vec<Process> = addrs
        .iter()
        .enumerate()
        .map(|(i, addr)| {
            let id = i + 1;
            let args: Vec<String> = [
                "controller",
                "--node-id",
                &id.to_string(),
                "--listen",
                addr,
                "--peers",
                &peers,
                "--data-dir",
                dir.join(format!("c{id}")).to_str().unwrap(),
            ]
            .iter()
            .map(|s| s.to_string())
            .collect();
            Process::spawn(&args, &dir.join(format!("c{id}.log")))
        })
        .collect();
    for (i, node) in nodes.iter_mut().enumerate() {
        node.wait_for_log(&format!("skiff controller ready: node {} on ", i + 1));
    }
    (nodes, addrs)
}

/// Starts a broker against `controllers` on the shared file store under `dir/objects`.
pub fn start_broker(dir: &Path, id: u32, controllers: &[String]) -> (Process, String) {
    let kafka = format!("127.0.0.1:{}", super::free_port());
    let objects = dir.join("objects");
    std::fs::create_dir_all(&objects).unwrap();
    let args: Vec<String> = [
        "broker",
        "--broker-id",
        &id.to_string(),
        "--controllers",
        &controllers.join(","),
        "--object-store",
        &format!("file://{}", objects.display()),
        "--kafka-addr",
        &kafka,
        "--data-dir",
        dir.join(format!("b{id}")).to_str().unwrap(),
        "--flush-interval-ms",
        "5",
        "--cache-disk-bytes",
        "0",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut process = Process::spawn(&args, &dir.join(format!("b{id}.log")));
    process.wait_for_log(&format!(
        "skiff broker ready: broker {id}, Kafka on {kafka}"
    ));
    (process, kafka)
}
