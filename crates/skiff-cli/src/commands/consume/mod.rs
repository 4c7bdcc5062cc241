//! `skiff consume T`: read a topic's partitions from a chosen start and print the records.

mod format;
mod group_source;
mod source;
mod start;

use std::io::{BufWriter, Write};
use std::time::Duration;

use clap::{Args, ValueEnum};
use skiff_client::{ClientError, FetchConfig};
use tokio::time::Instant;

use self::format::{TextOptions, write_json, write_text};
use self::group_source::{GroupSource, GroupSourceConfig, OffsetReset};
use self::source::{AssignedSource, RecordSource};
pub use self::start::parse_time;
use self::start::{Start, StartOffset, parse_start_offset};
use super::common::ClientArgs;
use crate::output::OutputError;

pub const EXAMPLES: &str = "Examples:\n  \
    skiff consume orders                       # everything there is now, then exit\n  \
    skiff consume orders --follow              # and keep waiting for more (Ctrl-C stops)\n  \
    skiff consume orders --offset -10          # the last 10 records of each partition\n  \
    skiff consume orders --from-time -1h --partition 0 --print-keys --print-offsets\n  \
    skiff consume orders --from-time 2024-05-01T12:00:00Z --format json | jq .value\n  \
    skiff consume orders --max-records 1 --json\n  \
    skiff consume orders --follow --max-records 5 --idle-timeout-ms 10000  # give up after 10 s of quiet\n  \
    skiff consume orders --group billing --follow  # share partitions with the group, commit as it reads\n  \
    skiff consume orders --group billing --from-beginning  # partitions without a commit start at the beginning";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// The value of each record, one per line (raw bytes).
    Text,
    /// One JSON object per line: topic, partition, offset, timestamp, key, value, headers.
    Json,
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("start").args(["from_beginning", "offset", "from_time"]))]
pub struct ConsumeArgs {
    /// Topic to read.
    pub topic: String,
    /// Start at the first record of each partition (the default without --group; with --group,
    /// for partitions the group has no committed offset for, which otherwise start at the end).
    #[arg(long)]
    pub from_beginning: bool,
    /// Start at this offset; -N for N before the end; `beginning` or `end`.
    #[arg(long, short = 'o', value_name = "N|-N|end", value_parser = parse_start_offset, allow_hyphen_values = true)]
    pub offset: Option<StartOffset>,
    /// Start at the first record at or after a time: RFC 3339, epoch ms, or relative (-1h, -30m).
    #[arg(long, value_name = "TIME", value_parser = parse_time, allow_hyphen_values = true)]
    pub from_time: Option<i64>,
    /// Read only this partition (repeatable) [default: all].
    #[arg(long, short = 'p', value_name = "N")]
    pub partition: Vec<i32>,
    /// Join this consumer group: read the partitions it assigns, starting at its committed
    /// offsets, commit what was printed, and leave it on exit.
    #[arg(long, short = 'g', value_name = "GROUP", conflicts_with_all = ["offset", "from_time", "partition"])]
    pub group: Option<String>,
    /// With --group: the group drops this consumer after this long without a heartbeat.
    #[arg(long, value_name = "MS", default_value_t = 10_000, requires = "group")]
    pub session_timeout_ms: u64,
    /// With --group: commit printed records' offsets this often (and always on exit).
    #[arg(long, value_name = "MS", default_value_t = 5_000, requires = "group")]
    pub commit_interval_ms: u64,
    /// Stop after this many records. Stopping short of them (at the end without --follow, or
    /// after --idle-timeout-ms) says so on stderr and still exits 0, as Kafka's console consumer.
    #[arg(long, short = 'n', value_name = "N")]
    pub max_records: Option<u64>,
    /// Keep waiting for new records instead of exiting at the end; Ctrl-C stops.
    #[arg(long, short = 'f')]
    pub follow: bool,
    /// Stop when no record has arrived for this long, counted from the start and then from each
    /// record (Kafka console consumer's --timeout-ms).
    #[arg(long, value_name = "MS")]
    pub idle_timeout_ms: Option<u64>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: OutputFormat,
    /// Prefix each text line with partition:offset.
    #[arg(long)]
    pub print_offsets: bool,
    /// Print each record's key before its value (text format).
    #[arg(long)]
    pub print_keys: bool,
    /// What separates key and value with --print-keys.
    #[arg(long, default_value = "\t", value_name = "SEP")]
    pub key_separator: String,
    /// Base64 for every key, value and header value in JSON, text or not.
    #[arg(long)]
    pub base64: bool,
    #[command(flatten)]
    pub client: ClientArgs,
}

pub async fn run(mut args: ConsumeArgs) -> anyhow::Result<()> {
    args.partition.sort_unstable();
    args.partition.dedup();
    let client = args.client.connect().await?;
    let topic = client.refresh_topic(&args.topic).await?;
    if let Some(group) = &args.group {
        let config = GroupSourceConfig {
            group_id: group.clone(),
            topic: args.topic.clone(),
            reset: if args.from_beginning {
                OffsetReset::Earliest
            } else {
                OffsetReset::Latest
            },
            session_timeout: Duration::from_millis(args.session_timeout_ms),
            commit_interval: Duration::from_millis(args.commit_interval_ms),
            fetch: fetch_config(),
        };
        let source = GroupSource::new(client, config)?;
        return consume(source, &args).await;
    }
    for &p in &args.partition {
        if topic.partition(p).is_none() {
            return Err(ClientError::UnknownPartition {
                topic: args.topic.clone(),
                partition: p,
                partitions: topic.partitions.len(),
            }
            .into());
        }
    }
    let start = match (args.offset, args.from_time) {
        (Some(offset), _) => Start::Offset(offset),
        (None, Some(ms)) => Start::Time(ms),
        (None, None) => Start::Offset(StartOffset::Beginning),
    };
    let ranges = start::resolve(&client, &args.topic, &args.partition, start).await?;
    let source = AssignedSource::new(client, &args.topic, &ranges, fetch_config());
    consume(source, &args).await
}

