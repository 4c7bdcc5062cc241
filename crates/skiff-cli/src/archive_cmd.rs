//! `skiff archive run TOPIC`: one archive pass now, against a controller cluster and the
//! object store its brokers use (see `skiff-archive`). `skiff archive status [TOPIC]`: how far
//! each partition is archived, asked of any broker (or `skiff dev`) over the Kafka protocol:
//! DescribeLogDirs carries the archive's progress in Skiff's tagged fields.

use std::io::IsTerminal;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;
use skiff_archive::{PassConfig, TopicPlan, publish_version_hint};
use skiff_controller::rpc::ControllerEndpoints;
use skiff_meta::proposal::read_answer;
use skiff_meta::{CommitArchive, Proposal};
use skiff_storage::SegmentStore;

use crate::cluster_secret_args::ClusterSecretArgs;
use crate::commands::common::ClientArgs;
use crate::controller_tls_args::ControllerTlsArgs;
use crate::output::{Table, or_dash, print_json, print_text};
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
        Against skiff dev, started with --controller-addr 127.0.0.1:29001:\n  \
        skiff archive run orders -c 127.0.0.1:29001 --object-store file://$PWD/skiff-data/objects\n\n\
        A progress bar shows the stored bytes read when stderr is a terminal.\n\
        Then, in DuckDB: SELECT * FROM iceberg_scan('<store>/archive/orders');")]
    Run(ArchiveRunArgs),

    /// Show how far topics are archived: per partition the first offset not archived yet,
    /// the end offset and the lag between them, and the table's current metadata version.
    #[command(after_help = "Examples:\n  \
        skiff archive status\n  \
        skiff archive status orders --json")]
    Status(ArchiveStatusArgs),
}

#[derive(Debug, Args)]
pub struct ArchiveStatusArgs {
    /// Only this topic (default: every topic that archives).
    pub topic: Option<String>,

    #[command(flatten)]
    pub client: ClientArgs,
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
    pub secret: ClusterSecretArgs,

    #[command(flatten)]
    pub controller_tls: ControllerTlsArgs,

    #[command(flatten)]
    pub store: ObjectStoreArgs,

    /// Print JSON for scripts instead of text for people.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(args: ArchiveArgs) -> anyhow::Result<()> {
    match args.command {
        ArchiveCommand::Run(args) => archive_run(args).await,
        ArchiveCommand::Status(args) => archive_status(args).await,
    }
}

