//! `skiff produce T`: one record per input line, with optional key, headers and partition.

use std::collections::{BTreeMap, VecDeque};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use clap::{Args, ValueEnum};
use serde_json::json;
use skiff_bench::parse_size;
use skiff_client::{
    Acks, ClientError, Compression, DeliveryFuture, Headers, Producer, ProducerConfig,
    ProducerRecord,
};
use tokio::io::AsyncRead;

use super::common::{ClientArgs, parse_key_value};
use crate::line_reader::LineReader;
use crate::output::{print_json, print_text};

pub const EXAMPLES: &str = "Examples:\n  \
    echo hello | skiff produce greetings\n  \
    printf 'k1:hello\\nk2:world\\n' | skiff produce greetings --key-separator :\n  \
    skiff produce orders --file orders.txt --compression zstd --header source=batch\n  \
    skiff produce orders --partition 2 --acks 1\n\n\
    Each line is one record (without its newline). Type lines and end with Ctrl-D.";

/// Delivery results kept before the oldest is awaited, so memory stays bounded however long
/// the input is.
const MAX_PENDING_RESULTS: usize = 100_000;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum AcksArg {
    #[value(name = "0")]
    Zero,
    #[value(name = "1")]
    One,
    #[value(name = "all", alias = "-1")]
    All,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum CompressionArg {
    None,
    Gzip,
    Snappy,
    Lz4,
    Zstd,
}

#[derive(Debug, Args)]
pub struct ProduceArgs {
    /// Topic to write to.
    pub topic: String,
    /// Split each line at the first SEP into key and value (a line without SEP gets no key).
    #[arg(long, short = 'K', value_name = "SEP")]
    pub key_separator: Option<String>,
    /// A header for every record, e.g. source=cli (repeatable).
    #[arg(long = "header", short = 'H', value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub headers: Vec<(String, String)>,
    /// Write every record to this partition [default: by key hash, round-robin without key].
    #[arg(long, short = 'p', value_name = "N")]
    pub partition: Option<i32>,
    /// Acknowledgements to wait for.
    #[arg(long, value_enum, default_value = "all")]
    pub acks: AcksArg,
    /// Compression codec for record batches.
    #[arg(long, short = 'z', value_enum, default_value = "none")]
    pub compression: CompressionArg,
    /// Read lines from this file instead of standard input.
    #[arg(long, short = 'f', value_name = "PATH")]
    pub file: Option<PathBuf>,
    /// How long a batch waits for more records.
    #[arg(long, default_value_t = 5, value_name = "MS")]
    pub linger_ms: u64,
    /// Batch size that sends a batch at once, e.g. 512KiB.
    #[arg(long, default_value = "512KiB", value_parser = parse_size, value_name = "SIZE")]
    pub batch_bytes: usize,
    /// Longest line accepted, e.g. 1MiB.
    #[arg(long, default_value = "1MiB", value_parser = parse_size, value_name = "SIZE")]
    pub max_line_bytes: usize,
    #[command(flatten)]
    pub client: ClientArgs,
}

/// What happened to the records sent so far.
#[derive(Default)]
struct Tally {
    acknowledged: u64,
    bytes: u64,
    failed: u64,
    partitions: BTreeMap<i32, u64>,
    first_error: Option<ClientError>,
}

impl Tally {
    fn record(&mut self, result: Result<skiff_client::RecordMetadata, ClientError>, bytes: u64) {
        match result {
            Ok(metadata) => {
                self.acknowledged += 1;
                self.bytes += bytes;
                *self.partitions.entry(metadata.partition).or_default() += 1;
            }
            Err(error) => {
                self.failed += 1;
                self.first_error.get_or_insert(error);
            }
        }
    }
}

pub async fn run(args: ProduceArgs) -> anyhow::Result<()> {
    let client = args.client.connect().await?;
    // Fail before reading any input when the topic or partition is wrong.
    let topic = client.refresh_topic(&args.topic).await?;
    if let Some(p) = args.partition
        && topic.partition(p).is_none()
    {
        return Err(ClientError::UnknownPartition {
            topic: args.topic.clone(),
            partition: p,
            partitions: topic.partitions.len(),
        }
        .into());
    }
    let acks = match args.acks {
        AcksArg::Zero => Acks::None,
        AcksArg::One => Acks::Leader,
        AcksArg::All => Acks::All,
    };
    let config = ProducerConfig {
        acks,
        compression: match args.compression {
            CompressionArg::None => Compression::None,
            CompressionArg::Gzip => Compression::Gzip,
            CompressionArg::Snappy => Compression::Snappy,
            CompressionArg::Lz4 => Compression::Lz4,
            CompressionArg::Zstd => Compression::Zstd,
        },
        linger: Duration::from_millis(args.linger_ms),
        batch_bytes: args.batch_bytes.max(1),
        ..ProducerConfig::default()
    };
    let mut producer = Producer::new(client, config);
    let input: Box<dyn AsyncRead + Unpin + Send> = match &args.file {
        Some(path) => Box::new(
            tokio::fs::File::open(path)
                .await
                .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", path.display()))?,
        ),
        None => {
            if std::io::stdin().is_terminal() {
                // Otherwise a person sees a command that seems to hang.
                crate::output::note(&format!(
                    "reading records for {} from the terminal, one per line; Ctrl-D sends them and ends",
                    args.topic
                ));
            }
            Box::new(tokio::io::stdin())
        }
    };
    let mut lines = LineReader::new(input, args.max_line_bytes);
    let headers: Headers = args
        .headers
        .iter()
        .map(|(k, v)| (kafka_str(k), Some(Bytes::copy_from_slice(v.as_bytes()))))
        .collect();

    let mut tally = Tally::default();
    let mut pending: VecDeque<(DeliveryFuture, u64)> = VecDeque::new();
    let mut sent = 0u64;
    let read_result = loop {
        let line = tokio::select! {
            line = lines.next_line() => line,
            _ = tokio::signal::ctrl_c() => break Ok(()),
        };
        let line = match line {
            Ok(Some(line)) => line,
            Ok(None) => break Ok(()),
            Err(error) => break Err(anyhow::Error::from(error)),
        };
        let (key, value) = split_key(line, args.key_separator.as_deref());
        let bytes = (key.as_ref().map_or(0, Bytes::len) + value.len()) as u64;
        let record = ProducerRecord {
            key,
            value: Some(value),
            headers: headers.clone(),
            partition: args.partition,
            timestamp: None,
        };
        let delivery = producer.send(&args.topic, record).await?;
        sent += 1;
        pending.push_back((delivery, bytes));
        settle(&mut pending, &mut tally, MAX_PENDING_RESULTS).await;
    };
    producer.flush().await?;
    settle(&mut pending, &mut tally, 0).await;
    drop(producer);
    read_result?;

    report(&args, acks, sent, &tally)?;
    if let Some(error) = tally.first_error {
        anyhow::bail!(
            "{} of {sent} records were not acknowledged; the first failure: {error}",
            tally.failed
        );
    }
    Ok(())
}

/// Takes finished results off the front, and waits for the oldest while more than `keep` are
/// outstanding.
async fn settle(pending: &mut VecDeque<(DeliveryFuture, u64)>, tally: &mut Tally, keep: usize) {
    while let Some((front, _)) = pending.front() {
        if let Some(result) = front.try_result() {
            if let Some((_, bytes)) = pending.pop_front() {
                tally.record(result, bytes);
            }
            continue;
        }
        if pending.len() <= keep {
            return;
        }
        if let Some((delivery, bytes)) = pending.pop_front() {
            tally.record(delivery.wait().await, bytes);
        }
    }
}

fn split_key(line: Bytes, separator: Option<&str>) -> (Option<Bytes>, Bytes) {
    let Some(separator) = separator.map(str::as_bytes).filter(|s| !s.is_empty()) else {
        return (None, line);
    };
    match line.windows(separator.len()).position(|w| w == separator) {
        Some(at) => (Some(line.slice(..at)), line.slice(at + separator.len()..)),
        None => (None, line),
    }
}

fn kafka_str(text: &str) -> kafka_protocol::protocol::StrBytes {
    kafka_protocol::protocol::StrBytes::from_string(text.to_owned())
}

fn report(args: &ProduceArgs, acks: Acks, sent: u64, tally: &Tally) -> anyhow::Result<()> {
    let partitions: Vec<String> = tally.partitions.keys().map(i32::to_string).collect();
    if args.client.json {
        let by_partition: serde_json::Map<String, serde_json::Value> = tally
            .partitions
            .iter()
            .map(|(p, n)| (p.to_string(), json!(n)))
            .collect();
        print_json(&json!({
            "topic": args.topic,
            "records": tally.acknowledged,
            "bytes": tally.bytes,
            "partitions": by_partition,
            "failed": tally.failed,
            "acks": match acks { Acks::None => "0", Acks::Leader => "1", Acks::All => "all" },
            "error": tally.first_error.as_ref().map(ToString::to_string),
        }))?;
        return Ok(());
    }
    let verb = if acks == Acks::None {
        "sent (acks=0, not confirmed)"
    } else {
        "produced"
    };
    let plural = if tally.acknowledged == 1 {
        "record"
    } else {
        "records"
    };
    let mut text = format!(
        "{verb} {} {plural} ({} bytes) to {}",
        tally.acknowledged, tally.bytes, args.topic
    );
    if !partitions.is_empty() {
        let label = if partitions.len() == 1 {
            "partition"
        } else {
            "partitions"
        };
        text.push_str(&format!(", {label} {}", partitions.join(", ")));
    }
    if tally.failed > 0 {
        text.push_str(&format!("; {} of {sent} failed", tally.failed));
    }
    text.push('\n');
    // The summary is for the person at the terminal; records' data may be on stdout's pipe.
    print_text(&text)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_split_at_the_first_separator_only() {
        let (key, value) = split_key(Bytes::from_static(b"k1:a:b"), Some(":"));
        assert_eq!(key.as_deref(), Some(&b"k1"[..]));
        assert_eq!(&value[..], b"a:b");
        let (key, value) = split_key(Bytes::from_static(b"no separator"), Some("::"));
        assert_eq!(key, None);
        assert_eq!(&value[..], b"no separator");
        let (key, _) = split_key(Bytes::from_static(b"a:b"), None);
        assert_eq!(key, None);
    }
}
