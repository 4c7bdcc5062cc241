//! The `skiff bench` command line: three modes sharing one set of connection, topic and
//! producer settings.

use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};

use crate::parse::{Throughput, parse_duration, parse_key_value, parse_size, parse_throughput};

/// Where clients find the cluster when neither --bootstrap nor SKIFF_BOOTSTRAP says.
pub const DEFAULT_BOOTSTRAP: &str = "127.0.0.1:9092";

/// Records produced when neither --records nor --duration is given.
pub const DEFAULT_RECORDS: u64 = 1_000_000;

const PRODUCE_EXAMPLES: &str = "Examples:\n  \
    skiff bench produce --topic bench --partitions 8 --record-size 1KiB --records 2000000\n  \
    skiff bench produce --topic bench --duration 30s --compression zstd --acks 1\n  \
    skiff bench produce --topic bench --throughput 20MB/s --duration 1m --json\n  \
    skiff bench produce --topic bench --producer-prop queue.buffering.max.kbytes=2097152\n\n\
    --throughput caps the offered rate: a plain number is records per second (50000),\n\
    a suffix makes it bytes per second (20MB/s = 20,000,000 B/s, 16MiB/s = 16,777,216 B/s).\n\
    MB in the summary is 1,000,000 bytes.";

const CONSUME_EXAMPLES: &str = "Examples:\n  \
    skiff bench consume --topic bench\n  \
    skiff bench consume --topic bench --records 1000000 --json\n  \
    skiff bench consume --topic bench --consumer-prop fetch.max.bytes=104857600\n\n\
    Reads every partition from its start, without a consumer group, until --records\n\
    records or the end offsets seen at start (a catch-up read).";

const E2E_EXAMPLES: &str = "Examples:\n  \
    skiff bench e2e --topic bench-e2e --throughput 20MB/s --duration 30s\n  \
    skiff bench e2e --topic bench-e2e --records 100000 --acks 1 --linger-ms 0\n\n\
    Latency is consume time minus send time, carried in each record's first 8 bytes\n\
    (so --record-size must be at least 8).";

#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub mode: BenchMode,
}

#[derive(Debug, Clone, Subcommand)]
pub enum BenchMode {
    /// Produce as fast as allowed and measure send → acknowledgement latency.
    #[command(after_help = PRODUCE_EXAMPLES)]
    Produce(ProduceArgs),
    /// Read a topic from its start (catch-up) and measure read throughput.
    #[command(after_help = CONSUME_EXAMPLES)]
    Consume(ConsumeArgs),
    /// Produce and consume at once and measure send → consumed latency.
    #[command(after_help = E2E_EXAMPLES)]
    E2e(E2eArgs),
}

/// Settings every mode shares.
#[derive(Debug, Clone, Args)]
pub struct CommonArgs {
    /// Kafka bootstrap addresses, comma-separated.
    #[arg(
        long,
        short = 'b',
        env = "SKIFF_BOOTSTRAP",
        default_value = DEFAULT_BOOTSTRAP,
        value_name = "HOST:PORT[,HOST:PORT...]"
    )]
    pub bootstrap: String,
    /// Topic to write to or read from.
    #[arg(long, short = 't', default_value = "skiff-bench")]
    pub topic: String,
    /// Print the summary as one JSON object (and no progress bar).
    #[arg(long)]
    pub json: bool,
    /// The broker's Prometheus endpoint, read before and after the run to report object
    /// store requests per GB, e.g. http://127.0.0.1:9644/metrics.
    #[arg(long, value_name = "URL")]
    pub metrics_url: Option<String>,
    /// How long to wait for the cluster to answer metadata and admin requests.
    #[arg(long, default_value = "10s", value_parser = parse_duration, value_name = "DURATION")]
    pub connect_timeout: Duration,
    /// Kafka client properties for every client of the run, as Kafka's tools take them
    /// (security.protocol, sasl.mechanism, sasl.username, sasl.password, or any other
    /// librdkafka setting); --producer-prop and --consumer-prop win over it. This librdkafka
    /// has no OpenSSL: PLAINTEXT, or SASL_PLAINTEXT with PLAIN, only.
    #[arg(long, env = "SKIFF_COMMAND_CONFIG", value_name = "FILE", value_parser = crate::properties::parse_properties_file)]
    pub command_config: Option<crate::properties::Properties>,
}

