//! What handlers ask of the coordinator, one method per group API: find (or load, or create)
//! the group, run its state-machine step, and for commits and deletions wait for the
//! controller.

use skiff_meta::{
    FencedOffsets, GroupError, GroupOffsetDeletion, GroupOffsets, PartitionOffset, TopicId,
};

use super::admin::GroupDescription;
use super::coordinator::{GroupCoordinator, Lookup};
use super::error::CoordinatorError;
use super::group::ClassicGroup;
use super::join::JoinRequest;
use super::outcome::{JoinReply, JoinResult, SyncReply, SyncResult};
use super::state::GroupState;
use super::sync::{LeavingMember, SyncRequest};
use crate::clock::now_ms;

/// One group as ListGroups reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupListing {
    pub group_id: String,
    pub protocol_type: String,
    pub state: GroupState,
}

/// One topic's partitions named in an OffsetDelete request, resolved to the topic's id.
#[derive(Debug, Clone)]
pub struct TopicPartitions {
    pub name: String,
    pub id: TopicId,
    pub partitions: Vec<u32>,
}

fn from_controller(error: GroupError) -> CoordinatorError {
    CoordinatorError::from(error)
}

impl GroupCoordinator {
    pub fn join(&self, group_id: &str, request: JoinRequest) -> JoinReply {
        let fail = |error| JoinReply::Ready(JoinResult::failed(error, &request.member_id));
        let config = &self.core.config;
        let timeout = i64::try_from(request.session_timeout_ms).unwrap_or(i64::MAX);
        if timeout < i64::from(config.min_session_timeout_ms)
            || timeout > i64::from(config.max_session_timeout_ms)
        {
            return fail(CoordinatorError::InvalidSessionTimeout);
        }
        // Only a member without an id may create the group; a known id in an unknown group
        // means the group was lost (deleted, or expired everyone) and the member must rejoin.
        let lookup = if request.member_id.is_empty() {
            Lookup::CreateIfMissing
        } else {
            Lookup::Existing
        };
        let slot = match self.core.slot(group_id, lookup) {
            Ok(Some(slot)) => slot,
            Ok(None) => return fail(CoordinatorError::UnknownMemberId),
            Err(error) => return fail(error),
        };
        self.core
            .with_group(group_id, &slot, |group, now| group.join(request, now))
    }

    pub fn sync(&self, group_id: &str, request: SyncRequest) -> SyncReply {
        match self.core.slot(group_id, Lookup::Existing) {
            Ok(Some(slot)) => self
                .core
                .with_group(group_id, &slot, |group, now| group.sync(request, now)),
            Ok(None) => SyncReply::Ready(SyncResult::failed(CoordinatorError::UnknownMemberId)),
            Err(error) => SyncReply::Ready(SyncResult::failed(error)),
        }
    }

    pub fn heartbeat(
        &self,
        group_id: &str,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
    ) -> Result<(), CoordinatorError> {
        let slot = self
            .core
            .slot(group_id, Lookup::Existing)?
            .ok_or(CoordinatorError::UnknownMemberId)?;
        self.core.with_group(group_id, &slot, |group, now| {
            group.heartbeat(member_id, instance_id, generation, now)
        })
    }

    pub fn leave(
        &self,
        group_id: &str,
        leaving: &[LeavingMember],
    ) -> Result<Vec<Result<(), CoordinatorError>>, CoordinatorError> {
        let slot = self
            .core
            .slot(group_id, Lookup::Existing)?
            .ok_or(CoordinatorError::UnknownMemberId)?;
        self.core
            .with_group(group_id, &slot, |group, now| group.leave(leaving, now))
    }

    /// The group-side check of a TxnOffsetCommit (the offsets themselves go to the
    /// transaction, in the controller). A group nobody joined is created, as Kafka does, so
    /// a producer that names no member may commit into it.
    pub fn check_txn_offset_commit(
        &self,
        group_id: &str,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
    ) -> Result<(), CoordinatorError> {
        let slot = self
            .core
            .slot(group_id, Lookup::CreateIfMissing)?
            .ok_or(CoordinatorError::CoordinatorNotAvailable)?;
        self.core.with_group(group_id, &slot, |group, _| {
            group.validate_txn_offset_commit(member_id, instance_id, generation)
        })
    }

