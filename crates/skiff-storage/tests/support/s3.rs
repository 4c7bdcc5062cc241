//! A real S3-compatible server for the tests that want one: set SKIFF_TEST_S3_ENDPOINT (bucket
//! from SKIFF_TEST_S3_BUCKET, default "skiff-test"; credentials from AWS_ACCESS_KEY_ID and
//! AWS_SECRET_ACCESS_KEY, default "test").

use skiff_storage::StoreConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SKIP_MESSAGE: &str = "skipped: set SKIFF_TEST_S3_ENDPOINT (e.g. http://127.0.0.1:4566) to run against a real S3-compatible server";

/// Without an S3 server the test is skipped, except under tests/run (SKIFF_REQUIRE_S3=1),
/// where a missing server means the harness is broken and must not pass silently.
pub fn skip() {
    assert!(
        std::env::var_os("SKIFF_REQUIRE_S3").is_none(),
        "SKIFF_REQUIRE_S3 is set but SKIFF_TEST_S3_ENDPOINT is not"
    );
    println!("{SKIP_MESSAGE}");
}

pub struct S3Target {
    pub endpoint: String,
    pub bucket: String,
}

pub fn s3_target() -> Option<S3Target> {
    let endpoint = std::env::var("SKIFF_TEST_S3_ENDPOINT")
        .ok()
        .filter(|e| !e.is_empty())?;
    let bucket = std::env::var("SKIFF_TEST_S3_BUCKET").unwrap_or_else(|_| "skiff-test".to_string());
    Some(S3Target { endpoint, bucket })
}

pub fn s3_config(target: &S3Target, prefix: &str) -> StoreConfig {
    let mut cfg = StoreConfig::for_url(format!("s3://{}/{prefix}", target.bucket));
    cfg.endpoint = Some(target.endpoint.clone());
    if std::env::var("AWS_ACCESS_KEY_ID").is_err() {
        cfg.access_key_id = Some("test".to_string());
        cfg.secret_access_key = Some("test".to_string());
    }
    cfg
}

/// moto and LocalStack accept an unsigned `PUT /bucket`, so no signer is needed here.
pub async fn ensure_bucket(target: &S3Target) {
    let host = target
        .endpoint
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let mut stream = tokio::net::TcpStream::connect(&host)
        .await
        .unwrap_or_else(|err| panic!("cannot reach {}: {err}", target.endpoint));
    let request = format!(
        "PUT /{} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        target.bucket
    );
    stream
        .write_all(request.as_bytes())
        .await
        .expect("send bucket PUT");
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .await
        .expect("bucket PUT response");
    let status_line = String::from_utf8_lossy(&response)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string();
    // 200 created, 409 already exists (owned by us): both leave a usable bucket.
    assert!(
        status_line.contains(" 200") || status_line.contains(" 409"),
        "bucket creation answered {status_line}"
    );
}
