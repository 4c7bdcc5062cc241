//! What several group commands check before acting, and how they say no.

use skiff_client::{GroupDescription, KafkaClient};

/// Why a group command refused or failed, in the words a person needs.
#[derive(Debug, thiserror::Error)]
pub enum GroupCommandError {
    #[error("group {group} does not exist")]
    NotFound { group: String },

    #[error("group {group} is active ({}); stop its consumers first", members_text(*.members))]
    Active { group: String, members: usize },
}

fn members_text(members: usize) -> String {
    if members == 1 {
        "1 member".to_owned()
    } else {
        format!("{members} members")
    }
}

/// Refuses to go on while the group has members: their commits would overwrite ours, and
/// Kafka's own tool refuses the same way.
pub(super) async fn require_inactive(client: &KafkaClient, group: &str) -> anyhow::Result<()> {
    let description = client.describe_group(group).await?;
    if description.members.is_empty() {
        Ok(())
    } else {
        Err(GroupCommandError::Active {
            group: group.to_owned(),
            members: description.members.len(),
        }
        .into())
    }
}

/// A group that exists has a live state or committed offsets; a dead one with neither is
/// what Kafka describes for a group id it never saw.
pub(super) fn is_unknown(description: &GroupDescription, has_offsets: bool) -> bool {
    description.state == "Dead" && description.members.is_empty() && !has_offsets
}
