//! The `skiff` command line: `skiff dev` and the client commands for people at a terminal.

use clap::{Parser, Subcommand};

use crate::archive_cmd::ArchiveArgs;
use crate::broker_cmd::BrokerArgs;
use crate::commands::acl::AclArgs;
use crate::commands::cluster::ClusterArgs;
use crate::commands::completions::CompletionsArgs;
use crate::commands::consume::ConsumeArgs;
use crate::commands::group::GroupArgs;
use crate::commands::produce::ProduceArgs;
use crate::commands::topic::TopicArgs;
use crate::commands::user::UserArgs;
use crate::controller_args::ControllerArgs;
use crate::dev_args::DevArgs;
use crate::store_cmd::StoreArgs;

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

    /// Run one node of the Raft controller cluster, or manage the cluster (`controller admin`).
    #[command(after_help = "Examples:\n  \
        skiff controller --node-id 1 --listen 127.0.0.1:29001 \\\n    \
        --peers 1=127.0.0.1:29001,2=127.0.0.1:29002,3=127.0.0.1:29003 --data-dir /tmp/c1 \\\n    \
        --cluster-secret-file /etc/skiff/cluster-secret\n  \
        skiff controller admin -c 127.0.0.1:29001 status\n  \
        skiff controller admin -c 127.0.0.1:29001 add-node --id 4 --addr 127.0.0.1:29004\n\n\
        With --cluster-secret-file (or SKIFF_CLUSTER_SECRET_FILE) every request to the controller API\n\
        is signed with the secret in that file; give every controller, broker and admin command the\n\
        same one (`openssl rand -hex 32 > FILE`). With --controller-tls-cert-file,\n\
        --controller-tls-key-file and --controller-tls-client-ca-file the API is served over TLS and\n\
        every client (peers, brokers, admin commands) must present a certificate that CA signed.")]
    Controller(Box<ControllerArgs>),

    /// Run a stateless broker against a controller cluster and a shared object store.
    #[command(after_help = "Examples:\n  \
        skiff broker --broker-id 1 --controllers 127.0.0.1:29001,127.0.0.1:29002,127.0.0.1:29003 \\\n    \
        --object-store file:///tmp/skiff-objects --kafka-addr 127.0.0.1:29092 --data-dir /tmp/b1 \\\n    \
        --cluster-secret-file /etc/skiff/cluster-secret")]
    Broker(Box<BrokerArgs>),

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

    /// SASL/SCRAM users: create (or set a password), delete, list.
    User(UserArgs),

    /// ACLs (with `--authorizer acl`): create, list, delete, as kafka-acls does.
    Acl(AclArgs),

    /// What the cluster holds: brokers, controller, topics and version.
    Cluster(ClusterArgs),

    /// Check an object store before a cluster uses it (`store check s3://bucket/prefix`).
    Store(StoreArgs),

    /// Topics as Apache Iceberg tables of Parquet files in the object store: `archive run`.
    Archive(ArchiveArgs),

    /// Load generator (librdkafka): produce, consume or end-to-end throughput and latency.
    Bench(Box<skiff_bench::BenchArgs>),

    /// Invoke a Lambda function with batches of records, as AWS's Kafka event source mapping
    /// does, against any Kafka cluster and any Lambda endpoint.
    #[command(after_help = skiff_lambda::trigger::EXAMPLES)]
    Trigger(Box<skiff_lambda::trigger::TriggerArgs>),

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
