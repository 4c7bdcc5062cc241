//! `skiff store check`: before a cluster uses an S3 bucket, find out whether it would keep
//! every acknowledged record. With `aws-sdk-s3`, which can read what `object_store` cannot:
//!
//! - create-only PUTs are honoured (a second `If-None-Match: *` PUT gets 412), which segment
//!   uploads rely on so that no object is ever overwritten;
//! - no lifecycle rule expires (or archives) objects under Skiff's prefix;
//! - versioning and default encryption, reported;
//! - write, read, list and delete work under the prefix (one probe object, removed after).
//!
//! `skiff controller` runs the same check at start on an `s3://` store and refuses a bucket
//! whose report has failures unless told otherwise.

mod bucket_settings;
mod client;
mod error;
mod objects;
mod report;
mod target;

pub use bucket_settings::evaluate_rules;
pub use error::StoreCheckError;
pub use report::{Finding, Report, Risk, Status};
pub use target::S3Target;

use skiff_storage::StoreConfig;

/// Checks the bucket and prefix of `cfg.url` (an `s3://` store), reached with `cfg`'s endpoint,
/// region and credentials (else the usual AWS chain). Errors only when there is nothing to
/// check; everything found, failures included, is in the report.
pub async fn check_store(cfg: &StoreConfig) -> Result<Report, StoreCheckError> {
    let target = S3Target::parse(&cfg.url)?;
    let connection = client::connect(cfg).await;
    let mut findings = Vec::new();
    if objects::check(&connection.client, &target, &mut findings).await {
        bucket_settings::check(&connection.client, &target, &mut findings).await;
    }
    Ok(Report {
        store: target.to_string(),
        endpoint: connection.endpoint,
        region: connection.region,
        findings,
    })
}
