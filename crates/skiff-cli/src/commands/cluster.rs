//! `skiff cluster status`.

use clap::{Args, Subcommand};
use futures::future::join_all;
use serde_json::{Value, json};
use skiff_client::{ConfigResource, KafkaClient};

use super::common::ClientArgs;
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
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub client: ClientArgs,
}

pub async fn run(args: ClusterArgs) -> anyhow::Result<()> {
    match args.command {
        ClusterCommand::Status(args) => status(args).await,
    }
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
