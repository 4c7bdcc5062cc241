//! `skiff group describe G`: state, members with their assignments, and per partition the
//! committed offset, the end offset, the lag between them and the member that owns it.

use std::collections::{BTreeMap, BTreeSet};

use clap::Args;
use serde_json::{Value, json};
use skiff_client::{CommittedOffset, GroupDescription, KafkaClient, KafkaCode, OffsetSpec};

use super::checks::{GroupCommandError, is_unknown};
use crate::commands::common::ClientArgs;
use crate::output::{Table, or_dash, print_json, print_text};

pub const EXAMPLES: &str = "Examples:\n  \
    skiff group describe billing\n  \
    skiff group describe billing --json | jq '.total_lag'";

#[derive(Debug, Args)]
pub struct DescribeArgs {
    /// Group id.
    pub group: String,
    #[command(flatten)]
    pub client: ClientArgs,
}

/// One partition the group commits to or is assigned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionLag {
    pub topic: String,
    pub partition: i32,
    pub committed: Option<i64>,
    pub end: Option<i64>,
    pub owner: Option<Owner>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub member_id: String,
    pub client_id: String,
    pub host: String,
}

impl PartitionLag {
    /// End minus committed; unknown without a commit (Kafka's tool shows `-` there too).
    pub fn lag(&self) -> Option<i64> {
        Some((self.end? - self.committed?).max(0))
    }
}

pub async fn run(args: DescribeArgs) -> anyhow::Result<()> {
    let client = args.client.connect().await?;
    let description = match client.describe_group(&args.group).await {
        Ok(description) => description,
        // Newer Kafka brokers say so instead of describing a dead group.
        Err(e) if e.kafka_code() == Some(KafkaCode::GROUP_ID_NOT_FOUND) => {
            return Err(GroupCommandError::NotFound { group: args.group }.into());
        }
        Err(e) => return Err(e.into()),
    };
    let committed: Vec<CommittedOffset> = client
        .fetch_committed_offsets(&args.group, None)
        .await?
        .into_iter()
        .filter(|c| c.offset >= 0)
        .collect();
    if is_unknown(&description, !committed.is_empty()) {
        return Err(GroupCommandError::NotFound { group: args.group }.into());
    }
    let mut partitions = partition_rows(&description, &committed);
    fill_end_offsets(&client, &mut partitions).await;
    if args.client.json {
        print_json(&as_json(&description, &partitions))?;
    } else {
        print_text(&as_text(&description, &partitions))?;
    }
    Ok(())
}

/// Every partition with a commit or an owner, sorted by topic and partition.
fn partition_rows(
    description: &GroupDescription,
    committed: &[CommittedOffset],
) -> Vec<PartitionLag> {
    let mut rows: BTreeMap<(String, i32), PartitionLag> = BTreeMap::new();
    for c in committed {
        rows.insert(
            (c.topic.clone(), c.partition),
            PartitionLag {
                topic: c.topic.clone(),
                partition: c.partition,
                committed: Some(c.offset),
                end: None,
                owner: None,
            },
        );
    }
    for member in &description.members {
        let Some(assignment) = &member.assignment else {
            continue;
        };
        for tp in &assignment.partitions {
            for &partition in &tp.partitions {
                let row = rows
                    .entry((tp.topic.clone(), partition))
                    .or_insert_with(|| PartitionLag {
                        topic: tp.topic.clone(),
                        partition,
                        committed: None,
                        end: None,
                        owner: None,
                    });
                row.owner = Some(Owner {
                    member_id: member.member_id.clone(),
                    client_id: member.client_id.clone(),
                    host: member.client_host.clone(),
                });
            }
        }
    }
    rows.into_values().collect()
}

/// End offsets, one ListOffsets per topic; a topic that cannot be asked (deleted since the
/// commit) keeps `-` rather than failing the whole description.
async fn fill_end_offsets(client: &KafkaClient, rows: &mut [PartitionLag]) {
    let topics: BTreeSet<String> = rows.iter().map(|r| r.topic.clone()).collect();
    for topic in topics {
        let partitions: Vec<i32> = rows
            .iter()
            .filter(|r| r.topic == topic)
            .map(|r| r.partition)
            .collect();
        let Ok(ends) = client
            .list_offsets(&topic, &partitions, OffsetSpec::Latest)
            .await
        else {
            continue;
        };
        for row in rows.iter_mut().filter(|r| r.topic == topic) {
            row.end = ends
                .iter()
                .find(|e| e.partition == row.partition)
                .map(|e| e.offset);
        }
    }
}

fn total_lag(rows: &[PartitionLag]) -> i64 {
    rows.iter().filter_map(PartitionLag::lag).sum()
}

fn assignment_text(member: &skiff_client::GroupMember) -> String {
    let Some(assignment) = &member.assignment else {
        return "-".to_owned();
    };
    let parts: Vec<String> = assignment
        .partitions
        .iter()
        .filter(|tp| !tp.partitions.is_empty())
        .map(|tp| {
            let numbers: Vec<String> = tp.partitions.iter().map(i32::to_string).collect();
            format!("{}:{}", tp.topic, numbers.join(","))
        })
        .collect();
    if parts.is_empty() {
        "-".to_owned()
    } else {
        parts.join(" ")
    }
}