/// What to produce, how much, and how fast.
#[derive(Debug, Clone, Args)]
pub struct LoadArgs {
    /// Partitions of the topic, created with this count when it does not exist.
    #[arg(long, short = 'p', default_value_t = 8, value_name = "N")]
    pub partitions: i32,
    /// Size of each record's value, e.g. 1024 or 1KiB.
    #[arg(long, short = 's', default_value = "1KiB", value_parser = parse_size, value_name = "SIZE")]
    pub record_size: usize,
    /// Records to send [default: 1000000 unless --duration is given].
    #[arg(long, short = 'n', value_name = "N", conflicts_with = "duration")]
    pub records: Option<u64>,
    /// Send for this long instead of a record count, e.g. 30s, 2m, 500ms.
    #[arg(long, short = 'd', value_parser = parse_duration, value_name = "DURATION")]
    pub duration: Option<Duration>,
    /// Offered rate cap: records/s (50000) or bytes/s with a unit (20MB/s, 16MiB/s) [default: none].
    #[arg(long, value_parser = parse_throughput, value_name = "RATE")]
    pub throughput: Option<Throughput>,
    /// Acknowledgements the producer waits for.
    #[arg(long, value_enum, default_value = "all")]
    pub acks: AcksArg,
    /// Compression codec for record batches.
    #[arg(long, short = 'z', value_enum, default_value = "none")]
    pub compression: CompressionArg,
    /// Give every record its own key (its sequence number), so librdkafka's partitioner spreads
    /// the records over all partitions as keyed application traffic does, instead of filling
    /// one partition at a time as it does with keyless records (sticky partitioning).
    #[arg(long)]
    pub keyed: bool,
    /// How long a batch waits for more records (librdkafka linger.ms).
    #[arg(long, default_value_t = 5, value_name = "MS")]
    pub linger_ms: u64,
    /// Largest batch per partition in bytes (librdkafka batch.size), e.g. 1MB.
    #[arg(long, default_value = "1000000", value_parser = parse_size, value_name = "SIZE")]
    pub batch_size: usize,
    /// A librdkafka producer setting, e.g. queue.buffering.max.kbytes=2097152 (repeatable;
    /// applied last, so it overrides the flags above).
    #[arg(long = "producer-prop", value_parser = parse_key_value, value_name = "KEY=VALUE")]
    pub producer_props: Vec<(String, String)>,
}