    /// Validates the commit against the group, then waits until the controller has applied it.
    /// Group-level failures fail every partition; otherwise each partition has its own result,
    /// in request order.
    pub async fn commit_offsets(
        &self,
        group_id: &str,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
        api_version: i16,
        partitions: Vec<PartitionOffset>,
    ) -> Result<Vec<Result<(), CoordinatorError>>, CoordinatorError> {
        let slot = match self.core.slot(group_id, Lookup::Existing)? {
            Some(slot) => slot,
            // Standalone consumers commit into groups nobody joined; committing creates them.
            None if generation < 0 => self
                .core
                .slot(group_id, Lookup::CreateIfMissing)?
                .ok_or(CoordinatorError::CoordinatorNotAvailable)?,
            None if api_version >= 9 => return Err(CoordinatorError::GroupIdNotFound),
            None => return Err(CoordinatorError::IllegalGeneration),
        };
        let loaded_at = self.core.with_group(group_id, &slot, |group, now| {
            group
                .validate_offset_commit(member_id, instance_id, generation, now)
                .map(|()| group.loaded_at)
        })?;

        let max_metadata = self.core.config.offset_metadata_max_bytes;
        let mut results = Vec::with_capacity(partitions.len());
        let mut positions = Vec::with_capacity(partitions.len());
        let mut valid = Vec::with_capacity(partitions.len());
        for partition in partitions {
            if partition.metadata.len() > max_metadata {
                results.push(Err(CoordinatorError::OffsetMetadataTooLarge));
            } else {
                positions.push(results.len());
                results.push(Ok(()));
                valid.push(partition);
            }
        }
        if valid.is_empty() {
            return Ok(results);
        }
        let outcomes = self
            .core
            .writer
            .commit(FencedOffsets {
                loaded_at,
                offsets: GroupOffsets {
                    group_id: group_id.to_string(),
                    commit_time_ms: now_ms(),
                    partitions: valid,
                },
            })
            .await?;
        if outcomes.len() != positions.len() {
            return Err(CoordinatorError::CoordinatorNotAvailable);
        }
        if outcomes.contains(&Err(GroupError::NotCoordinator)) {
            // Fenced: this broker lost the group since it loaded it; the client's retry
            // (after it finds the coordinator again) reloads it.
            self.core
                .unload(group_id, &slot, "the controller refused its offset commit");
        }
        for (position, outcome) in positions.into_iter().zip(outcomes) {
            if let (Some(slot), Err(e)) = (results.get_mut(position), outcome) {
                *slot = Err(from_controller(e));
            }
        }
        Ok(results)
    }

    /// A group that does not exist is described as Dead, as Kafka does. A group only
    /// persisted is described as loading it would make it, without taking room in memory.
    pub fn describe(&self, group_id: &str) -> GroupDescription {
        if let Some(slot) = self.core.loaded(group_id) {
            return slot.lock().describe();
        }
        let state = self.core.controller.state();
        let state = state.read();
        match state.group(group_id) {
            Some(record) => match &record.metadata {
                Some(stored) => {
                    ClassicGroup::from_stored(stored, self.core.config.clone(), self.core.now(), 0)
                        .describe()
                }
                None => ClassicGroup::new(group_id, self.core.config.clone()).describe(),
            },
            None => GroupDescription::dead(),
        }
    }

