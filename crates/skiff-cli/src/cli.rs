//! The `skiff` command line: `skiff dev` and the client commands for people at a terminal.

use clap::{Parser, Subcommand};

use crate::commands::cluster::ClusterArgs;
use crate::commands::completions::CompletionsArgs;
use crate::commands::consume::ConsumeArgs;
use crate::commands::group::GroupArgs;
use crate::commands::produce::ProduceArgs;
use crate::commands::topic::TopicArgs;
pub use crate::dev_args::DevArgs;

#[derive(Debug, Parser)]
#[command(
    name = "skiff",
    version,
    about = "Kafka-compatible streaming that keeps every record in object storage",
    after_help = "Examples:\n  \
        skiff dev\n  \
        skiff topic create orders --partitions 3\n  \
        printf 'k1:hello\\nk2:world\\n' | skiff produce orders --key-separator :\n  \
        skiff consume orders --print-keys\n  \
        skiff consume orders --group billing --follow\n  \
        skiff group describe billing\n  \
        skiff cluster status\n\n\
        Client commands find the cluster with --bootstrap or SKIFF_BOOTSTRAP (default 127.0.0.1:9092)."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a controller, a broker and a local object store in one process.
    #[command(after_help = "Examples:\n  \
        skiff dev\n  \
        skiff dev --data-dir /tmp/skiff --kafka-addr 127.0.0.1:19092 --auto-create-topics\n  \
        AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \\\n    \
        skiff dev --object-store s3://my-bucket/skiff --s3-endpoint http://127.0.0.1:4566")]
    Dev(Box<DevArgs>),

    /// Create, list, describe, delete and configure topics.
    Topic(TopicArgs),

    /// Write records to a topic: one per line of standard input or a file.
    #[command(after_help = crate::commands::produce::EXAMPLES)]
    Produce(ProduceArgs),

    /// Read records from a topic and print them.
    #[command(after_help = crate::commands::consume::EXAMPLES)]
    Consume(ConsumeArgs),

    /// Consumer groups: list, describe (members, committed offsets, lag), reset offsets, delete.
    Group(GroupArgs),

    /// What the cluster holds: brokers, controller, topics and version.
    Cluster(ClusterArgs),

    /// Print a shell completion script.
    #[command(after_help = crate::commands::completions::EXAMPLES)]
    Completions(CompletionsArgs),
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn sizes_and_switches_parse() {
        let cli = Cli::try_parse_from([
            "skiff",
            "dev",
            "--flush-bytes",
            "1MiB",
            "--auto-create-topics",
        ])
        .unwrap();
        let Command::Dev(args) = cli.command else {
            panic!("parsed as another command");
        };
        assert_eq!(args.flush_bytes, Some(1 << 20));
        assert_eq!(args.auto_create_topics, Some(true));
        let err = Cli::try_parse_from(["skiff", "dev", "--flush-bytes", "huge"]).unwrap_err();
        assert!(err.to_string().contains("not a size"), "{err}");
    }
}
