//! `skiff cluster status|describe-config|alter-config`.

use clap::{Args, Subcommand};
use futures::future::join_all;
use serde_json::{Value, json};
use skiff_client::{ConfigResource, KafkaClient};

use super::common::{ClientArgs, config_ops, config_set_json, parse_key_value};
use crate::output::{Table, or_dash, print_json, print_text};

#[derive(Debug, Args)]
pub struct ClusterArgs {
    #[command(subcommand)]
    pub command: ClusterCommand,
}

#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// Brokers (and whether each answers), the controller, topic and partition counts, version.
    #[command(after_help = "Examples:\n  \
        skiff cluster status\n  \
        skiff cluster status --bootstrap broker-1:9092,broker-2:9092 --json")]
    Status(StatusArgs),
    /// Broker configs: one broker's (every key, with its source), or with no --broker the
    /// cluster-wide dynamic defaults that are set.
    #[command(after_help = "Examples:\n  \
        skiff cluster describe-config\n  \
        skiff cluster describe-config --broker 1 --json")]
    DescribeConfig(DescribeConfigArgs),
    /// Set or delete dynamic broker configs, for the whole cluster or (--broker) one broker;
    /// they take effect without a restart.
    #[command(after_help = "Examples:\n  \
        skiff cluster alter-config --set log.retention.ms=86400000\n  \
        skiff cluster alter-config --set log.cleanup.policy=compact,delete\n  \
        skiff cluster alter-config --broker 1 --set message.max.bytes=2097152\n  \
        skiff cluster alter-config --delete log.retention.ms")]
    AlterConfig(AlterConfigArgs),
}

#[derive(Debug, Args)]
pub struct DescribeConfigArgs {
    /// A broker id; without it, the cluster-wide defaults.
    #[arg(long, value_name = "ID")]
    pub broker: Option<i32>,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("change").required(true).multiple(true).args(["set", "delete"]))]
pub struct AlterConfigArgs {
    /// A broker id; without it, the cluster-wide default every broker falls back on.
    #[arg(long, value_name = "ID")]
    pub broker: Option<i32>,
    /// Set a key (repeatable).
    #[arg(long, value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub set: Vec<(String, String)>,
    /// Remove a dynamic value, so the next layer applies (repeatable).
    #[arg(long, value_name = "KEY")]
    pub delete: Vec<String>,
    #[command(flatten)]
    pub client: ClientArgs,
}

fn resource(broker: Option<i32>) -> ConfigResource {
    broker.map_or(ConfigResource::BrokerDefault, ConfigResource::Broker)
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub client: ClientArgs,
}

pub async fn run(args: ClusterArgs) -> anyhow::Result<()> {
    match args.command {
        ClusterCommand::Status(args) => status(args).await,
        ClusterCommand::DescribeConfig(args) => describe_config(args).await,
        ClusterCommand::AlterConfig(args) => alter_config(args).await,
    }
}

async fn describe_config(args: DescribeConfigArgs) -> anyhow::Result<()> {
    let client = args.client.connect().await?;
    let configs = client.describe_configs(&resource(args.broker)).await?;
    if args.client.json {
        let configs: Vec<Value> = configs
            .iter()
            .map(|c| {
                json!({
                    "name": c.name,
                    "value": if c.sensitive { None } else { c.value.clone() },
                    "source": c.source.name(),
                    "read_only": c.read_only,
                })
            })
            .collect();
        print_json(&json!({"broker": args.broker, "configs": configs}))?;
        return Ok(());
    }
    if configs.is_empty() {
        print_text("no cluster-wide dynamic broker configs are set\n")?;
        return Ok(());
    }
    let mut table = Table::new(&["CONFIG", "VALUE", "SOURCE", "DYNAMIC"]);
    for c in &configs {
        let value = if c.sensitive {
            "(sensitive)".to_owned()
        } else {
            or_dash(c.value.as_deref())
        };
        let dynamic = if c.read_only { "no" } else { "yes" };
        table.row(vec![
            c.name.clone(),
            value,
            c.source.name(),
            dynamic.to_owned(),
        ]);
    }
    print_text(&table.render())?;
    Ok(())
}

