//! `skiff topic create|list|describe|delete|alter-config|add-partitions`.

use clap::{Args, Subcommand};
use futures::stream::{self, StreamExt};
use serde_json::{Value, json};
use skiff_client::{
    ClientError, ConfigEntry, ConfigResource, DELETE_ALL_RECORDS, KafkaClient, NewTopic,
    OffsetSpec, PartitionStorage, TopicInfo,
};

use super::common::{ClientArgs, config_ops, config_set_json, parse_key_value};
use super::consume::parse_time;
use crate::output::{Table, or_dash, print_json, print_text};

const TOPIC_ALREADY_EXISTS: i16 = 36;
/// Topics whose offsets are looked up at once by `topic list`.
const CONCURRENT_LOOKUPS: usize = 8;

#[derive(Debug, Args)]
pub struct TopicArgs {
    #[command(subcommand)]
    pub command: TopicCommand,
}

#[derive(Debug, Subcommand)]
pub enum TopicCommand {
    /// Create a topic.
    #[command(after_help = "Examples:\n  \
        skiff topic create orders\n  \
        skiff topic create orders --partitions 6 --config retention.ms=86400000\n  \
        skiff topic create orders --if-not-exists --json")]
    Create(CreateArgs),

    /// List topics with their partition and record counts.
    #[command(after_help = "Examples:\n  \
        skiff topic list\n  \
        skiff topic list --json | jq -r '.topics[].name'")]
    List(ListArgs),

    /// Show a topic's partitions (leader, start and end offset) and configs (source, enforced).
    #[command(after_help = "Examples:\n  \
        skiff topic describe orders\n  \
        skiff topic describe orders --json")]
    Describe(NameArgs),

    /// Delete a topic and its records.
    #[command(after_help = "Examples:\n  \
        skiff topic delete orders\n  \
        skiff topic delete orders --if-exists")]
    Delete(DeleteArgs),

    /// Set or delete (reset to default) topic config keys.
    #[command(after_help = "Examples:\n  \
        skiff topic alter-config orders --set retention.ms=3600000\n  \
        skiff topic alter-config orders --set max.message.bytes=2097152 --delete retention.ms")]
    AlterConfig(AlterConfigArgs),

    /// Delete a partition's records before an offset or a time (the log start moves there).
    #[command(after_help = "Examples:\n  \
        skiff topic delete-records orders --partition 0 --offset 1200\n  \
        skiff topic delete-records orders --offset -1           # every record, every partition\n  \
        skiff topic delete-records orders --before-time -7d")]
    DeleteRecords(DeleteRecordsArgs),

    /// Grow a topic to a number of partitions (partitions are never removed).
    #[command(after_help = "Examples:\n  \
        skiff topic add-partitions orders --to 12")]
    AddPartitions(AddPartitionsArgs),
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Topic name.
    pub topic: String,
    /// Number of partitions [default: the broker's num.partitions].
    #[arg(long, short = 'p', value_name = "N")]
    pub partitions: Option<i32>,
    /// Replicas per partition [default: the broker's; Skiff stores data once, in object storage].
    #[arg(long, short = 'r', value_name = "N")]
    pub replication_factor: Option<i16>,
    /// A topic config, e.g. retention.ms=86400000 (repeatable).
    #[arg(long = "config", short = 'c', value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub configs: Vec<(String, String)>,
    /// Succeed without change when the topic exists already.
    #[arg(long)]
    pub if_not_exists: bool,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Include internal topics (such as __consumer_offsets on Kafka).
    #[arg(long)]
    pub internal: bool,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Debug, Args)]
pub struct NameArgs {
    /// Topic name.
    pub topic: String,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// Topic name.
    pub topic: String,
    /// Succeed without change when the topic does not exist.
    #[arg(long)]
    pub if_exists: bool,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("before").required(true).args(["offset", "before_time"]))]
pub struct DeleteRecordsArgs {
    /// Topic name.
    pub topic: String,
    /// Only this partition (repeatable) [default: every partition].
    #[arg(long, short = 'p', value_name = "N")]
    pub partition: Vec<i32>,
    /// Delete records before this offset; -1 for every record.
    #[arg(long, value_name = "OFFSET", allow_negative_numbers = true)]
    pub offset: Option<i64>,
    /// Delete records older than this time (ms since the epoch, RFC 3339, or -1h, -7d...).
    #[arg(long, value_name = "TIME", value_parser = parse_time, allow_hyphen_values = true)]
    pub before_time: Option<i64>,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("change").required(true).multiple(true).args(["set", "delete"]))]
