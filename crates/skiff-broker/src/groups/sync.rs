//! SyncGroup, Heartbeat and LeaveGroup, and what happens when a stored snapshot comes back
//! from the controller.

use std::collections::BTreeMap;

use bytes::Bytes;
use tokio::sync::oneshot;

use super::error::CoordinatorError;
use super::group::ClassicGroup;
use super::outcome::{SyncReply, SyncResult};
use super::state::GroupState;
use super::store_request::StorePurpose;

#[derive(Debug, Clone)]
pub struct SyncRequest {
    pub member_id: String,
    pub instance_id: Option<String>,
    pub generation: i32,
    /// v5+; `None` when the client did not say.
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    /// Only the leader sends assignments.
    pub assignments: Vec<(String, Bytes)>,
}

/// One member named in a LeaveGroup request.
#[derive(Debug, Clone)]
pub struct LeavingMember {
    /// Empty when an admin removes a static member by its instance id.
    pub member_id: String,
    pub instance_id: Option<String>,
}

/// A protocol type or name in a request that contradicts the group's.
fn inconsistent(requested: Option<&str>, current: Option<&str>) -> bool {
    matches!((requested, current), (Some(r), Some(c)) if r != c)
}

impl ClassicGroup {
    pub fn sync(&mut self, request: SyncRequest, now: u64) -> SyncReply {
        let ready = |error| SyncReply::Ready(SyncResult::failed(error));
        if self.state == GroupState::Dead {
            return ready(CoordinatorError::CoordinatorNotAvailable);
        }
        if let Err(error) = self.validate_member(&request.member_id, request.instance_id.as_deref())
        {
            return ready(error);
        }
        if request.generation != self.generation {
            return ready(CoordinatorError::IllegalGeneration);
        }
        if inconsistent(
            request.protocol_type.as_deref(),
            self.protocol_type.as_deref(),
        ) || inconsistent(request.protocol_name.as_deref(), self.protocol.as_deref())
        {
            return ready(CoordinatorError::InconsistentGroupProtocol);
        }
        match self.state {
            GroupState::Empty | GroupState::Dead => ready(CoordinatorError::UnknownMemberId),
            GroupState::PreparingRebalance => ready(CoordinatorError::RebalanceInProgress),
            GroupState::Stable => {
                self.pending_sync.remove(&request.member_id);
                let Some(member) = self.members.get_mut(&request.member_id) else {
                    return ready(CoordinatorError::UnknownMemberId);
                };
                member.touch(now);
                SyncReply::Ready(SyncResult {
                    error: None,
                    protocol_type: self.protocol_type.clone(),
                    protocol_name: self.protocol.clone(),
                    assignment: member.assignment.clone(),
                })
            }
            GroupState::CompletingRebalance => {
                let (responder, receiver) = oneshot::channel();
                if let Some(member) = self.members.get_mut(&request.member_id) {
                    member.awaiting_sync = Some(responder);
                }
                self.pending_sync.remove(&request.member_id);
                if self.pending_sync.is_empty() {
                    self.sync_timer = None;
                }
                if self.is_leader(&request.member_id) {
                    self.accept_leader_assignment(request.assignments);
                }
                SyncReply::Parked(receiver)
            }
        }
    }

    /// Holds the leader's assignment (members it left out get an empty one) until the
    /// controller has stored it; only then do members receive it.
    fn accept_leader_assignment(&mut self, assignments: Vec<(String, Bytes)>) {
        let mut assignment: BTreeMap<String, Bytes> = assignments
            .into_iter()
            .filter(|(id, _)| self.members.contains_key(id))
            .collect();
        let missing: Vec<&String> = self
            .members
            .keys()
            .filter(|id| !assignment.contains_key(*id))
            .collect();
        if !missing.is_empty() {
            tracing::warn!(group = %self.id, generation = self.generation, members = ?missing, "the leader sent no assignment for some members; they get an empty one");
        }
        for id in self.members.keys() {
            assignment.entry(id.clone()).or_default();
        }
        let generation = self.generation;
        self.request_store(StorePurpose::Assignment { generation }, Some(&assignment));
        self.pending_assignment = Some((generation, assignment));
    }

    pub fn heartbeat(
        &mut self,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
        now: u64,
    ) -> Result<(), CoordinatorError> {
        if self.state == GroupState::Dead {
            return Err(CoordinatorError::CoordinatorNotAvailable);
        }
        self.validate_member(member_id, instance_id)?;
        if generation != self.generation {
            return Err(CoordinatorError::IllegalGeneration);
        }
        if self.state == GroupState::Empty {
            return Err(CoordinatorError::UnknownMemberId);
        }
        if let Some(member) = self.members.get_mut(member_id) {
            member.touch(now);
        }
        if self.state == GroupState::PreparingRebalance {
            return Err(CoordinatorError::RebalanceInProgress);
        }
        Ok(())
    }

