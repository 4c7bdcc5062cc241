//! `check_store` against a real S3-compatible server (LocalStack under tests/run; any server at
//! SKIFF_TEST_S3_ENDPOINT). Each test makes its own bucket, shapes it (lifecycle rules,
//! versioning), and asserts what the check reports.

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, BucketVersioningStatus,
    ExpirationStatus, LifecycleExpiration, LifecycleRule, LifecycleRuleFilter,
    NoncurrentVersionExpiration, VersioningConfiguration,
};
use skiff_storage::StoreConfig;
use skiff_store_check::{Report, Risk, Status, check_store};

const PREFIX: &str = "skiff";

struct Server {
    endpoint: String,
    client: aws_sdk_s3::Client,
}

/// The server tests/run started, or None (skipped) outside it.
fn server() -> Option<Server> {
    let Ok(endpoint) = std::env::var("SKIFF_TEST_S3_ENDPOINT") else {
        assert!(
            std::env::var_os("SKIFF_REQUIRE_S3").is_none(),
            "SKIFF_REQUIRE_S3 is set but SKIFF_TEST_S3_ENDPOINT is not"
        );
        eprintln!(
            "skipped: set SKIFF_TEST_S3_ENDPOINT (e.g. http://127.0.0.1:4566) to run against a real S3-compatible server"
        );
        return None;
    };
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(&endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            access_key(),
            secret_key(),
            None,
            None,
            "test",
        ))
        .force_path_style(true)
        .build();
    Some(Server {
        endpoint,
        client: aws_sdk_s3::Client::from_conf(config),
    })
}

fn access_key() -> String {
    std::env::var("AWS_ACCESS_KEY_ID").unwrap_or_else(|_| "test".into())
}

fn secret_key() -> String {
    std::env::var("AWS_SECRET_ACCESS_KEY").unwrap_or_else(|_| "test".into())
}

impl Server {
    async fn new_bucket(&self) -> String {
        let bucket = format!(
            "skiff-check-{}",
            ulid::Ulid::new().to_string().to_lowercase()
        );
        self.client
            .create_bucket()
            .bucket(&bucket)
            .send()
            .await
            .expect("create bucket");
        bucket
    }

    fn store(&self, bucket: &str) -> StoreConfig {
        let mut store = StoreConfig::for_url(format!("s3://{bucket}/{PREFIX}"));
        store.endpoint = Some(self.endpoint.clone());
        store.region = Some("us-east-1".into());
        store.access_key_id = Some(access_key());
        store.secret_access_key = Some(secret_key());
        store
    }

    async fn check(&self, bucket: &str) -> Report {
        check_store(&self.store(bucket)).await.expect("check runs")
    }

    async fn set_rules(&self, bucket: &str, rules: Vec<LifecycleRule>) {
        self.client
            .put_bucket_lifecycle_configuration()
            .bucket(bucket)
            .lifecycle_configuration(
                BucketLifecycleConfiguration::builder()
                    .set_rules(Some(rules))
                    .build()
                    .expect("rules"),
            )
            .send()
            .await
            .expect("put lifecycle configuration");
    }
}

fn status_of(report: &Report, check: &str) -> Status {
    report
        .finding(check)
        .unwrap_or_else(|| panic!("no {check} finding in\n{report}"))
        .status
}

fn rule(id: &str, prefix: &str) -> aws_sdk_s3::types::builders::LifecycleRuleBuilder {
    LifecycleRule::builder()
        .id(id)
        .status(ExpirationStatus::Enabled)
        .filter(LifecycleRuleFilter::builder().prefix(prefix).build())
}

fn abort_after_two_days() -> AbortIncompleteMultipartUpload {
    AbortIncompleteMultipartUpload::builder()
        .days_after_initiation(2)
        .build()
}

#[tokio::test]
async fn a_fresh_bucket_passes_every_object_check_and_the_probe_is_removed() {
    let Some(server) = server() else { return };
    let bucket = server.new_bucket().await;
    let report = server.check(&bucket).await;

    assert!(report.is_ok(), "{report}");
    for check in [
        "bucket",
        "write",
        "create-only-put",
        "read",
        "list",
        "delete",
        "lifecycle",
    ] {
        assert_eq!(
            status_of(&report, check),
            Status::Pass,
            "{check} in\n{report}"
        );
    }
    assert!(
        report
            .finding("create-only-put")
            .unwrap()
            .detail
            .contains("412"),
        "{report}"
    );
    let left = server
        .client
        .list_objects_v2()
        .bucket(&bucket)
        .prefix(format!("{PREFIX}/"))
        .send()
        .await
        .expect("list");
    assert!(
        left.contents().is_empty(),
        "probe left behind: {:?}",
        left.contents()
    );
}