pub struct AlterConfigArgs {
    /// Topic name.
    pub topic: String,
    /// Set a key (repeatable).
    #[arg(long, value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub set: Vec<(String, String)>,
    /// Reset a key to its default (repeatable).
    #[arg(long, value_name = "KEY")]
    pub delete: Vec<String>,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Debug, Args)]
pub struct AddPartitionsArgs {
    /// Topic name.
    pub topic: String,
    /// The total number of partitions the topic should have.
    #[arg(long, value_name = "N")]
    pub to: i32,
    #[command(flatten)]
    pub client: ClientArgs,
}

pub async fn run(args: TopicArgs) -> anyhow::Result<()> {
    match args.command {
        TopicCommand::Create(args) => create(args).await,
        TopicCommand::List(args) => list(args).await,
        TopicCommand::Describe(args) => describe(args).await,
        TopicCommand::DeleteRecords(args) => delete_records(args).await,
        TopicCommand::Delete(args) => delete(args).await,
        TopicCommand::AlterConfig(args) => alter_config(args).await,
        TopicCommand::AddPartitions(args) => add_partitions(args).await,
    }
}

async fn create(args: CreateArgs) -> anyhow::Result<()> {
    let client = args.client.connect().await?;
    let topic = NewTopic {
        name: args.topic.clone(),
        partitions: args.partitions,
        replication_factor: args.replication_factor,
        configs: args.configs,
    };
    let created = match client.create_topic(&topic).await {
        Ok(()) => true,
        Err(e)
            if args.if_not_exists
                && e.kafka_code().is_some_and(|c| c.0 == TOPIC_ALREADY_EXISTS) =>
        {
            false
        }
        Err(e) => return Err(e.into()),
    };
    // The count the broker chose, when none was given.
    let partitions = client
        .refresh_topic(&args.topic)
        .await
        .map(|t| t.partitions.len())
        .ok();
    if args.client.json {
        print_json(&json!({"topic": args.topic, "created": created, "partitions": partitions}))?;
    } else if created {
        print_text(&format!(
            "created topic {} ({} partitions)\n",
            args.topic,
            or_dash(partitions)
        ))?;
    } else {
        print_text(&format!("topic {} already exists\n", args.topic))?;
    }
    Ok(())
}

/// Records a topic holds: the sum over partitions of end minus start offset (exact unless
/// compaction or transactions left gaps).
async fn record_count(client: &KafkaClient, topic: &TopicInfo) -> Option<i64> {
    let start = client
        .list_offsets(&topic.name, &[], OffsetSpec::Earliest)
        .await
        .ok()?;
    let end = client
        .list_offsets(&topic.name, &[], OffsetSpec::Latest)
        .await
        .ok()?;
    Some(
        start
            .iter()
            .zip(&end)
            .map(|(s, e)| (e.offset - s.offset).max(0))
            .sum(),
    )
}

/// The bytes a topic's partitions hold, from DescribeLogDirs; `None` when the cluster does
/// not answer it.
async fn stored_bytes(client: &KafkaClient, topic: &TopicInfo) -> Option<i64> {
    let storage = client.describe_partition_storage(&topic.name).await.ok()?;
    Some(storage.iter().map(|s| s.size_bytes.max(0)).sum())
}

async fn list(args: ListArgs) -> anyhow::Result<()> {
    let client = args.client.connect().await?;
    let topics = client.list_topics(args.internal).await?;
    let counts: Vec<(Option<i64>, Option<i64>)> = stream::iter(&topics)
        .map(|t| async {
            (
                record_count(&client, t).await,
                stored_bytes(&client, t).await,
            )
        })
        .buffered(CONCURRENT_LOOKUPS)
        .collect()
        .await;
    if args.client.json {
        let topics: Vec<Value> = topics
            .iter()
            .zip(&counts)
            .map(|(t, (records, bytes))| {
                json!({
                    "name": t.name,
                    "partitions": t.partitions.len(),
                    "records": records,
                    "bytes": bytes,
                    "internal": t.internal,
                })
            })
            .collect();
        print_json(&json!({ "topics": topics }))?;
        return Ok(());
    }
    if topics.is_empty() {
        print_text("no topics\n")?;
        return Ok(());
    }
    let mut table = Table::new(&["NAME", "PARTITIONS", "RECORDS", "BYTES"]).numeric(&[
        "PARTITIONS",
        "RECORDS",
        "BYTES",
    ]);
    for (topic, (records, bytes)) in topics.iter().zip(&counts) {
        table.row(vec![
            topic.name.clone(),
            topic.partitions.len().to_string(),
            or_dash(*records),
            or_dash(*bytes),
        ]);
    }
    print_text(&table.render())?;
    Ok(())
}

