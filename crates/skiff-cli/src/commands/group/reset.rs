//! `skiff group reset-offsets G --topic T --to-…`: moves a group's committed offsets. Unlike
//! Kafka's `kafka-consumer-groups` (a dry run unless `--execute`), the change is applied unless
//! `--dry-run` is given, as the command line in the docs reads.

use clap::{ArgGroup, Args};
use serde_json::{Value, json};
use skiff_client::{ClientError, KafkaClient, OffsetSpec, OffsetToCommit};

use super::checks::require_inactive;
use crate::commands::common::ClientArgs;
use crate::commands::consume::parse_time;
use crate::output::{Table, or_dash, print_json, print_text};

pub const EXAMPLES: &str = "Examples:\n  \
    skiff group reset-offsets billing --topic orders --to-earliest\n  \
    skiff group reset-offsets billing --topic orders --to-latest --partition 0 --partition 2\n  \
    skiff group reset-offsets billing --topic orders --to-offset 1000\n  \
    skiff group reset-offsets billing --topic orders --to-datetime -1h --dry-run\n  \
    skiff group reset-offsets billing --topic orders --to-datetime 2024-05-01T12:00:00Z\n\n\
    The new offsets are committed at once; --dry-run prints them and commits nothing.\n\
    Offsets beyond a partition's range are clamped to its start or end. The group must have no\n\
    active members (stop its consumers first).";

#[derive(Debug, Args)]
#[command(group = ArgGroup::new("target").required(true).args(["to_earliest", "to_latest", "to_offset", "to_datetime"]))]
pub struct ResetArgs {
    /// Group id.
    pub group: String,
    /// The topic whose committed offsets move.
    #[arg(long, short = 't')]
    pub topic: String,
    /// Only this partition (repeatable) [default: every partition of the topic].
    #[arg(long, short = 'p', value_name = "N")]
    pub partition: Vec<i32>,
    /// To each partition's first offset.
    #[arg(long)]
    pub to_earliest: bool,
    /// To each partition's end (skip everything there is now).
    #[arg(long)]
    pub to_latest: bool,
    /// To this offset in every chosen partition.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(i64).range(0..), allow_negative_numbers = true)]
    pub to_offset: Option<i64>,
    /// To the first record at or after a time: RFC 3339, epoch ms, or relative (-1h, -30m).
    #[arg(long, value_name = "TIME", value_parser = parse_time, allow_hyphen_values = true)]
    pub to_datetime: Option<i64>,
    /// Print the new offsets without committing them.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetTarget {
    Earliest,
    Latest,
    Offset(i64),
    /// Milliseconds since the epoch.
    Time(i64),
}

impl ResetArgs {
    fn target(&self) -> ResetTarget {
        match (self.to_offset, self.to_datetime) {
            (Some(offset), _) => ResetTarget::Offset(offset),
            (None, Some(ms)) => ResetTarget::Time(ms),
            _ if self.to_latest => ResetTarget::Latest,
            _ => ResetTarget::Earliest,
        }
    }
}

/// One partition's move.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionReset {
    pub partition: i32,
    pub previous: Option<i64>,
    pub new: i64,
    /// The asked-for offset lay outside the partition and was moved to its start or end.
    pub clamped: bool,
}

/// Where a partition's commit goes: `found` is the by-time lookup's answer (-1 when no
/// record is that recent, which means the end, as Kafka's tool does).
pub fn new_offset(
    target: ResetTarget,
    earliest: i64,
    latest: i64,
    found: Option<i64>,
) -> (i64, bool) {
    let latest = latest.max(earliest);
    match target {
        ResetTarget::Earliest => (earliest, false),
        ResetTarget::Latest => (latest, false),
        ResetTarget::Offset(wanted) => {
            let offset = wanted.clamp(earliest, latest);
            (offset, offset != wanted)
        }
        ResetTarget::Time(_) => match found {
            Some(offset) if offset >= 0 => (offset.clamp(earliest, latest), false),
            _ => (latest, false),
        },
    }
}

pub async fn run(mut args: ResetArgs) -> anyhow::Result<()> {
    args.partition.sort_unstable();
    args.partition.dedup();
    let client = args.client.connect().await?;
    let topic = client.refresh_topic(&args.topic).await?;
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
    require_inactive(&client, &args.group).await?;
    let plan = plan(&client, &args).await?;
    if !args.dry_run {
        let offsets: Vec<OffsetToCommit> = plan
            .iter()
            .map(|p| OffsetToCommit {
                topic: args.topic.clone(),
                partition: p.partition,
                offset: p.new,
                metadata: None,
            })
            .collect();
        client.commit_offsets(&args.group, &offsets).await?;
    }
    if args.client.json {
        print_json(&as_json(&args, &plan))?;
    } else {
        print_text(&as_text(&args, &plan))?;
    }
    Ok(())
}

