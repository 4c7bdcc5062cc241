//! `skiff store check`, and the same check run by `skiff controller` before it starts on an
//! `s3://` store (see `skiff-store-check` for what is checked and why).

use anyhow::Context;
use clap::{Args, Subcommand};
use skiff_storage::StoreConfig;
use skiff_store_check::{Report, Status, check_store};
use tracing::{error, info, warn};

use crate::output::{print_json, print_text};
use crate::store_args::S3Args;

#[derive(Debug, Args)]
pub struct StoreArgs {
    #[command(subcommand)]
    pub command: StoreCommand,
}

#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Check that an S3 bucket keeps every acknowledged record: create-only PUTs honoured, no
    /// lifecycle rule expiring Skiff's prefix, versioning and encryption, and read, write, list
    /// and delete permissions under the prefix. Exits 1 when a check fails.
    #[command(after_help = "Examples:\n  \
        skiff store check s3://my-bucket/skiff\n  \
        skiff store check s3://skiff/dev --s3-endpoint http://127.0.0.1:4566 --json\n\n\
        Credentials and region come from the --s3-* flags, else the usual AWS variables, profile \
        or instance role. The check writes, reads and deletes one probe object under \
        PREFIX/.skiff-store-check/.")]
    Check(StoreCheckArgs),
}

#[derive(Debug, Args)]
pub struct StoreCheckArgs {
    /// The object store to check, as the brokers and controllers are given it (s3://bucket/prefix).
    #[arg(env = "SKIFF_OBJECT_STORE", value_name = "URL")]
    pub object_store: String,

    #[command(flatten)]
    pub s3: S3Args,

    /// Print JSON for scripts instead of text for people.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(args: StoreArgs) -> anyhow::Result<()> {
    match args.command {
        StoreCommand::Check(args) => check(args).await,
    }
}

async fn check(args: StoreCheckArgs) -> anyhow::Result<()> {
    let mut store = StoreConfig::for_url(args.object_store);
    args.s3.apply_to(&mut store);
    let report = check_store(&store).await?;
    if args.json {
        print_json(&report.to_json())?;
    } else {
        print_text(&format!("{report}\n"))?;
    }
    if report.is_ok() {
        Ok(())
    } else {
        anyhow::bail!("{}", report.verdict())
    }
}

/// Run by `skiff controller` on an `s3://` store before it starts: logs every finding and
/// refuses a bucket with a failed check unless `allow_unsafe` (--allow-unsafe-store).
pub async fn check_before_start(store: &StoreConfig, allow_unsafe: bool) -> anyhow::Result<()> {
    let report = check_store(store)
        .await
        .context("cannot check the object store")?;
    log_findings(&report);
    if report.is_ok() {
        info!(store = %report.store, "store check: {}", report.verdict());
        return Ok(());
    }
    if allow_unsafe {
        warn!(store = %report.store, "store check: {}; starting anyway (--allow-unsafe-store)", report.verdict());
        return Ok(());
    }
    let failed: Vec<String> = report
        .failures()
        .map(|f| format!("{}: {}", f.check, f.detail))
        .collect();
    anyhow::bail!(
        "refusing to start on {}: {}\n  {}\n(fix the bucket, or start with --allow-unsafe-store to accept the risk)",
        report.store,
        report.verdict(),
        failed.join("\n  ")
    )
}

fn log_findings(report: &Report) {
    for finding in &report.findings {
        match finding.status {
            Status::Pass => info!(
                check = finding.check,
                "store check passed: {}", finding.detail
            ),
            Status::Warn => warn!(
                check = finding.check,
                "store check warning: {}", finding.detail
            ),
            Status::Fail => error!(
                check = finding.check,
                "store check failed: {}", finding.detail
            ),
        }
    }
}
