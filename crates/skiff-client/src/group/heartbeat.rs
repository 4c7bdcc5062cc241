//! Heartbeats on a timer, in a task of their own so a member stays alive while its owner is
//! busy (writing records out, waiting on a fetch). The task stops at the first answer that
//! asks the member to rejoin, and says why through a watch channel its owner can await.

use std::fmt;
use std::time::Duration;

use kafka_protocol::messages::ApiKey;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};
use tracing::debug;

use super::coordinator::CoordinatorLink;
use super::requests::{MemberRef, heartbeat_request};
use crate::error::ClientError;
use crate::kafka_code::KafkaCode;

/// Why a member has to join its group again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RejoinReason {
    /// The coordinator started a rebalance (a member joined, left or was lost).
    Rebalance,
    /// The member's generation is over; it keeps its member id.
    StaleGeneration,
    /// The coordinator no longer knows the member (its session expired, or it was fenced);
    /// it joins again as a new member.
    UnknownMember,
    /// No heartbeat was answered for a whole session timeout, so the coordinator has surely
    /// dropped the member.
    SessionLost,
    /// An answer this client cannot carry on from; joining again surfaces it as an error.
    Failed(String),
}

impl RejoinReason {
    /// The reason a heartbeat, commit or sync error code gives, if it asks for a rejoin.
    pub(crate) fn from_code(code: KafkaCode) -> Option<RejoinReason> {
        match code {
            KafkaCode::REBALANCE_IN_PROGRESS => Some(RejoinReason::Rebalance),
            KafkaCode::ILLEGAL_GENERATION => Some(RejoinReason::StaleGeneration),
            KafkaCode::UNKNOWN_MEMBER_ID | KafkaCode::FENCED_INSTANCE_ID => {
                Some(RejoinReason::UnknownMember)
            }
            _ => None,
        }
    }

    /// Whether the member must join with an empty member id (as a new member).
    pub(crate) fn resets_member_id(&self) -> bool {
        matches!(
            self,
            RejoinReason::UnknownMember | RejoinReason::SessionLost
        )
    }
}

impl fmt::Display for RejoinReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RejoinReason::Rebalance => f.write_str("the group is rebalancing"),
            RejoinReason::StaleGeneration => f.write_str("the group moved to a new generation"),
            RejoinReason::UnknownMember => {
                f.write_str("the coordinator no longer knows this member")
            }
            RejoinReason::SessionLost => {
                f.write_str("no heartbeat was answered within the session timeout")
            }
            RejoinReason::Failed(why) => write!(f, "heartbeats failed: {why}"),
        }
    }
}

/// The running heartbeat task of one generation; stopped when dropped.
pub(crate) struct HeartbeatTask {
    handle: JoinHandle<()>,
}

impl Drop for HeartbeatTask {
    fn drop(&mut self) {
        self.handle.abort();
    }
}

pub(crate) struct HeartbeatPlan {
    pub group_id: String,
    pub member_id: String,
    pub generation_id: i32,
    pub interval: Duration,
    pub session_timeout: Duration,
}

impl HeartbeatTask {
    pub(crate) fn spawn(
        link: CoordinatorLink,
        plan: HeartbeatPlan,
        rejoin: watch::Sender<Option<RejoinReason>>,
    ) -> Self {
        HeartbeatTask {
            handle: tokio::spawn(beat_until_rejoin(link, plan, rejoin)),
        }
    }
}

async fn beat_until_rejoin(
    link: CoordinatorLink,
    plan: HeartbeatPlan,
    rejoin: watch::Sender<Option<RejoinReason>>,
) {
    let mut last_answer = Instant::now();
    let mut ticker = tokio::time::interval_at(Instant::now() + plan.interval, plan.interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let member = MemberRef {
            group_id: &plan.group_id,
            member_id: &plan.member_id,
            generation_id: plan.generation_id,
        };
        // A heartbeat answered after the session is over is worthless: give up on it by then.
        let answer = tokio::time::timeout(plan.session_timeout, beat(&link, member)).await;
        match answer {
            Ok(Ok(())) => last_answer = Instant::now(),
            Ok(Err(error)) => match error.kafka_code().and_then(RejoinReason::from_code) {
                Some(reason) => {
                    debug!(group = %plan.group_id, %reason, "heartbeat asks to rejoin");
                    rejoin.send_replace(Some(reason));
                    return;
                }
                None if error.wants_metadata_refresh() || is_transport(&error) => {
                    debug!(group = %plan.group_id, %error, "heartbeat failed; finding the coordinator again");
                    link.reset().await;
                }
                None => {
                    rejoin.send_replace(Some(RejoinReason::Failed(error.to_string())));
                    return;
                }
            },
            Err(_) => {
                debug!(group = %plan.group_id, "heartbeat unanswered; reconnecting");
                link.reset().await;
            }
        }
        if last_answer.elapsed() >= plan.session_timeout {
            rejoin.send_replace(Some(RejoinReason::SessionLost));
            return;
        }
    }
}

async fn beat(link: &CoordinatorLink, member: MemberRef<'_>) -> Result<(), ClientError> {
    let connection = link.connection().await?;
    connection.require_version(ApiKey::Heartbeat)?;
    let response = connection.send(&heartbeat_request(member)).await?;
    match response.error_code {
        0 => Ok(()),
        code => Err(ClientError::kafka(
            code,
            format!("heartbeat in group {}", member.group_id),
            None,
        )),
    }
}

/// Failures of the connection itself, after which a new connection may do better.
pub(crate) fn is_transport(error: &ClientError) -> bool {
    matches!(
        error,
        ClientError::ConnectionClosed { .. }
            | ClientError::Unreachable { .. }
            | ClientError::Timeout { .. }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rebalance_answers_map_to_reasons_and_only_lost_members_start_over() {
        let reason = |code: i16| RejoinReason::from_code(KafkaCode(code));
        assert_eq!(reason(27), Some(RejoinReason::Rebalance));
        assert_eq!(reason(22), Some(RejoinReason::StaleGeneration));
        assert_eq!(reason(25), Some(RejoinReason::UnknownMember));
        assert_eq!(reason(82), Some(RejoinReason::UnknownMember));
        assert_eq!(
            reason(16),
            None,
            "a moved coordinator is found again, not rejoined"
        );
        assert_eq!(reason(30), None);
        assert!(RejoinReason::UnknownMember.resets_member_id());
        assert!(RejoinReason::SessionLost.resets_member_id());
        assert!(!RejoinReason::Rebalance.resets_member_id());
        assert!(!RejoinReason::StaleGeneration.resets_member_id());
    }
}