async fn describe(args: NameArgs) -> anyhow::Result<()> {
    let client = args.client.connect().await?;
    let topic = client.refresh_topic(&args.topic).await?;
    let start = client
        .list_offsets(&topic.name, &[], OffsetSpec::Earliest)
        .await;
    let end = client
        .list_offsets(&topic.name, &[], OffsetSpec::Latest)
        .await;
    let configs = client
        .describe_configs(&ConfigResource::Topic(topic.name.clone()))
        .await?;
    // Kafka brokers answer too, without Skiff's object count; an old broker without the API
    // leaves the columns empty.
    let storage = client
        .describe_partition_storage(&topic.name)
        .await
        .unwrap_or_default();
    let stored = |p: i32| storage.iter().find(|s| s.partition == p);
    let offset_of = |offsets: &Result<Vec<skiff_client::PartitionOffset>, ClientError>, p: i32| {
        offsets
            .as_ref()
            .ok()
            .and_then(|o| o.iter().find(|o| o.partition == p))
            .map(|o| o.offset)
    };
    if args.client.json {
        let partitions: Vec<Value> = topic
            .partitions
            .iter()
            .map(|p| {
                json!({
                    "partition": p.partition,
                    "leader": p.leader,
                    "replicas": p.replicas,
                    "start_offset": offset_of(&start, p.partition),
                    "end_offset": offset_of(&end, p.partition),
                    "stored_bytes": stored(p.partition).map(|s| s.size_bytes),
                    "objects": stored(p.partition).and_then(object_count),
                })
            })
            .collect();
        let configs: Vec<Value> = configs
            .iter()
            .map(|c| {
                json!({
                    "name": c.name,
                    "value": c.value,
                    "source": c.source.name(),
                    "read_only": c.read_only,
                    "sensitive": c.sensitive,
                    "enforced": enforced(c),
                })
            })
            .collect();
        print_json(&json!({
            "name": topic.name,
            "id": topic.id.map(|id| id.to_string()),
            "internal": topic.internal,
            "partitions": partitions,
            "configs": configs,
        }))?;
        return Ok(());
    }
    let mut text = format!(
        "topic {}  id {}  {} partitions\n\n",
        topic.name,
        or_dash(topic.id),
        topic.partitions.len()
    );
    const COLUMNS: [&str; 7] = [
        "PARTITION",
        "LEADER",
        "START",
        "END",
        "RECORDS",
        "BYTES",
        "OBJECTS",
    ];
    let mut partitions = Table::new(&COLUMNS).numeric(&COLUMNS);
    for p in &topic.partitions {
        let (s, e) = (offset_of(&start, p.partition), offset_of(&end, p.partition));
        // Offsets between the start and the end; on a compacted topic fewer records remain.
        let records = s.zip(e).map(|(s, e)| (e - s).max(0));
        let storage = stored(p.partition);
        partitions.row(vec![
            p.partition.to_string(),
            or_dash(p.leader),
            or_dash(s),
            or_dash(e),
            or_dash(records),
            or_dash(storage.map(|s| s.size_bytes)),
            or_dash(storage.and_then(object_count)),
        ]);
    }
    text.push_str(&partitions.render());
    text.push('\n');
    let mut table = Table::new(&["CONFIG", "VALUE", "SOURCE", "NOTE"]);
    let mut any_not_enforced = false;
    for c in &configs {
        let value = if c.sensitive {
            "(sensitive)".to_owned()
        } else {
            or_dash(c.value.as_deref())
        };
        let note = if enforced(c) {
            String::new()
        } else {
            any_not_enforced = true;
            NOT_ENFORCED.to_owned()
        };
        table.row(vec![c.name.clone(), value, c.source.name(), note]);
    }
    text.push_str(&table.render());
    let archives = configs
        .iter()
        .any(|c| c.name == "skiff.archive.enable" && c.value.as_deref() == Some("true"));
    if archives {
        text.push_str(
            "\nskiff.archive.enable: retention and compaction keep records not archived yet \
             (see `skiff archive status`)\n",
        );
    }
    if any_not_enforced {
        text.push_str(&format!(
            "\n{NOT_ENFORCED}: accepted and stored for tools that set it, but Skiff does not apply it yet\n"
        ));
    }
    print_text(&text)?;
    Ok(())
}