impl LoadArgs {
    /// How the send loop decides it is done.
    pub fn stop_condition(&self) -> StopCondition {
        match (self.records, self.duration) {
            (_, Some(duration)) => StopCondition::Duration(duration),
            (Some(records), None) => StopCondition::Records(records),
            (None, None) => StopCondition::Records(DEFAULT_RECORDS),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopCondition {
    Records(u64),
    Duration(Duration),
}

#[derive(Debug, Clone, Args)]
pub struct ProduceArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub load: LoadArgs,
}

#[derive(Debug, Clone, Args)]
pub struct ConsumeArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Stop after this many records [default: the end offsets seen at start].
    #[arg(long, short = 'n', value_name = "N")]
    pub records: Option<u64>,
    /// Give up when no record arrives for this long.
    #[arg(long, default_value = "10s", value_parser = parse_duration, value_name = "DURATION")]
    pub idle_timeout: Duration,
    /// A librdkafka consumer setting, e.g. fetch.max.bytes=104857600 (repeatable).
    #[arg(long = "consumer-prop", value_parser = parse_key_value, value_name = "KEY=VALUE")]
    pub consumer_props: Vec<(String, String)>,
}

#[derive(Debug, Clone, Args)]
pub struct E2eArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub load: LoadArgs,
    /// Give up when the consumer sees no record for this long.
    #[arg(long, default_value = "10s", value_parser = parse_duration, value_name = "DURATION")]
    pub idle_timeout: Duration,
    /// A librdkafka consumer setting, e.g. fetch.wait.max.ms=10 (repeatable).
    #[arg(long = "consumer-prop", value_parser = parse_key_value, value_name = "KEY=VALUE")]
    pub consumer_props: Vec<(String, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AcksArg {
    #[value(name = "0")]
    Zero,
    #[value(name = "1")]
    One,
    #[value(name = "all", alias = "-1")]
    All,
}

impl AcksArg {
    /// The value of librdkafka's `acks`.
    pub fn as_config(self) -> &'static str {
        match self {
            AcksArg::Zero => "0",
            AcksArg::One => "1",
            AcksArg::All => "all",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CompressionArg {
    None,
    Gzip,
    Snappy,
    Lz4,
    Zstd,
}

impl CompressionArg {
    /// The value of librdkafka's `compression.type`.
    pub fn as_config(self) -> &'static str {
        match self {
            CompressionArg::None => "none",
            CompressionArg::Gzip => "gzip",
            CompressionArg::Snappy => "snappy",
            CompressionArg::Lz4 => "lz4",
            CompressionArg::Zstd => "zstd",
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::*;
    use crate::parse::Throughput;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        bench: BenchArgs,
    }

    fn parse(words: &[&str]) -> Result<BenchMode, clap::Error> {
        Cli::try_parse_from(std::iter::once("bench").chain(words.iter().copied()))
            .map(|cli| cli.bench.mode)
    }

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn produce_flags_parse_into_settings() {
        let BenchMode::Produce(args) = parse(&[
            "produce",
            "--bootstrap",
            "127.0.0.1:28092",
            "--topic",
            "t",
            "--partitions",
            "16",
            "--record-size",
            "2KiB",
            "--duration",
            "30s",
            "--acks",
            "1",
            "--compression",
            "zstd",
            "--throughput",
            "20MB/s",
            "--linger-ms",
            "10",
            "--batch-size",
            "2MiB",
            "--producer-prop",
            "queue.buffering.max.kbytes=2097152",
            "--json",
        ])
        .unwrap() else {
            panic!("parsed as another mode");
        };
        assert_eq!(args.common.bootstrap, "127.0.0.1:28092");
        assert_eq!(args.load.partitions, 16);
        assert_eq!(args.load.record_size, 2048);
        assert_eq!(
            args.load.stop_condition(),
            StopCondition::Duration(Duration::from_secs(30))
        );
        assert_eq!(args.load.acks.as_config(), "1");
        assert_eq!(args.load.compression.as_config(), "zstd");
        assert_eq!(args.load.throughput, Some(Throughput::BytesPerSec(20e6)));
        assert_eq!(args.load.batch_size, 2 << 20);
        assert_eq!(
            args.load.producer_props,
            [(
                "queue.buffering.max.kbytes".to_owned(),
                "2097152".to_owned()
            )]
        );
        assert!(args.common.json);
    }

    #[test]
    fn records_default_when_no_duration_is_given_and_both_conflict() {
        let BenchMode::Produce(args) = parse(&["produce"]).unwrap() else {
            panic!("parsed as another mode");
        };
        assert_eq!(
            args.load.stop_condition(),
            StopCondition::Records(DEFAULT_RECORDS)
        );
        let err = parse(&["produce", "--records", "5", "--duration", "1s"]).unwrap_err();
        assert!(err.to_string().contains("cannot be used with"), "{err}");
    }

    #[test]
    fn bad_values_are_rejected_with_a_hint() {
        let err = parse(&["produce", "--acks", "2"]).unwrap_err().to_string();
        assert!(err.contains("possible values"), "{err}");
        let err = parse(&["e2e", "--throughput", "fast"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a rate"), "{err}");
        let err = parse(&["consume", "--consumer-prop", "novalue"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("not key=value"), "{err}");
    }

    #[test]
    fn every_mode_explains_itself_with_examples() {
        for mode in ["produce", "consume", "e2e"] {
            let err = parse(&[mode, "--help"]).unwrap_err();
            let help = err.to_string();
            assert!(help.contains("Examples:"), "{mode} --help: {help}");
            assert!(help.contains("SKIFF_BOOTSTRAP"), "{mode} --help: {help}");
            assert!(help.contains(DEFAULT_BOOTSTRAP), "{mode} --help: {help}");
        }
    }
}