async fn archive_run(args: ArchiveRunArgs) -> anyhow::Result<()> {
    let Some(store_config) = args.store.store_config() else {
        bail!("--object-store is required: the store the brokers write segments to");
    };
    let store = SegmentStore::open(&store_config).context("cannot open the object store")?;
    let tls = args.controller_tls.client()?;
    let endpoints = ControllerEndpoints::with_tls(args.controllers.clone(), tls.as_ref())?
        .with_secret(args.secret.load()?);
    let (_, state) = endpoints
        .snapshot()
        .await
        .context("cannot read the controller state")?;
    let Some(plan) = TopicPlan::from_state(&state, &args.topic) else {
        bail!("topic {} does not exist", args.topic);
    };
    let started = std::time::Instant::now();
    let bar = progress_bar(plan.bytes(), args.json);
    let commit = plan
        .archive(&store, &PassConfig::default(), |read| bar.inc(read))
        .await
        .with_context(|| format!("archiving {} failed; nothing was committed", args.topic));
    bar.finish_and_clear();
    let commit = commit?;
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

/// Stored bytes read so far out of the pass's total, on stderr; hidden for `--json` and when
/// stderr is not a terminal, so scripts and logs see only the result.
fn progress_bar(total: u64, json: bool) -> ProgressBar {
    if json || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {wide_bar} {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} to Parquet",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
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

/// One archiving topic's progress as a broker reports it.
struct TopicStatus {
    topic: String,
    metadata_location: Option<String>,
    last_commit_ms: Option<u64>,
    /// (partition, first offset not archived, end offset).
    partitions: Vec<(i32, i64, Option<i64>)>,
}

impl TopicStatus {
    fn lag(&self) -> i64 {
        self.partitions
            .iter()
            .map(|(_, archived, end)| end.map_or(0, |end| (end - archived).max(0)))
            .sum()
    }

    fn version(&self) -> Option<u32> {
        self.metadata_location
            .as_deref()
            .and_then(skiff_archive::catalog::metadata_version)
    }
}

async fn archive_status(args: ArchiveStatusArgs) -> anyhow::Result<()> {
    let client = args.client.connect().await?;
    let topics: Vec<String> = match &args.topic {
        Some(topic) => vec![topic.clone()],
        None => client
            .list_topics(false)
            .await?
            .into_iter()
            .map(|t| t.name)
            .collect(),
    };
    let mut statuses = Vec::new();
    for name in topics {
        let storage = client
            .describe_partition_storage(&name)
            .await
            .with_context(|| format!("cannot describe topic {name}"))?;
        let archived: Vec<(i32, i64)> = storage
            .iter()
            .filter_map(|s| {
                let offset = varint(s.extra.get(&skiff_broker::ARCHIVED_OFFSET_TAG)?)?;
                Some((s.partition, i64::try_from(offset).ok()?))
            })
            .collect();
        if archived.is_empty() {
            if args.topic.is_some() {
                bail!("topic {name} does not archive (set skiff.archive.enable=true)");
            }
            continue;
        }
        let ends = client
            .list_offsets(&name, &[], skiff_client::OffsetSpec::Latest)
            .await?;
        let first = storage.first();
        let mut partitions: Vec<(i32, i64, Option<i64>)> = archived
            .into_iter()
            .map(|(p, offset)| {
                let end = ends.iter().find(|e| e.partition == p).map(|e| e.offset);
                (p, offset, end)
            })
            .collect();
        partitions.sort_unstable();
        statuses.push(TopicStatus {
            topic: name,
            metadata_location: first
                .and_then(|s| s.extra.get(&skiff_broker::ARCHIVE_METADATA_TAG))
                .map(|b| String::from_utf8_lossy(b).into_owned()),
            last_commit_ms: first
                .and_then(|s| s.extra.get(&skiff_broker::ARCHIVE_COMMITTED_MS_TAG))
                .and_then(|b| varint(b)),
            partitions,
        });
    }
    if args.client.json {
        let topics: Vec<serde_json::Value> = statuses
            .iter()
            .map(|s| {
                json!({
                    "topic": s.topic,
                    "metadata_location": s.metadata_location,
                    "metadata_version": s.version(),
                    "last_commit_ms": s.last_commit_ms,
                    "lag_records": s.lag(),
                    "partitions": s.partitions.iter().map(|(p, archived, end)| json!({
                        "partition": p,
                        "archived_until": archived,
                        "end_offset": end,
                        "lag_records": end.map(|end| (end - archived).max(0)),
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        print_json(&json!({ "topics": topics }))?;
        return Ok(());
    }
    if statuses.is_empty() {
        print_text("no topic archives (set skiff.archive.enable=true on a topic)\n")?;
        return Ok(());
    }
    let mut text = String::new();
    for s in &statuses {
        let since = s.last_commit_ms.map(|ms| {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64);
            format!("{:.1}s ago", now.saturating_sub(ms) as f64 / 1000.0)
        });
        text.push_str(&format!(
            "topic {}  metadata version {}  last archived {}  lag {} records\n  table {}\n",
            s.topic,
            or_dash(s.version()),
            since.unwrap_or_else(|| "never".into()),
            s.lag(),
            or_dash(s.metadata_location.as_deref()),
        ));
        const COLUMNS: [&str; 4] = ["PARTITION", "ARCHIVED UNTIL", "END", "LAG"];
        let mut table = Table::new(&COLUMNS).numeric(&COLUMNS);
        for (p, archived, end) in &s.partitions {
            table.row(vec![
                p.to_string(),
                archived.to_string(),
                or_dash(*end),
                or_dash(end.map(|end| (end - archived).max(0))),
            ]);
        }
        text.push_str(&table.render());
        text.push('\n');
    }
    print_text(&text)?;
    Ok(())
}

/// An unsigned varint, seven bits a byte, low first.
fn varint(bytes: &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for (i, byte) in bytes.iter().enumerate().take(10) {
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}
