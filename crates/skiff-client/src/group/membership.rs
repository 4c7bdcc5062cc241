//! One consumer's membership of a classic consumer group: join (with the MEMBER_ID_REQUIRED
//! round trip of JoinGroup v4+), sync (the leader runs the range assignor over every member's
//! subscription), heartbeats in the background, commits in the member's generation, leave.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::ApiKey;
use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use tokio::sync::watch;
use tokio::time::Instant;
use tracing::{debug, warn};

use super::assignor::{AssignorMember, range_assign};
use super::coordinator::CoordinatorLink;
use super::heartbeat::{HeartbeatPlan, HeartbeatTask, RejoinReason, is_transport};
use super::requests::{
    JoinParams, MemberRef, RANGE_ASSIGNOR, join_group_request, leave_group_request,
    sync_group_request,
};
use crate::admin::consumer_protocol::{MemberAssignment, MemberSubscription, TopicPartitions};
use crate::admin::groups::{MemberCommit, OffsetToCommit, offset_commit_request};
use crate::client::KafkaClient;
use crate::error::ClientError;
use crate::kafka_code::KafkaCode;

/// Longest pause between attempts while the coordinator is unavailable or moving.
const MAX_RETRY_BACKOFF: Duration = Duration::from_secs(1);
const FIRST_RETRY_BACKOFF: Duration = Duration::from_millis(100);
/// Join attempts retried without a pause before backing off.
const MAX_IMMEDIATE_RETRIES: u32 = 3;
/// The subscription layout sent: v1 adds the partitions the member owns, which sticky
/// assignors of other members may use; every client since Kafka 2.4 reads it.
const SUBSCRIPTION_VERSION: i16 = 1;

/// How a member joins and stays in its group.
#[derive(Debug, Clone)]
pub struct MembershipConfig {
    pub group_id: String,
    /// The topics this member subscribes to.
    pub topics: Vec<String>,
    /// The coordinator drops the member when no heartbeat arrives for this long.
    pub session_timeout: Duration,
    /// How long the coordinator waits for every member to rejoin during a rebalance.
    pub rebalance_timeout: Duration,
    pub heartbeat_interval: Duration,
}

impl MembershipConfig {
    /// A 10 s session (Kafka's default before 3.0: a vanished terminal consumer should not hold
    /// its partitions for long), a 60 s rebalance timeout, heartbeats every third of a session.
    pub fn new(group_id: &str, topics: &[&str]) -> Self {
        let session_timeout = Duration::from_secs(10);
        MembershipConfig {
            group_id: group_id.to_owned(),
            topics: topics.iter().map(|t| (*t).to_owned()).collect(),
            session_timeout,
            rebalance_timeout: Duration::from_secs(60),
            heartbeat_interval: default_heartbeat_interval(session_timeout),
        }
    }
}

/// A third of the session, at most 3 s (Kafka's default heartbeat interval).
pub fn default_heartbeat_interval(session_timeout: Duration) -> Duration {
    (session_timeout / 3).clamp(Duration::from_millis(100), Duration::from_secs(3))
}

/// One generation of the group as this member saw it join.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupGeneration {
    pub generation_id: i32,
    pub member_id: String,
    pub leader: bool,
    /// The assignor the group agreed on.
    pub protocol: String,
}

/// What a completed join gave this member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinedGroup {
    pub generation: GroupGeneration,
    pub assignment: Vec<TopicPartitions>,
}

/// What one join attempt's failure means for the next.
enum Retry {
    /// At once: the coordinator asked for exactly this (a member id, a new generation).
    Now,
    /// After a pause, on a fresh coordinator connection.
    Later,
}

pub struct GroupMembership {
    link: CoordinatorLink,
    config: MembershipConfig,
    member_id: String,
    generation: Option<GroupGeneration>,
    owned: Vec<TopicPartitions>,
    rejoin: watch::Sender<Option<RejoinReason>>,
    heartbeats: Option<HeartbeatTask>,
}

