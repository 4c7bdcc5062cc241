//! `skiff archive run TOPIC`: one archive pass now, against a controller cluster and the
//! object store its brokers use (see `skiff-archive`).

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use serde_json::json;
use skiff_archive::{PassConfig, TopicPlan, publish_version_hint};
use skiff_controller::rpc::ControllerEndpoints;
use skiff_meta::proposal::read_answer;
use skiff_meta::{CommitArchive, Proposal};
use skiff_storage::SegmentStore;

use crate::output::{print_json, print_text};
use crate::store_args::ObjectStoreArgs;

#[derive(Debug, Args)]
pub struct ArchiveArgs {
    #[command(subcommand)]
    pub command: ArchiveCommand,
}

#[derive(Debug, Subcommand)]
pub enum ArchiveCommand {
    /// Archive a topic now: every record not archived yet goes into its Iceberg table
    /// (Parquet files under archive/TOPIC/ in the object store), committed exactly once.
    #[command(after_help = "Examples:\n  \
        skiff archive run orders -c 127.0.0.1:29001 --object-store file:///tmp/skiff-objects\n  \
        skiff archive run orders -c 127.0.0.1:29001 --object-store s3://bucket/skiff \\\n    \
        --s3-endpoint http://127.0.0.1:4566 --json\n\n\
        Then, in DuckDB: SELECT * FROM iceberg_scan('<store>/archive/orders');")]
    Run(ArchiveRunArgs),
}

#[derive(Debug, Args)]
pub struct ArchiveRunArgs {
    /// The topic to archive.
    pub topic: String,

    /// Controller addresses (any member; proposals are forwarded to the leader).
    #[arg(
        long,
        short = 'c',
        env = "SKIFF_CONTROLLERS",
        value_name = "HOST:PORT[,HOST:PORT...]",
        value_delimiter = ',',
        required = true
    )]
    pub controllers: Vec<String>,

    #[command(flatten)]
    pub store: ObjectStoreArgs,

    /// Print JSON for scripts instead of text for people.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(args: ArchiveArgs) -> anyhow::Result<()> {
    match args.command {
        ArchiveCommand::Run(args) => archive_run(args).await,
    }
}

async fn archive_run(args: ArchiveRunArgs) -> anyhow::Result<()> {
    let Some(store_config) = args.store.store_config() else {
        bail!("--object-store is required: the store the brokers write segments to");
    };
    let store = SegmentStore::open(&store_config).context("cannot open the object store")?;
    let endpoints = ControllerEndpoints::new(args.controllers.clone())?;
    let (_, state) = endpoints
        .snapshot()
        .await
        .context("cannot read the controller state")?;
    let Some(plan) = TopicPlan::from_state(&state, &args.topic) else {
        bail!("topic {} does not exist", args.topic);
    };
    let started = std::time::Instant::now();
    let commit = plan
        .archive(&store, &PassConfig::default(), |_| {})
        .await
        .with_context(|| format!("archiving {} failed; nothing was committed", args.topic))?;
    let Some(commit) = commit else {
        return report(&args, None, started);
    };
    let proposal = plan.commit_command(&commit);
    let shape = proposal.shape();
    let command: skiff_meta::Command = proposal.into();
    let kind = command.kind();
    let proposed = endpoints
        .submit(command)
        .await
        .context("cannot commit the archive to the controller")?;
    read_answer::<CommitArchive>(kind, &shape, proposed.response)?
        .context("the controller refused the archive commit; the files written are garbage")?;
    publish_version_hint(&store, &args.topic, &commit.metadata_location).await?;
    report(&args, Some(&commit), started)
}

fn report(
    args: &ArchiveRunArgs,
    commit: Option<&skiff_archive::ArchiveCommit>,
    started: std::time::Instant,
) -> anyhow::Result<()> {
    let seconds = started.elapsed().as_secs_f64();
    if args.json {
        let value = match commit {
            None => json!({"topic": args.topic, "archived": false, "seconds": seconds}),
            Some(c) => json!({
                "topic": args.topic,
                "archived": true,
                "metadata_location": c.metadata_location,
                "rows": c.rows,
                "data_files": c.data_files,
                "data_bytes": c.data_bytes,
                "last_offsets": c.last_offsets,
                "seconds": seconds,
            }),
        };
        print_json(&value)?;
        return Ok(());
    }
    let text = match commit {
        None => format!("{}: nothing new to archive\n", args.topic),
        Some(c) => {
            let offsets = c
                .last_offsets
                .iter()
                .map(|(p, o)| format!("{p}:{o}"))
                .collect::<Vec<_>>()
                .join(" ");
            format!(
                "{}: archived {} rows in {} files ({} bytes) in {seconds:.1}s\n  table metadata {}\n  archived up to (partition:offset) {offsets}\n",
                args.topic, c.rows, c.data_files, c.data_bytes, c.metadata_location
            )
        }
    };
    print_text(&text)?;
    Ok(())
}