#[tokio::test]
async fn an_expiration_rule_on_the_prefix_fails_the_check_as_a_data_risk() {
    let Some(server) = server() else { return };
    let bucket = server.new_bucket().await;
    server
        .set_rules(
            &bucket,
            vec![
                rule("expire-segments", "skiff/")
                    .expiration(LifecycleExpiration::builder().days(30).build())
                    .build()
                    .unwrap(),
                rule("cleanup", "")
                    .abort_incomplete_multipart_upload(abort_after_two_days())
                    .build()
                    .unwrap(),
            ],
        )
        .await;
    let report = server.check(&bucket).await;

    assert!(!report.is_ok(), "{report}");
    let risks: Vec<_> = report.data_risks().collect();
    assert_eq!(risks.len(), 1, "{report}");
    assert_eq!(risks[0].check, "lifecycle");
    assert!(
        risks[0].detail.contains("rule \"expire-segments\"") && risks[0].detail.contains("30 days"),
        "{report}"
    );
    assert_eq!(status_of(&report, "multipart-cleanup"), Status::Pass);
    let json = report.to_json();
    assert_eq!(json["ok"], false);
    assert_eq!(json["risks_data"], true);
}

#[tokio::test]
async fn rules_for_other_prefixes_and_housekeeping_rules_pass() {
    let Some(server) = server() else { return };
    let bucket = server.new_bucket().await;
    server
        .set_rules(
            &bucket,
            vec![
                rule("expire-logs", "logs/")
                    .expiration(LifecycleExpiration::builder().days(1).build())
                    .build()
                    .unwrap(),
                rule("housekeeping", "")
                    .abort_incomplete_multipart_upload(abort_after_two_days())
                    .noncurrent_version_expiration(
                        NoncurrentVersionExpiration::builder()
                            .noncurrent_days(7)
                            .build(),
                    )
                    .build()
                    .unwrap(),
            ],
        )
        .await;
    let report = server.check(&bucket).await;

    assert!(report.is_ok(), "{report}");
    assert_eq!(status_of(&report, "lifecycle"), Status::Pass, "{report}");
    assert!(
        report
            .finding("lifecycle")
            .unwrap()
            .detail
            .contains("2 rule(s)"),
        "{report}"
    );
}

#[tokio::test]
async fn versioning_without_a_noncurrent_expiry_warns_and_with_one_passes() {
    let Some(server) = server() else { return };
    let bucket = server.new_bucket().await;
    server
        .client
        .put_bucket_versioning()
        .bucket(&bucket)
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .expect("enable versioning");

    let report = server.check(&bucket).await;
    assert!(report.is_ok(), "{report}");
    assert_eq!(status_of(&report, "versioning"), Status::Warn, "{report}");
    // On a versioned bucket the probe's delete leaves a marker; the check still sees it gone.
    assert_eq!(status_of(&report, "delete"), Status::Pass, "{report}");

    server
        .set_rules(
            &bucket,
            vec![
                rule("noncurrent", "skiff/")
                    .noncurrent_version_expiration(
                        NoncurrentVersionExpiration::builder()
                            .noncurrent_days(7)
                            .build(),
                    )
                    .build()
                    .unwrap(),
            ],
        )
        .await;
    let report = server.check(&bucket).await;
    assert_eq!(status_of(&report, "versioning"), Status::Pass, "{report}");
}

#[tokio::test]
async fn a_missing_bucket_is_one_clear_failure() {
    let Some(server) = server() else { return };
    let report = server.check("skiff-check-no-such-bucket").await;
    assert_eq!(report.findings.len(), 1, "{report}");
    let finding = &report.findings[0];
    assert_eq!(
        (finding.check, finding.status, finding.risk),
        ("bucket", Status::Fail, Risk::Unusable)
    );
    assert!(finding.detail.contains("does not exist"), "{report}");
}

#[tokio::test]
async fn an_unreachable_endpoint_is_one_clear_failure() {
    let mut store = StoreConfig::for_url(format!("s3://anything/{PREFIX}"));
    // Port 1 on loopback: nothing listens, the connection is refused at once.
    store.endpoint = Some("http://127.0.0.1:1".into());
    store.region = Some("us-east-1".into());
    store.access_key_id = Some("test".into());
    store.secret_access_key = Some("test".into());
    let report = check_store(&store).await.expect("check runs");
    assert!(!report.is_ok());
    assert_eq!(report.findings.len(), 1, "{report}");
    assert!(
        report.findings[0].detail.contains("cannot reach the store"),
        "{report}"
    );
}