    /// Removes each named member; one result per member, in order. The whole request fails
    /// only when the group is dead.
    pub fn leave(
        &mut self,
        leaving: &[LeavingMember],
        now: u64,
    ) -> Result<Vec<Result<(), CoordinatorError>>, CoordinatorError> {
        if self.state == GroupState::Dead {
            return Err(CoordinatorError::CoordinatorNotAvailable);
        }
        let mut results = Vec::with_capacity(leaving.len());
        for member in leaving {
            results.push(self.remove_leaving_member(member));
        }
        if results.iter().any(Result::is_ok) {
            match self.state {
                GroupState::Stable | GroupState::CompletingRebalance => {
                    self.maybe_prepare_rebalance_or_complete_join(now);
                }
                GroupState::PreparingRebalance => self.maybe_complete_join_phase(now),
                GroupState::Empty | GroupState::Dead => {}
            }
        }
        Ok(results)
    }

    fn remove_leaving_member(&mut self, leaving: &LeavingMember) -> Result<(), CoordinatorError> {
        let member_id = if leaving.member_id.is_empty() {
            // An admin removing a static member names only its instance id.
            leaving
                .instance_id
                .as_deref()
                .and_then(|i| self.static_members.get(i).cloned())
                .ok_or(CoordinatorError::UnknownMemberId)?
        } else if self.pending_members.remove(&leaving.member_id).is_some() {
            return Ok(());
        } else {
            self.validate_member(&leaving.member_id, leaving.instance_id.as_deref())?;
            leaving.member_id.clone()
        };
        self.complete_join(
            &member_id,
            super::outcome::JoinResult::failed(CoordinatorError::UnknownMemberId, ""),
        );
        self.remove_member(&member_id);
        Ok(())
    }

    /// Checks an OffsetCommit against the group (Kafka's rules for classic groups) and counts
    /// a valid one as a sign of life.
    pub fn validate_offset_commit(
        &mut self,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
        now: u64,
    ) -> Result<(), CoordinatorError> {
        if self.state == GroupState::Dead {
            return Err(CoordinatorError::CoordinatorNotAvailable);
        }
        // Standalone consumers (assign(), admin tools) commit without a generation, which is
        // fine while no member could be consuming the same partitions.
        if generation < 0 && self.state == GroupState::Empty {
            return Ok(());
        }
        if generation >= 0 || !member_id.is_empty() || instance_id.is_some() {
            self.validate_member(member_id, instance_id)?;
            if generation != self.generation {
                return Err(CoordinatorError::IllegalGeneration);
            }
        } else if self.state != GroupState::Empty {
            return Err(CoordinatorError::UnknownMemberId);
        }
        if self.state == GroupState::CompletingRebalance {
            // The member has its new generation but not its assignment yet.
            return Err(CoordinatorError::RebalanceInProgress);
        }
        if let Some(member) = self.members.get_mut(member_id) {
            member.touch_on_commit(now);
        }
        Ok(())
    }

    /// KIP-447: a transactional producer commits offsets for the consumer it reads with, so a
    /// member that was fenced by a rebalance cannot commit. Unlike a plain commit, a rebalance
    /// in progress does not refuse it (Kafka's TxnOffsetCommit rules), and a producer that
    /// names no member (before KIP-447) is not checked.
    pub fn validate_txn_offset_commit(
        &self,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
    ) -> Result<(), CoordinatorError> {
        if self.state == GroupState::Dead {
            return Err(CoordinatorError::CoordinatorNotAvailable);
        }
        if let Some(instance) = instance_id
            && self
                .static_members
                .get(instance)
                .is_some_and(|current| current != member_id)
        {
            return Err(CoordinatorError::FencedInstanceId);
        }
        if !member_id.is_empty() && !self.members.contains_key(member_id) {
            return Err(CoordinatorError::UnknownMemberId);
        }
        if generation >= 0 && generation != self.generation {
            return Err(CoordinatorError::IllegalGeneration);
        }
        Ok(())
    }

    /// The controller stored (or failed to store) a snapshot this group asked for.
    pub fn on_store_done(
        &mut self,
        purpose: &StorePurpose,
        stored: Result<(), CoordinatorError>,
        now: u64,
    ) {
        self.stores_in_flight = self.stores_in_flight.saturating_sub(1);
        match purpose {
            StorePurpose::Empty => {}
            StorePurpose::Assignment { generation } => {
                let pending = self
                    .pending_assignment
                    .take_if(|(g, _)| g == generation)
                    .map(|(_, a)| a);
                // A rebalance may have started meanwhile; then this generation is history.
                if self.state != GroupState::CompletingRebalance || *generation != self.generation {
                    return;
                }
                match (stored, pending) {
                    (Ok(()), Some(assignment)) => {
                        self.set_and_propagate_assignment(&assignment, now);
                        self.transition(GroupState::Stable);
                        tracing::info!(group = %self.id, generation = self.generation, "group is stable");
                    }
                    (Err(error), _) => {
                        tracing::warn!(group = %self.id, generation = self.generation, %error, "could not store the group's assignment; rebalancing");
                        self.reset_and_propagate_assignment_error(error, now);
                        self.maybe_prepare_rebalance_or_complete_join(now);
                    }
                    (Ok(()), None) => {}
                }
            }
            StorePurpose::StaticRejoin {
                generation,
                member_id,
                previous_leader,
                supports_skip_assignment,
            } => self.finish_static_rejoin(
                *generation,
                member_id,
                previous_leader.as_deref(),
                *supports_skip_assignment,
                stored,
            ),
        }
    }
}
