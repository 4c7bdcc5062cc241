//! What the job tests share: the stores they run against and the wall clock their manual
//! clocks start from.
#![allow(dead_code)]

use std::time::{SystemTime, UNIX_EPOCH};

use skiff_storage::{SegmentStore, StoreConfig};

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
