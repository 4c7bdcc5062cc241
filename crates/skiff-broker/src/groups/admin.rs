//! What admin APIs ask of a group: a description, and whether it may be deleted or have
//! offsets deleted.

use bytes::Bytes;

use super::error::CoordinatorError;
use super::group::ClassicGroup;
use super::outcome::{JoinResult, SyncResult};
use super::state::GroupState;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberDescription {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub metadata: Bytes,
    pub assignment: Bytes,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupDescription {
    pub state: GroupState,
    pub protocol_type: String,
    /// The selected protocol; empty unless the group is Stable.
    pub protocol: String,
    pub members: Vec<MemberDescription>,
}

impl GroupDescription {
    /// What DescribeGroups says about a group that does not exist.
    pub fn dead() -> GroupDescription {
        GroupDescription {
            state: GroupState::Dead,
            protocol_type: String::new(),
            protocol: String::new(),
            members: Vec::new(),
        }
    }
}

impl ClassicGroup {
    /// Kafka shows metadata and assignments only for a Stable group, where they are
    /// consistent with one another.
    pub fn describe(&self) -> GroupDescription {
        let stable = self.state == GroupState::Stable;
        let protocol = if stable {
            self.protocol.clone().unwrap_or_default()
        } else {
            String::new()
        };
        GroupDescription {
            state: self.state,
            protocol_type: self.protocol_type.clone().unwrap_or_default(),
            members: self
                .members
                .values()
                .map(|m| MemberDescription {
                    member_id: m.id.clone(),
                    group_instance_id: m.instance_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    metadata: if stable {
                        m.metadata(&protocol).cloned().unwrap_or_default()
                    } else {
                        Bytes::new()
                    },
                    assignment: if stable {
                        m.assignment.clone()
                    } else {
                        Bytes::new()
                    },
                })
                .collect(),
            protocol,
        }
    }

    /// Marks an empty group dead so it can be deleted; a group with members cannot be.
    pub fn prepare_delete(&mut self) -> Result<(), CoordinatorError> {
        match self.state {
            GroupState::Dead => Err(CoordinatorError::GroupIdNotFound),
            GroupState::Stable
            | GroupState::PreparingRebalance
            | GroupState::CompletingRebalance => Err(CoordinatorError::NonEmptyGroup),
            GroupState::Empty if !self.pending_members.is_empty() => {
                Err(CoordinatorError::NonEmptyGroup)
            }
            GroupState::Empty => {
                self.transition(GroupState::Dead);
                Ok(())
            }
        }
    }

    /// The coordinator dropped this group from memory; anyone still holding it must look it
    /// up again (and reload it from the controller).
    pub(super) fn prepare_eviction(&mut self) {
        self.transition(GroupState::Dead);
    }

    /// Another broker coordinates this group now: answer every parked request with
    /// NOT_COORDINATOR (the clients find the new coordinator, which loads the group from the
    /// controller) and drop the group like an eviction.
    pub(super) fn hand_over(&mut self) {
        for (member_id, member) in self.members.iter_mut() {
            member.complete_join(JoinResult::failed(
                CoordinatorError::NotCoordinator,
                member_id,
            ));
            member.complete_sync(SyncResult::failed(CoordinatorError::NotCoordinator));
        }
        self.awaiting_join_count = 0;
        self.prepare_eviction();
    }

    /// Whether offsets may be deleted at all: an active group must use the consumer protocol,
    /// whose subscriptions tell which topics are still in use.
    pub fn validate_offset_delete(&self) -> Result<(), CoordinatorError> {
        match self.state {
            GroupState::Dead => Err(CoordinatorError::GroupIdNotFound),
            GroupState::Stable
            | GroupState::PreparingRebalance
            | GroupState::CompletingRebalance
                if !self.uses_consumer_protocol() =>
            {
                Err(CoordinatorError::NonEmptyGroup)
            }
            _ => Ok(()),
        }
    }
}