async fn plan(client: &KafkaClient, args: &ResetArgs) -> anyhow::Result<Vec<PartitionReset>> {
    let target = args.target();
    let topic = args.topic.as_str();
    let earliest = client
        .list_offsets(topic, &args.partition, OffsetSpec::Earliest)
        .await?;
    let latest = client
        .list_offsets(topic, &args.partition, OffsetSpec::Latest)
        .await?;
    let by_time = match target {
        ResetTarget::Time(ms) => Some(
            client
                .list_offsets(topic, &args.partition, OffsetSpec::Timestamp(ms))
                .await?,
        ),
        _ => None,
    };
    let partitions: Vec<i32> = earliest.iter().map(|o| o.partition).collect();
    let committed = client
        .fetch_committed_offsets(&args.group, Some(&[(topic.to_owned(), partitions)]))
        .await?;
    let mut plan = Vec::with_capacity(earliest.len());
    for (first, end) in earliest.iter().zip(&latest) {
        let found = by_time.as_ref().and_then(|found| {
            found
                .iter()
                .find(|f| f.partition == first.partition)
                .map(|f| f.offset)
        });
        let (new, clamped) = new_offset(target, first.offset, end.offset, found);
        let previous = committed
            .iter()
            .find(|c| c.partition == first.partition && c.offset >= 0)
            .map(|c| c.offset);
        plan.push(PartitionReset {
            partition: first.partition,
            previous,
            new,
            clamped,
        });
    }
    Ok(plan)
}

fn as_text(args: &ResetArgs, plan: &[PartitionReset]) -> String {
    let mut table = Table::new(&["TOPIC", "PARTITION", "PREVIOUS", "NEW"]).numeric(&[
        "PARTITION",
        "PREVIOUS",
        "NEW",
    ]);
    let mut clamped = false;
    for p in plan {
        clamped |= p.clamped;
        let new = if p.clamped {
            format!("{}*", p.new)
        } else {
            p.new.to_string()
        };
        table.row(vec![
            args.topic.clone(),
            p.partition.to_string(),
            or_dash(p.previous),
            new,
        ]);
    }
    let mut text = table.render();
    if clamped {
        text.push_str("* clamped to the partition's start or end\n");
    }
    let partitions = if plan.len() == 1 {
        "partition"
    } else {
        "partitions"
    };
    if args.dry_run {
        text.push_str(&format!(
            "dry run: group {} would move {} {partitions} of {}; nothing was committed\n",
            args.group,
            plan.len(),
            args.topic
        ));
    } else {
        text.push_str(&format!(
            "group {}: committed new offsets for {} {partitions} of {}\n",
            args.group,
            plan.len(),
            args.topic
        ));
    }
    text
}

fn as_json(args: &ResetArgs, plan: &[PartitionReset]) -> Value {
    let partitions: Vec<Value> = plan
        .iter()
        .map(|p| {
            json!({
                "partition": p.partition,
                "previous_offset": p.previous,
                "new_offset": p.new,
                "clamped": p.clamped,
            })
        })
        .collect();
    json!({
        "group": args.group,
        "topic": args.topic,
        "dry_run": args.dry_run,
        "applied": !args.dry_run,
        "partitions": partitions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earliest_and_latest_are_the_partition_bounds() {
        assert_eq!(new_offset(ResetTarget::Earliest, 3, 10, None), (3, false));
        assert_eq!(new_offset(ResetTarget::Latest, 3, 10, None), (10, false));
    }

    #[test]
    fn offsets_outside_the_partition_are_clamped_and_say_so() {
        assert_eq!(new_offset(ResetTarget::Offset(5), 3, 10, None), (5, false));
        assert_eq!(
            new_offset(ResetTarget::Offset(10), 3, 10, None),
            (10, false)
        );
        assert_eq!(new_offset(ResetTarget::Offset(1), 3, 10, None), (3, true));
        assert_eq!(new_offset(ResetTarget::Offset(99), 3, 10, None), (10, true));
    }

    #[test]
    fn times_use_the_lookup_or_the_end_when_nothing_is_that_recent() {
        let time = ResetTarget::Time(1_700_000_000_000);
        assert_eq!(new_offset(time, 0, 10, Some(4)), (4, false));
        assert_eq!(new_offset(time, 0, 10, Some(-1)), (10, false));
        assert_eq!(new_offset(time, 0, 10, None), (10, false));
    }
}
