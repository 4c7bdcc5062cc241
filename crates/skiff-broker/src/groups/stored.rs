//! The bridge between a live group and what the controller persists for it: snapshots to
//! store, and rebuilding a group from its last stored generation after a restart.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use skiff_meta::{StoredGroup, StoredMember};

use super::config::GroupConfig;
use super::group::ClassicGroup;
use super::member::Member;
use super::state::GroupState;
use super::store_request::{StorePurpose, StoreRequest};

impl ClassicGroup {
    /// Queues a snapshot of the current generation for the controller. `assignment`
    /// overrides the members' assignments (the leader's, not yet applied in memory).
    pub(super) fn request_store(
        &mut self,
        purpose: StorePurpose,
        assignment: Option<&BTreeMap<String, Bytes>>,
    ) {
        let group = self.snapshot(assignment);
        self.stores_in_flight = self.stores_in_flight.saturating_add(1);
        self.outbox.push(StoreRequest {
            group,
            purpose,
            loaded_at: self.loaded_at,
        });
    }

    fn snapshot(&self, assignment: Option<&BTreeMap<String, Bytes>>) -> StoredGroup {
        let protocol = self.protocol.as_deref().unwrap_or_default();
        StoredGroup {
            group_id: self.id.clone(),
            protocol_type: self.protocol_type.clone().unwrap_or_default(),
            generation: self.generation,
            protocol: self.protocol.clone(),
            leader: self.leader.clone(),
            members: self
                .members
                .values()
                .map(|m| StoredMember {
                    member_id: m.id.clone(),
                    group_instance_id: m.instance_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    session_timeout_ms: i32::try_from(m.session_timeout_ms).unwrap_or(i32::MAX),
                    rebalance_timeout_ms: i32::try_from(m.rebalance_timeout_ms).unwrap_or(i32::MAX),
                    subscription: m.metadata(protocol).map(|b| b.to_vec()).unwrap_or_default(),
                    assignment: match assignment {
                        Some(a) => a.get(&m.id).map(|b| b.to_vec()).unwrap_or_default(),
                        None => m.assignment.to_vec(),
                    },
                })
                .collect(),
            // The coordinator stamps wall-clock time when it sends the write.
            stored_at_ms: 0,
        }
    }

    /// Rebuilds a group from its last stored generation: Stable with its members, or Empty.
    /// `silent_ms` is how long the members have certainly gone unheard (their previous
    /// coordinator stopped serving that long ago): their sessions count it, as if they had
    /// started then, but never leave a member less than half a session to find this broker.
    pub fn from_stored(
        stored: &StoredGroup,
        config: Arc<GroupConfig>,
        now: u64,
        silent_ms: u64,
    ) -> ClassicGroup {
        let mut group = ClassicGroup::new(&stored.group_id, config);
        group.generation = stored.generation;
        group.protocol_type =
            (!stored.protocol_type.is_empty()).then(|| stored.protocol_type.clone());
        group.protocol = stored.protocol.clone();
        let protocol = stored.protocol.clone().unwrap_or_default();
        for m in &stored.members {
            let session_timeout_ms = u64::try_from(m.session_timeout_ms).unwrap_or(0);
            let member = Member {
                id: m.member_id.clone(),
                instance_id: m.group_instance_id.clone(),
                client_id: m.client_id.clone(),
                client_host: m.client_host.clone(),
                session_timeout_ms,
                rebalance_timeout_ms: u64::try_from(m.rebalance_timeout_ms).unwrap_or(0),
                protocols: vec![(protocol.clone(), Bytes::from(m.subscription.clone()))],
                assignment: Bytes::from(m.assignment.clone()),
                awaiting_join: None,
                awaiting_sync: None,
                is_new: false,
                heard_here: false,
                expires_at: now.saturating_add(
                    session_timeout_ms
                        .saturating_sub(silent_ms)
                        .max(session_timeout_ms / 2),
                ),
            };
            let protocol_type = stored.protocol_type.clone();
            group.add_member(member, &protocol_type);
        }
        // add_member elects the first member; the stored leader wins when it is a member.
        if let Some(leader) = &stored.leader
            && group.members.contains_key(leader)
        {
            group.leader = Some(leader.clone());
        }
        if !group.members.is_empty() {
            group.state = GroupState::Stable;
            group.previous_state = GroupState::Stable;
        }
        group.subscribed_topics = group.compute_subscribed_topics();
        group
    }
}
