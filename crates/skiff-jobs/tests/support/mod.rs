//! What the job tests share: the stores they run against, the clocks, the controller steps
//! they wait on, and the varint their hand-built batches use.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{BufMut, BytesMut};
use skiff_controller::Controller;
use skiff_controller::clock::ManualClock;
use skiff_jobs::Clock;
use skiff_meta::{BrokerInfo, ControllerState, Propose, RegisterBroker};
use skiff_storage::{SegmentStore, StoreConfig};

pub const WAIT: Duration = Duration::from_secs(30);

pub fn wall_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

pub enum Store {
    Memory,
    File,
    S3,
}

/// The store a test runs against; `None` (the test skips) for S3 when no endpoint is set,
/// unless SKIFF_REQUIRE_S3 says it must run. S3 tests get a fresh `prefix-<uuid>` folder.
pub fn open_store(kind: &Store, dir: &std::path::Path, prefix: &str) -> Option<SegmentStore> {
    let config = match kind {
        Store::Memory => StoreConfig::for_url("memory://"),
        Store::File => StoreConfig::for_url(format!("file://{}", dir.join("objects").display())),
        Store::S3 => {
            let Some(endpoint) = std::env::var("SKIFF_TEST_S3_ENDPOINT")
                .ok()
                .filter(|e| !e.is_empty())
            else {
                assert!(
                    std::env::var_os("SKIFF_REQUIRE_S3").is_none(),
                    "SKIFF_REQUIRE_S3 is set but SKIFF_TEST_S3_ENDPOINT is not"
                );
                println!("skipped: set SKIFF_TEST_S3_ENDPOINT to run against a real S3 server");
                return None;
            };
            let bucket =
                std::env::var("SKIFF_TEST_S3_BUCKET").unwrap_or_else(|_| "skiff-test".into());
            let folder = format!("{prefix}-{}", uuid::Uuid::new_v4().simple());
            let mut config = StoreConfig::for_url(format!("s3://{bucket}/{folder}"));
            config.endpoint = Some(endpoint);
            if std::env::var("AWS_ACCESS_KEY_ID").is_err() {
                config.access_key_id = Some("test".into());
                config.secret_access_key = Some("test".into());
            }
            config
        }
    };
    Some(SegmentStore::open(&config).expect("store"))
}

/// The job runner's clock, read from the controller's manual clock.
pub fn manual(clock: &ManualClock) -> Clock {
    let clock = clock.clone();
    Arc::new(move || skiff_controller::clock::Clock::now_ms(&clock))
}

pub async fn register(controller: &Controller, id: i32) {
    controller
        .propose(RegisterBroker(BrokerInfo {
            id,
            host: "127.0.0.1".into(),
            port: 9092,
            rack: None,
        }))
        .await
        .expect("register");
}

/// Waits (at most [`WAIT`]) until the applied state satisfies `done`.
pub async fn wait_until(
    controller: &Controller,
    what: &str,
    mut done: impl FnMut(&ControllerState) -> bool,
) {
    let state = controller.state();
    let mut applied = state.applied();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if done(&state.read()) {
            return;
        }
        if tokio::time::timeout_at(deadline, applied.changed())
            .await
            .is_err()
        {
            panic!("{what}: not within {WAIT:?}");
        }
    }
}

/// A zigzag varint, as record fields are written.
pub fn varint(out: &mut BytesMut, value: i64) {
    let mut v = ((value << 1) ^ (value >> 63)) as u64;
    while v >= 0x80 {
        out.put_u8((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    out.put_u8(v as u8);
}
