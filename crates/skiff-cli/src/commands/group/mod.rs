//! `skiff group list|describe|reset-offsets|delete`: consumer groups, their members, committed
//! offsets and lag, over the Kafka protocol (so they work against any Kafka cluster too).

mod checks;
mod describe;
mod reset;

use clap::{Args, Subcommand};
use futures::stream::{self, StreamExt};
use serde_json::{Value, json};
use skiff_client::{ClientError, GroupDescription, KafkaClient, KafkaCode};

use self::checks::GroupCommandError;
use self::describe::DescribeArgs;
use self::reset::ResetArgs;
use super::common::ClientArgs;
use crate::output::{Table, or_dash, print_json, print_text};

/// Groups described at once by `group list`.
const CONCURRENT_LOOKUPS: usize = 8;

#[derive(Debug, Args)]
pub struct GroupArgs {
    #[command(subcommand)]
    pub command: GroupCommand,
}

#[derive(Debug, Subcommand)]
pub enum GroupCommand {
    /// List consumer groups with their state, protocol type and number of members.
    #[command(after_help = "Examples:\n  \
        skiff group list\n  \
        skiff group list --json | jq -r '.groups[].group'")]
    List(ListArgs),

    /// Show a group's members and, per partition, committed offset, end offset, lag and owner.
    #[command(after_help = describe::EXAMPLES)]
    Describe(DescribeArgs),

    /// Move a group's committed offsets of a topic (refused while the group has members).
    #[command(after_help = reset::EXAMPLES)]
    ResetOffsets(ResetArgs),

    /// Delete a group and its committed offsets (refused while the group has members).
    #[command(after_help = "Examples:\n  \
        skiff group delete billing\n  \
        skiff group delete billing --json")]
    Delete(NameArgs),
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Debug, Args)]
pub struct NameArgs {
    /// Group id.
    pub group: String,
    #[command(flatten)]
    pub client: ClientArgs,
}

pub async fn run(args: GroupArgs) -> anyhow::Result<()> {
    match args.command {
        GroupCommand::List(args) => list(args).await,
        GroupCommand::Describe(args) => describe::run(args).await,
        GroupCommand::ResetOffsets(args) => reset::run(args).await,
        GroupCommand::Delete(args) => delete(args).await,
    }
}

async fn list(args: ListArgs) -> anyhow::Result<()> {
    let client = args.client.connect().await?;
    let groups = client.list_groups().await?;
    let described: Vec<Option<GroupDescription>> = stream::iter(&groups)
        .map(|g| {
            let client = &client;
            async move { client.describe_group(&g.group_id).await.ok() }
        })
        .buffered(CONCURRENT_LOOKUPS)
        .collect()
        .await;
    let rows: Vec<(String, Option<String>, String, Option<usize>)> = groups
        .iter()
        .zip(&described)
        .map(|(listed, description)| {
            let state = description
                .as_ref()
                .map(|d| d.state.clone())
                .or_else(|| listed.state.clone());
            (
                listed.group_id.clone(),
                state,
                listed.protocol_type.clone(),
                description.as_ref().map(|d| d.members.len()),
            )
        })
        .collect();
    if args.client.json {
        let groups: Vec<Value> = rows
            .iter()
            .map(|(group, state, protocol_type, members)| {
                json!({
                    "group": group,
                    "state": state,
                    "protocol_type": protocol_type,
                    "members": members,
                })
            })
            .collect();
        print_json(&json!({ "groups": groups }))?;
        return Ok(());
    }
    if rows.is_empty() {
        print_text("no groups\n")?;
        return Ok(());
    }
    let mut table =
        Table::new(&["GROUP", "STATE", "PROTOCOL-TYPE", "MEMBERS"]).numeric(&["MEMBERS"]);
    for (group, state, protocol_type, members) in rows {
        let protocol_type = if protocol_type.is_empty() {
            "-".to_owned()
        } else {
            protocol_type
        };
        table.row(vec![group, or_dash(state), protocol_type, or_dash(members)]);
    }
    print_text(&table.render())?;
    Ok(())
}

async fn delete(args: NameArgs) -> anyhow::Result<()> {
    let client = args.client.connect().await?;
    match client.delete_group(&args.group).await {
        Ok(()) => {}
        Err(error) => return Err(explain_delete_error(&client, &args.group, error).await),
    }
    if args.client.json {
        print_json(&json!({"group": args.group, "deleted": true}))?;
    } else {
        print_text(&format!("deleted group {}\n", args.group))?;
    }
    Ok(())
}

async fn explain_delete_error(
    client: &KafkaClient,
    group: &str,
    error: ClientError,
) -> anyhow::Error {
    match error.kafka_code() {
        Some(KafkaCode::NON_EMPTY_GROUP) => {
            let members = client
                .describe_group(group)
                .await
                .map_or(0, |d| d.members.len());
            GroupCommandError::Active {
                group: group.to_owned(),
                members,
            }
            .into()
        }
        Some(KafkaCode::GROUP_ID_NOT_FOUND) => GroupCommandError::NotFound {
            group: group.to_owned(),
        }
        .into(),
        _ => error.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_read_as_one_plain_line() {
        let active = GroupCommandError::Active {
            group: "billing".into(),
            members: 3,
        };
        assert_eq!(
            active.to_string(),
            "group billing is active (3 members); stop its consumers first"
        );
        let one = GroupCommandError::Active {
            group: "billing".into(),
            members: 1,
        };
        assert_eq!(
            one.to_string(),
            "group billing is active (1 member); stop its consumers first"
        );
        let missing = GroupCommandError::NotFound {
            group: "nope".into(),
        };
        assert_eq!(missing.to_string(), "group nope does not exist");
    }
}