/// The number of objects a Skiff broker reports for a partition in DescribeLogDirs.
fn object_count(storage: &PartitionStorage) -> Option<u64> {
    let bytes = storage.extra.get(&skiff_broker::OBJECT_COUNT_TAG)?;
    let mut value = 0u64;
    for (i, byte) in bytes.iter().enumerate().take(10) {
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

async fn delete_records(args: DeleteRecordsArgs) -> anyhow::Result<()> {
    let client = args.client.connect().await?;
    let topic = client.refresh_topic(&args.topic).await?;
    let partitions: Vec<i32> = if args.partition.is_empty() {
        topic.partitions.iter().map(|p| p.partition).collect()
    } else {
        args.partition.clone()
    };
    let offsets: Vec<(i32, i64)> = match (args.offset, args.before_time) {
        (Some(offset), _) => partitions.iter().map(|p| (*p, offset)).collect(),
        (None, Some(time)) => {
            // The first record at or after the time; none that recent: delete everything.
            let found = client
                .list_offsets(&topic.name, &partitions, OffsetSpec::Timestamp(time))
                .await?;
            found
                .iter()
                .map(|o| {
                    (
                        o.partition,
                        if o.offset < 0 {
                            DELETE_ALL_RECORDS
                        } else {
                            o.offset
                        },
                    )
                })
                .collect()
        }
        (None, None) => anyhow::bail!("give --offset or --before-time"),
    };
    let done = client.delete_records(&topic.name, &offsets).await?;
    if args.client.json {
        let partitions: Vec<Value> = done
            .iter()
            .map(|d| json!({"partition": d.partition, "log_start_offset": d.low_watermark}))
            .collect();
        print_json(&json!({"topic": topic.name, "partitions": partitions}))?;
        return Ok(());
    }
    let mut table = Table::new(&["PARTITION", "START"]).numeric(&["PARTITION", "START"]);
    for d in &done {
        table.row(vec![d.partition.to_string(), d.low_watermark.to_string()]);
    }
    print_text(&format!(
        "deleted records of {}; partitions now start at:\n{}",
        topic.name,
        table.render()
    ))?;
    Ok(())
}

const NOT_ENFORCED: &str = "not enforced";

/// Whether the broker acts on a config key. Skiff's brokers say which keys they only store in
/// the key's DescribeConfigs documentation; other brokers (Kafka) enforce every key they list.
fn enforced(config: &ConfigEntry) -> bool {
    config
        .documentation
        .as_deref()
        .is_none_or(|doc| !doc.starts_with(skiff_broker::NOT_ENFORCED_DOC_PREFIX))
}

async fn delete(args: DeleteArgs) -> anyhow::Result<()> {
    let client = args.client.connect().await?;
    let deleted = match client.delete_topic(&args.topic).await {
        Ok(()) => true,
        Err(ClientError::UnknownTopic { .. }) if args.if_exists => false,
        Err(e) => return Err(e.into()),
    };
    if args.client.json {
        print_json(&json!({"topic": args.topic, "deleted": deleted}))?;
    } else if deleted {
        print_text(&format!("deleted topic {}\n", args.topic))?;
    } else {
        print_text(&format!("topic {} does not exist\n", args.topic))?;
    }
    Ok(())
}

async fn alter_config(args: AlterConfigArgs) -> anyhow::Result<()> {
    let client = args.client.connect().await?;
    // Kafka answers an alter on a missing topic in several ways; name the cause plainly.
    client.refresh_topic(&args.topic).await?;
    let ops = config_ops(&args.set, &args.delete);
    client
        .alter_configs(&ConfigResource::Topic(args.topic.clone()), &ops)
        .await?;
    if args.client.json {
        let set = config_set_json(&args.set);
        print_json(&json!({"topic": args.topic, "set": set, "deleted": args.delete}))?;
    } else {
        let mut changes: Vec<String> = args
            .set
            .iter()
            .map(|(k, v)| format!("set {k}={v}"))
            .collect();
        changes.extend(
            args.delete
                .iter()
                .map(|k| format!("reset {k} to its default")),
        );
        print_text(&format!(
            "updated topic {}: {}\n",
            args.topic,
            changes.join(", ")
        ))?;
    }
    Ok(())
}

async fn add_partitions(args: AddPartitionsArgs) -> anyhow::Result<()> {
    let client = args.client.connect().await?;
    client.create_partitions(&args.topic, args.to).await?;
    if args.client.json {
        print_json(&json!({"topic": args.topic, "partitions": args.to}))?;
    } else {
        print_text(&format!(
            "topic {} now has {} partitions\n",
            args.topic, args.to
        ))?;
    }
    Ok(())
}