impl GroupMembership {
    pub fn new(client: KafkaClient, config: MembershipConfig) -> Result<Self, ClientError> {
        if config.group_id.is_empty() {
            return Err(ClientError::InvalidArgument(
                "a consumer group id cannot be empty".to_owned(),
            ));
        }
        if config.topics.is_empty() {
            return Err(ClientError::InvalidArgument(
                "a group member must subscribe to at least one topic".to_owned(),
            ));
        }
        for (name, value) in [
            ("session timeout", config.session_timeout),
            ("rebalance timeout", config.rebalance_timeout),
        ] {
            if i32::try_from(value.as_millis()).is_err() || value.is_zero() {
                return Err(ClientError::InvalidArgument(format!(
                    "a {name} of {} ms is out of range",
                    value.as_millis()
                )));
            }
        }
        let (rejoin, _) = watch::channel(None);
        Ok(GroupMembership {
            link: CoordinatorLink::new(client, &config.group_id),
            config,
            member_id: String::new(),
            generation: None,
            owned: Vec::new(),
            rejoin,
            heartbeats: None,
        })
    }

    pub fn group_id(&self) -> &str {
        &self.config.group_id
    }

    /// The generation this member is in, None before the first join and after leaving.
    pub fn generation(&self) -> Option<&GroupGeneration> {
        self.generation.as_ref()
    }

    /// Why the member must rejoin, once heartbeats or a commit said so.
    pub fn rejoin_reason(&self) -> Option<RejoinReason> {
        self.rejoin.borrow().clone()
    }

    /// Resolves once the member must rejoin (for `select!` beside a fetch).
    pub async fn rejoin_needed(&self) -> RejoinReason {
        let mut watcher = self.rejoin.subscribe();
        match watcher.wait_for(Option::is_some).await {
            Ok(reason) => reason.clone().unwrap_or(RejoinReason::Rebalance),
            // The sender lives in self, so this cannot close while we wait.
            Err(_) => std::future::pending().await,
        }
    }