fn fetch_config() -> FetchConfig {
    FetchConfig {
        max_wait: Duration::from_millis(500),
        ..FetchConfig::default()
    }
}

/// Copies records from `source` to stdout until caught up (without --follow), the record
/// limit, Ctrl-C or SIGTERM; each ends with exit 0. The source is closed (a group source
/// commits and leaves) however copying ended; a copying error wins over a closing one.
async fn consume(mut source: impl RecordSource, args: &ConsumeArgs) -> anyhow::Result<()> {
    let copied = copy_records(&mut source, args).await;
    let closed = source.close().await;
    copied?;
    Ok(closed?)
}

/// Why copying stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// --max-records reached.
    Limit,
    /// Everything there was at the start has been read (without --follow).
    CaughtUp,
    /// Nothing arrived for --idle-timeout-ms.
    Idle,
    /// Ctrl-C or SIGTERM.
    Stopped,
    /// The reader of our output went away.
    ReaderGone,
}

async fn copy_records(source: &mut impl RecordSource, args: &ConsumeArgs) -> anyhow::Result<()> {
    let (end, written) = copy_until_end(source, args).await?;
    if let Some(note) = end_note(end, written, args) {
        crate::output::note(&note);
    }
    Ok(())
}

/// What a person at the terminal should hear about how reading ended: nothing when it ended
/// as asked, a line when it stopped short of --max-records or gave up waiting. Kafka's console
/// consumer prints "Processed a total of N messages" (and a TimeoutException on
/// --timeout-ms) in the same cases, and exits 0 as well.
fn end_note(end: End, written: u64, args: &ConsumeArgs) -> Option<String> {
    let records = |n: u64| if n == 1 { "record" } else { "records" };
    let count = match args.max_records {
        Some(max) => format!("{written} of {max} {}", records(max)),
        None => format!("{written} {}", records(written)),
    };
    match end {
        End::CaughtUp if args.max_records.is_some() => Some(format!(
            "note: reached the end of {} after {count}; --follow waits for more",
            args.topic
        )),
        End::Idle => Some(format!(
            "note: timed out: no record for {} ms (--idle-timeout-ms) after {count}",
            args.idle_timeout_ms.unwrap_or_default()
        )),
        End::Limit | End::CaughtUp | End::Stopped | End::ReaderGone => None,
    }
}

async fn copy_until_end(
    source: &mut impl RecordSource,
    args: &ConsumeArgs,
) -> anyhow::Result<(End, u64)> {
    let json = args.client.json || args.format == OutputFormat::Json;
    let text = TextOptions {
        print_keys: args.print_keys,
        print_offsets: args.print_offsets,
        key_separator: args.key_separator.clone(),
    };
    let mut out = BufWriter::new(std::io::stdout().lock());
    let mut written = 0u64;
    let limit = args.max_records.unwrap_or(u64::MAX);
    let stop = stop_signal();
    tokio::pin!(stop);
    let stdout_gone = crate::output::stdout_reader_gone();
    tokio::pin!(stdout_gone);
    let idle_timeout = args.idle_timeout_ms.map(Duration::from_millis);
    let mut last_record = Instant::now();
    let end = loop {
        if written >= limit {
            break End::Limit;
        }
        if !args.follow && source.caught_up() {
            break End::CaughtUp;
        }
        let batch = tokio::select! {
            batch = source.next_batch() => batch?,
            () = &mut stop => break End::Stopped,
            () = &mut stdout_gone => break End::ReaderGone,
            () = idle_expired(idle_timeout.map(|t| last_record + t)) => break End::Idle,
        };
        if !batch.is_empty() {
            last_record = Instant::now();
        }
        let wanted = batch
            .len()
            .min(usize::try_from(limit - written).unwrap_or(usize::MAX));
        let mut printed = 0;
        let mut reader_gone = false;
        for record in &batch[..wanted] {
            let result = if json {
                write_json(&mut out, record, args.base64)
            } else {
                write_text(&mut out, record, &text)
            };
            if finished_output(result)? {
                reader_gone = true;
                break;
            }
            printed += 1;
        }
        written += printed as u64;
        // Only records that reached the reader count as processed (and get committed).
        reader_gone = reader_gone || finished_output(out.flush())?;
        source.processed(&batch[..printed]).await?;
        if reader_gone {
            return Ok((End::ReaderGone, written));
        }
    };
    if finished_output(out.flush())? {
        return Ok((End::ReaderGone, written));
    }
    Ok((end, written))
}

/// Resolves at `deadline`, or never without one.
async fn idle_expired(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// True when the reader of our output went away (`| head`): a normal end, not an error.
fn finished_output(result: std::io::Result<()>) -> Result<bool, OutputError> {
    match result.map_err(OutputError::from) {
        Ok(()) => Ok(false),
        Err(OutputError::Closed) => Ok(true),
        Err(e) => Err(e),
    }
}

/// Resolves on Ctrl-C (SIGINT) or SIGTERM.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut terminate) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = terminate.recv() => {}
            }
            return;
        }
    }
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}