async fn alter_config(args: AlterConfigArgs) -> anyhow::Result<()> {
    let client = args.client.connect().await?;
    let ops = config_ops(&args.set, &args.delete);
    let target = resource(args.broker);
    client.alter_configs(&target, &ops).await?;
    if args.client.json {
        let set = config_set_json(&args.set);
        print_json(&json!({"broker": args.broker, "set": set, "deleted": args.delete}))?;
    } else {
        let mut changes: Vec<String> = args
            .set
            .iter()
            .map(|(k, v)| format!("set {k}={v}"))
            .collect();
        changes.extend(args.delete.iter().map(|k| format!("removed {k}")));
        print_text(&format!("updated {target}: {}\n", changes.join(", ")))?;
    }
    Ok(())
}

/// Skiff brokers describe `skiff.*` settings among their configs; other Kafka brokers do not.
async fn skiff_version(client: &KafkaClient, broker: i32) -> Option<String> {
    let configs = client
        .describe_configs(&ConfigResource::Broker(broker))
        .await
        .ok()?;
    if let Some(version) = configs.iter().find(|c| c.name == "skiff.version") {
        return version.value.clone();
    }
    configs
        .iter()
        .any(|c| c.name.starts_with("skiff."))
        .then(|| env!("CARGO_PKG_VERSION").to_owned())
}

async fn status(args: StatusArgs) -> anyhow::Result<()> {
    let client = args.client.connect().await?;
    let cluster = client.describe_cluster().await?;
    let metadata = client.fetch_metadata(None).await?;
    let live: Vec<bool> = join_all(
        cluster
            .brokers
            .iter()
            .map(|b| async { client.broker(b.id).await.is_ok() }),
    )
    .await;
    let version = match cluster.brokers.iter().zip(&live).find(|(_, live)| **live) {
        Some((broker, _)) => skiff_version(&client, broker.id).await,
        None => None,
    };
    let topics = metadata.topics.values().filter(|t| !t.internal).count();
    let partitions: usize = metadata
        .topics
        .values()
        .filter(|t| !t.internal)
        .map(|t| t.partitions.len())
        .sum();

    if args.client.json {
        let brokers: Vec<Value> = cluster
            .brokers
            .iter()
            .zip(&live)
            .map(|(b, live)| {
                json!({"id": b.id, "host": b.host, "port": b.port, "rack": b.rack, "live": live})
            })
            .collect();
        print_json(&json!({
            "cluster_id": cluster.cluster_id,
            "controller_id": cluster.controller_id,
            "brokers": brokers,
            "topics": topics,
            "partitions": partitions,
            "skiff_version": version,
        }))?;
        return Ok(());
    }
    let mut text = String::new();
    text.push_str(&format!(
        "cluster     {}\n",
        or_dash(cluster.cluster_id.as_deref())
    ));
    text.push_str(&format!(
        "version     {}\n",
        version.map_or_else(
            || "unknown (not a Skiff cluster?)".to_owned(),
            |v| format!("skiff {v}")
        )
    ));
    text.push_str(&format!(
        "controller  {}\n",
        cluster
            .controller_id
            .map_or_else(|| "unknown".to_owned(), |id| format!("broker {id}"))
    ));
    text.push_str(&format!(
        "topics      {topics} ({partitions} partitions)\n\n"
    ));
    let mut table = Table::new(&["BROKER", "ADDRESS", "RACK", "LIVE"]).numeric(&["BROKER"]);
    for (broker, live) in cluster.brokers.iter().zip(&live) {
        table.row(vec![
            broker.id.to_string(),
            broker.addr(),
            or_dash(broker.rack.as_deref()),
            if *live { "yes" } else { "no" }.to_owned(),
        ]);
    }
    text.push_str(&table.render());
    print_text(&text)?;
    Ok(())
}