    /// Joins (or rejoins) the group and waits for this member's assignment. Retries what a
    /// rebalance or a moving coordinator throws at it, for up to about two rebalance timeouts.
    pub async fn join(&mut self) -> Result<JoinedGroup, ClientError> {
        self.heartbeats = None;
        let reason = self.rejoin.send_replace(None);
        if reason.as_ref().is_some_and(RejoinReason::resets_member_id) {
            self.member_id.clear();
        }
        let why = reason.map_or_else(|| "the consumer is starting".to_owned(), |r| r.to_string());
        self.generation = None;
        let deadline =
            Instant::now() + self.config.rebalance_timeout * 2 + self.config.session_timeout;
        let mut backoff = FIRST_RETRY_BACKOFF;
        let mut immediate_retries = 0;
        loop {
            let error = match self.join_once(&why).await {
                Ok(joined) => {
                    self.start_heartbeats(&joined.generation);
                    self.owned.clone_from(&joined.assignment);
                    self.generation = Some(joined.generation.clone());
                    return Ok(joined);
                }
                Err(error) => error,
            };
            let Some(retry) = self.retry_after(&error) else {
                return Err(error);
            };
            if Instant::now() >= deadline {
                return Err(error);
            }
            debug!(group = %self.config.group_id, %error, "join attempt failed; trying again");
            if let Retry::Later = retry {
                self.link.reset().await;
            }
            // The coordinator asks for at most a couple of immediate retries (a member id, a
            // new generation); more in a row means something is wrong, so slow down.
            immediate_retries += 1;
            if matches!(retry, Retry::Later) || immediate_retries > MAX_IMMEDIATE_RETRIES {
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_RETRY_BACKOFF);
            }
        }
    }

    fn retry_after(&mut self, error: &ClientError) -> Option<Retry> {
        match error.kafka_code() {
            Some(KafkaCode::MEMBER_ID_REQUIRED) => Some(Retry::Now),
            Some(code) => match RejoinReason::from_code(code) {
                Some(reason) => {
                    if reason.resets_member_id() {
                        self.member_id.clear();
                    }
                    Some(Retry::Now)
                }
                None if code.wants_metadata_refresh() => Some(Retry::Later),
                None => None,
            },
            None if is_transport(error) || error.wants_metadata_refresh() => Some(Retry::Later),
            None => None,
        }
    }

    async fn join_once(&mut self, reason: &str) -> Result<JoinedGroup, ClientError> {
        let group_id = self.config.group_id.clone();
        let context = format!("cannot join group {group_id}");
        let connection = self.link.connection().await?;
        let subscription = MemberSubscription {
            version: SUBSCRIPTION_VERSION,
            topics: self.config.topics.clone(),
            owned_partitions: self.owned.clone(),
            user_data: None,
            generation_id: -1,
            rack_id: None,
        }
        .encode()?;
        let params = JoinParams {
            group_id: &group_id,
            member_id: &self.member_id,
            session_timeout_ms: millis(self.config.session_timeout),
            rebalance_timeout_ms: millis(self.config.rebalance_timeout),
            subscription,
            reason,
        };
        let version = connection.require_version(ApiKey::JoinGroup)?;
        // The coordinator holds a JoinGroup until every member has rejoined.
        let wait = self.config.rebalance_timeout + self.config.session_timeout;
        let joined = connection
            .send_with_extra_time(&join_group_request(&params, version), wait)
            .await?;
        if joined.error_code != 0 {
            if KafkaCode(joined.error_code) == KafkaCode::MEMBER_ID_REQUIRED {
                self.member_id = joined.member_id.to_string();
            }
            return Err(ClientError::kafka(joined.error_code, context, None));
        }
        self.member_id = joined.member_id.to_string();
        let leader = joined.leader.as_str() == self.member_id;
        let generation = GroupGeneration {
            generation_id: joined.generation_id,
            member_id: self.member_id.clone(),
            leader,
            protocol: joined
                .protocol_name
                .as_ref()
                .map_or_else(|| RANGE_ASSIGNOR.to_owned(), ToString::to_string),
        };
        // KIP-814: a static leader rejoining without a change must not reassign.
        let assignments = if leader && !joined.skip_assignment {
            self.assign(&joined.members).await?
        } else {
            Vec::new()
        };
        let member = MemberRef {
            group_id: &group_id,
            member_id: &self.member_id,
            generation_id: generation.generation_id,
        };
        let version = connection.require_version(ApiKey::SyncGroup)?;
        let synced = connection
            .send_with_extra_time(
                &sync_group_request(member, assignments, version),
                self.config.rebalance_timeout,
            )
            .await?;
        if synced.error_code != 0 {
            return Err(ClientError::kafka(synced.error_code, context, None));
        }
        let assignment = MemberAssignment::decode(&synced.assignment)?;
        Ok(JoinedGroup {
            generation,
            assignment: assignment.partitions,
        })
    }

    /// The leader's job: every member's assignment, by the range assignor over the members'
    /// subscriptions and the partition counts the cluster reports now.
    async fn assign(
        &self,
        members: &[JoinGroupResponseMember],
    ) -> Result<Vec<(String, Bytes)>, ClientError> {
        let members: Vec<AssignorMember> = members
            .iter()
            .map(|m| AssignorMember {
                member_id: m.member_id.to_string(),
                instance_id: m.group_instance_id.as_ref().map(ToString::to_string),
                topics: match MemberSubscription::decode(&m.metadata) {
                    Ok(subscription) => subscription.topics,
                    Err(error) => {
                        warn!(member = %m.member_id, %error, "member's subscription is unreadable; it gets no partitions");
                        Vec::new()
                    }
                },
            })
            .collect();
        let topics: BTreeSet<&str> = members
            .iter()
            .flat_map(|m| m.topics.iter().map(String::as_str))
            .collect();
        let topics: Vec<&str> = topics.into_iter().collect();
        let metadata = self.link.client().fetch_metadata(Some(&topics)).await?;
        let counts: BTreeMap<String, i32> = topics
            .iter()
            .filter_map(|t| {
                let info = metadata.topics.get(*t)?;
                Some(((*t).to_owned(), i32::try_from(info.partitions.len()).ok()?))
            })
            .collect();
        range_assign(&members, &counts)
            .into_iter()
            .map(|(member_id, partitions)| {
                let bytes = MemberAssignment {
                    version: 0,
                    partitions,
                    user_data: None,
                }
                .encode()?;
                Ok((member_id, bytes))
            })
            .collect()
    }

    fn start_heartbeats(&mut self, generation: &GroupGeneration) {
        let plan = HeartbeatPlan {
            group_id: self.config.group_id.clone(),
            member_id: generation.member_id.clone(),
            generation_id: generation.generation_id,
            interval: self.config.heartbeat_interval,
            session_timeout: self.config.session_timeout,
        };
        self.heartbeats = Some(HeartbeatTask::spawn(
            self.link.clone(),
            plan,
            self.rejoin.clone(),
        ));
    }

    /// Commits offsets (the next offset to read, per partition) in the current generation.
    /// An answer saying the generation is over also marks the member for rejoining.
    pub async fn commit(&mut self, offsets: &[OffsetToCommit]) -> Result<(), ClientError> {
        if offsets.is_empty() {
            return Ok(());
        }
        let group_id = self.config.group_id.as_str();
        let Some(generation) = &self.generation else {
            return Err(ClientError::NotInGroup {
                group: group_id.to_owned(),
            });
        };
        let request = offset_commit_request(
            group_id,
            offsets,
            Some(MemberCommit {
                generation_id: generation.generation_id,
                member_id: &generation.member_id,
            }),
        );
        let context = format!("cannot commit offsets of group {group_id}");
        let mut attempts = 0;
        let response = loop {
            attempts += 1;
            let sent = match self.link.connection().await {
                Ok(connection) => connection.send(&request).await,
                Err(error) => Err(error),
            };
            match sent {
                Ok(response) => break response,
                Err(error)
                    if attempts < 2 && (is_transport(&error) || error.wants_metadata_refresh()) =>
                {
                    self.link.reset().await;
                }
                Err(error) => return Err(error),
            }
        };
        let first_error = response
            .topics
            .iter()
            .flat_map(|t| t.partitions.iter().map(move |p| (t, p)))
            .find(|(_, p)| p.error_code != 0);
        let Some((topic, partition)) = first_error else {
            return Ok(());
        };
        let code = KafkaCode(partition.error_code);
        if let Some(reason) = RejoinReason::from_code(code) {
            self.rejoin.send_replace(Some(reason));
        } else if code.wants_metadata_refresh() {
            self.link.reset().await;
        }
        Err(ClientError::Kafka {
            code,
            context: format!("{context} ({}-{})", topic.name.0, partition.partition_index),
            message: None,
        })
    }

    /// Leaves the group, so its partitions move to other members at once instead of after a
    /// session timeout. A coordinator that no longer knows the member is fine.
    pub async fn leave(&mut self) -> Result<(), ClientError> {
        self.heartbeats = None;
        self.generation = None;
        if self.member_id.is_empty() {
            return Ok(());
        }
        let member_id = std::mem::take(&mut self.member_id);
        let connection = self.link.connection().await?;
        let version = connection.require_version(ApiKey::LeaveGroup)?;
        let response = connection
            .send(&leave_group_request(
                &self.config.group_id,
                &member_id,
                version,
            ))
            .await?;
        let code = response
            .members
            .iter()
            .map(|m| m.error_code)
            .find(|&c| c != 0)
            .unwrap_or(response.error_code);
        match KafkaCode(code) {
            KafkaCode(0) | KafkaCode::UNKNOWN_MEMBER_ID => Ok(()),
            _ => Err(ClientError::kafka(
                code,
                format!("cannot leave group {}", self.config.group_id),
                None,
            )),
        }
    }
}

fn millis(duration: Duration) -> i32 {
    i32::try_from(duration.as_millis()).unwrap_or(i32::MAX)
}