fn as_text(description: &GroupDescription, rows: &[PartitionLag]) -> String {
    let protocol = match (
        description.protocol_type.as_str(),
        description.protocol.as_str(),
    ) {
        ("", _) => "-".to_owned(),
        (kind, "") => kind.to_owned(),
        (kind, assignor) => format!("{kind}/{assignor}"),
    };
    let mut text = format!(
        "group {}  state {}  protocol {}  coordinator {} ({})\n\n",
        description.group_id,
        description.state,
        protocol,
        description.coordinator.id,
        description.coordinator.addr()
    );
    if description.members.is_empty() {
        text.push_str("no active members\n\n");
    } else {
        let mut members = Table::new(&["MEMBER", "CLIENT-ID", "HOST", "ASSIGNED"]);
        for m in &description.members {
            members.row(vec![
                m.member_id.clone(),
                m.client_id.clone(),
                m.client_host.clone(),
                assignment_text(m),
            ]);
        }
        text.push_str(&members.render());
        text.push('\n');
    }
    if rows.is_empty() {
        text.push_str("no committed offsets\n");
        return text;
    }
    let mut partitions = Table::new(&["TOPIC", "PARTITION", "COMMITTED", "END", "LAG", "OWNER"])
        .numeric(&["PARTITION", "COMMITTED", "END", "LAG"]);
    for row in rows {
        partitions.row(vec![
            row.topic.clone(),
            row.partition.to_string(),
            or_dash(row.committed),
            or_dash(row.end),
            or_dash(row.lag()),
            or_dash(row.owner.as_ref().map(|o| o.member_id.clone())),
        ]);
    }
    text.push_str(&partitions.render());
    let uncommitted = rows.iter().filter(|r| r.committed.is_none()).count();
    text.push_str(&format!("\ntotal lag {}", total_lag(rows)));
    if uncommitted > 0 {
        text.push_str(&format!(
            " ({uncommitted} assigned {} without a commit not counted)",
            if uncommitted == 1 {
                "partition"
            } else {
                "partitions"
            }
        ));
    }
    text.push('\n');
    text
}

fn as_json(description: &GroupDescription, rows: &[PartitionLag]) -> Value {
    let members: Vec<Value> = description
        .members
        .iter()
        .map(|m| {
            let assignment: Vec<Value> = m
                .assignment
                .iter()
                .flat_map(|a| &a.partitions)
                .map(|tp| json!({"topic": tp.topic, "partitions": tp.partitions}))
                .collect();
            json!({
                "member_id": m.member_id,
                "instance_id": m.instance_id,
                "client_id": m.client_id,
                "host": m.client_host,
                "assignment": assignment,
            })
        })
        .collect();
    let partitions: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({
                "topic": r.topic,
                "partition": r.partition,
                "committed_offset": r.committed,
                "end_offset": r.end,
                "lag": r.lag(),
                "owner": r.owner.as_ref().map(|o| o.member_id.clone()),
                "owner_client_id": r.owner.as_ref().map(|o| o.client_id.clone()),
                "owner_host": r.owner.as_ref().map(|o| o.host.clone()),
            })
        })
        .collect();
    json!({
        "group": description.group_id,
        "state": description.state,
        "protocol_type": description.protocol_type,
        "protocol": description.protocol,
        "coordinator": {
            "id": description.coordinator.id,
            "host": description.coordinator.host,
            "port": description.coordinator.port,
        },
        "members": members,
        "partitions": partitions,
        "total_lag": total_lag(rows),
    })
}

#[cfg(test)]
mod tests {
    use skiff_client::{BrokerInfo, GroupMember, MemberAssignment, TopicPartitions};

    use super::*;

    fn description() -> GroupDescription {
        GroupDescription {
            group_id: "g".into(),
            state: "Stable".into(),
            protocol_type: "consumer".into(),
            protocol: "range".into(),
            members: vec![GroupMember {
                member_id: "m-1".into(),
                instance_id: None,
                client_id: "skiff-cli".into(),
                client_host: "/127.0.0.1".into(),
                subscription: None,
                assignment: Some(MemberAssignment {
                    version: 0,
                    partitions: vec![TopicPartitions {
                        topic: "t".into(),
                        partitions: vec![1, 2],
                    }],
                    user_data: None,
                }),
            }],
            coordinator: BrokerInfo {
                id: 1,
                host: "127.0.0.1".into(),
                port: 9092,
                rack: None,
            },
        }
    }

    fn committed(partition: i32, offset: i64) -> CommittedOffset {
        CommittedOffset {
            topic: "t".into(),
            partition,
            offset,
            metadata: None,
        }
    }

    #[test]
    fn rows_join_commits_and_owners_and_lag_needs_both_ends() {
        let mut rows = partition_rows(&description(), &[committed(0, 4), committed(1, 7)]);
        assert_eq!(
            rows.iter().map(|r| r.partition).collect::<Vec<_>>(),
            [0, 1, 2]
        );
        for (row, end) in rows.iter_mut().zip([10, 9, 3]) {
            row.end = Some(end);
        }
        assert_eq!(rows[0].owner, None);
        assert_eq!(rows[1].owner.as_ref().unwrap().member_id, "m-1");
        assert_eq!(rows[0].lag(), Some(6));
        assert_eq!(rows[1].lag(), Some(2));
        assert_eq!(rows[2].lag(), None, "no commit, no lag");
        assert_eq!(total_lag(&rows), 8);
        let value = as_json(&description(), &rows);
        assert_eq!(value["total_lag"], 8);
        assert_eq!(value["partitions"][2]["committed_offset"], Value::Null);
        assert_eq!(
            value["members"][0]["assignment"][0]["partitions"],
            json!([1, 2])
        );
        let text = as_text(&description(), &rows);
        assert!(text.contains("protocol consumer/range"), "{text}");
        assert!(text.contains("t:1,2"), "{text}");
        assert!(
            text.ends_with("total lag 8 (1 assigned partition without a commit not counted)\n"),
            "{text}"
        );
    }
}