    /// Every group this broker knows: those in memory, and those only persisted (described
    /// by what loading them would give, without loading them).
    pub fn list(&self) -> Vec<GroupListing> {
        let mut listed: std::collections::BTreeMap<String, GroupListing> = {
            let state = self.core.controller.state();
            let state = state.read();
            state
                .groups()
                .map(|(id, record)| {
                    let (protocol_type, state) = match &record.metadata {
                        Some(m) if !m.members.is_empty() => {
                            (m.protocol_type.clone(), GroupState::Stable)
                        }
                        Some(m) => (m.protocol_type.clone(), GroupState::Empty),
                        None => (String::new(), GroupState::Empty),
                    };
                    (
                        id.to_string(),
                        GroupListing {
                            group_id: id.to_string(),
                            protocol_type,
                            state,
                        },
                    )
                })
                .collect()
        };
        for (id, slot) in self.core.loaded_groups() {
            let (protocol_type, state) = {
                let group = slot.lock();
                (
                    group.protocol_type().unwrap_or_default().to_string(),
                    group.state(),
                )
            };
            if state == GroupState::Dead {
                listed.remove(&id);
            } else {
                listed.insert(
                    id.clone(),
                    GroupListing {
                        group_id: id,
                        protocol_type,
                        state,
                    },
                );
            }
        }
        listed.into_values().collect()
    }

    /// Deletes each group that has no members, with its offsets; one result per group id.
    pub async fn delete_groups(&self, group_ids: &[String]) -> Vec<Result<(), CoordinatorError>> {
        let mut results: Vec<Result<(), CoordinatorError>> = Vec::with_capacity(group_ids.len());
        let mut positions = Vec::new();
        let mut doomed = Vec::new();
        for group_id in group_ids {
            let outcome = self.mark_deleted(group_id);
            if outcome.is_ok() {
                positions.push(results.len());
                doomed.push(group_id.clone());
            }
            results.push(outcome);
        }
        if doomed.is_empty() {
            return results;
        }
        let outcomes = self.core.writer.delete_groups(doomed).await;
        for (i, position) in positions.into_iter().enumerate() {
            let outcome = match &outcomes {
                // A group that lived only in memory has nothing persisted to delete.
                Ok(per_group) => match per_group.get(i) {
                    Some(Ok(())) | Some(Err(GroupError::UnknownGroup)) => Ok(()),
                    Some(Err(e)) => Err(from_controller(e.clone())),
                    None => Err(CoordinatorError::CoordinatorNotAvailable),
                },
                Err(e) => Err(*e),
            };
            if let Some(slot) = results.get_mut(position) {
                *slot = outcome;
            }
        }
        results
    }

    fn mark_deleted(&self, group_id: &str) -> Result<(), CoordinatorError> {
        let slot = self
            .core
            .slot(group_id, Lookup::Existing)?
            .ok_or(CoordinatorError::GroupIdNotFound)?;
        self.core
            .with_group(group_id, &slot, |group, _| group.prepare_delete())?;
        self.core.forget(group_id, &slot);
        Ok(())
    }

    /// Deletes committed offsets of topics no live member is subscribed to. The outer error
    /// is the group's; otherwise one result per topic, then per partition.
    pub async fn delete_offsets(
        &self,
        group_id: &str,
        topics: &[TopicPartitions],
    ) -> Result<Vec<Result<(), CoordinatorError>>, CoordinatorError> {
        let slot = self
            .core
            .slot(group_id, Lookup::Existing)?
            .ok_or(CoordinatorError::GroupIdNotFound)?;
        let subscribed: Vec<bool> = self.core.with_group(group_id, &slot, |group, _| {
            group.validate_offset_delete()?;
            Ok::<_, CoordinatorError>(
                topics
                    .iter()
                    .map(|t| group.is_subscribed_to(&t.name))
                    .collect(),
            )
        })?;
        let mut deletion = GroupOffsetDeletion {
            group_id: group_id.to_string(),
            partitions: Vec::new(),
        };
        let mut results = Vec::with_capacity(topics.len());
        for (topic, subscribed) in topics.iter().zip(&subscribed) {
            if *subscribed {
                results.push(Err(CoordinatorError::GroupSubscribedToTopic));
            } else {
                deletion
                    .partitions
                    .extend(topic.partitions.iter().map(|p| (topic.id, *p)));
                results.push(Ok(()));
            }
        }
        if !deletion.partitions.is_empty() {
            match self.core.writer.delete_offsets(deletion).await {
                // UnknownGroup: the group never committed anything, so nothing to delete.
                Ok(_) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(results)
    }
}
