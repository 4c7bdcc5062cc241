//! Cluster-level operations of one controller node: who leads and where, this node's status,
//! and membership changes (add a node as a learner, let it catch up, then make it a voter).

use std::collections::{BTreeMap, BTreeSet};

use openraft::{BasicNode, ChangeMembers};

use crate::controller::Controller;
use crate::error::{ControllerError, InvalidConfig};
use crate::raft::types::RaftMetrics;
use crate::raft_errors::client_write_error;
use crate::rpc::wire::{BrokerStatus, MembershipReply, NodeStatus};

impl Controller {
    /// The leader this node knows of, with its address from the membership.
    pub fn leader_with_addr(&self) -> Option<(u64, String)> {
        let metrics = self.raft_metrics();
        let m = metrics.borrow();
        let leader = m.current_leader?;
        let addr = m
            .membership_config
            .membership()
            .get_node(&leader)
            .map(|n| n.addr.clone())?;
        Some((leader, addr))
    }

    /// What this node knows: role, term, leader, log and applied positions, membership.
    pub fn status(&self) -> NodeStatus {
        let (voters, learners) = self.members();
        let (cluster_id, brokers) = {
            let state = self.state();
            let state = state.read();
            let brokers = state
                .brokers()
                .map(|b| BrokerStatus {
                    id: b.id,
                    addr: format!("{}:{}", b.host, b.port),
                    live: state.broker_lease(b.id).is_some_and(|l| l.live),
                })
                .collect();
            (state.cluster_id().map(str::to_string), brokers)
        };
        let metrics = self.raft_metrics();
        let m = metrics.borrow();
        NodeStatus {
            node_id: self.node_id(),
            role: format!("{:?}", m.state),
            term: m.current_term,
            leader: m.current_leader,
            leader_addr: m.current_leader.and_then(|l| {
                m.membership_config
                    .membership()
                    .get_node(&l)
                    .map(|n| n.addr.clone())
            }),
            last_log_index: m.last_log_index,
            applied_index: m.last_applied.map_or(0, |l| l.index),
            snapshot_index: m.snapshot.map(|l| l.index),
            voters,
            learners,
            cluster_id,
            brokers,
        }
    }

    fn members(&self) -> (BTreeMap<u64, String>, BTreeMap<u64, String>) {
        let metrics = self.raft_metrics();
        let m = metrics.borrow();
        split_members(&m)
    }

    /// Adds `id` at `addr`: first as a learner that receives the log (or a snapshot) until it
    /// has caught up, then as a voter. Only the leader can do this.
    pub async fn add_node(
        &self,
        id: u64,
        addr: String,
    ) -> Result<MembershipReply, ControllerError> {
        if addr.is_empty() {
            return Err(InvalidConfig::NodeWithoutAddress.into());
        }
        self.raft()
            .add_learner(id, BasicNode::new(&addr), true)
            .await
            .map_err(client_write_error)?;
        tracing::info!(node = id, %addr, "controller node caught up as a learner; making it a voter");
        let response = self
            .raft()
            .change_membership(ChangeMembers::AddVoterIds(BTreeSet::from([id])), false)
            .await
            .map_err(client_write_error)?;
        Ok(self.membership_reply(response.log_id.index))
    }

    /// Removes `id` from the voters (and the membership). Only the leader can do this.
    pub async fn remove_node(&self, id: u64) -> Result<MembershipReply, ControllerError> {
        let (voters, learners) = self.members();
        let response = if voters.contains_key(&id) {
            self.raft()
                .change_membership(ChangeMembers::RemoveVoters(BTreeSet::from([id])), false)
                .await
        } else if learners.contains_key(&id) {
            self.raft()
                .change_membership(ChangeMembers::RemoveNodes(BTreeSet::from([id])), false)
                .await
        } else {
            return Err(InvalidConfig::NotAMember { node: id }.into());
        }
        .map_err(client_write_error)?;
        tracing::info!(node = id, "removed controller node");
        Ok(self.membership_reply(response.log_id.index))
    }

    fn membership_reply(&self, index: u64) -> MembershipReply {
        let (voters, learners) = self.members();
        MembershipReply {
            index,
            voters,
            learners,
        }
    }
}

fn split_members(m: &RaftMetrics) -> (BTreeMap<u64, String>, BTreeMap<u64, String>) {
    let membership = m.membership_config.membership();
    let voter_ids: BTreeSet<u64> = membership.voter_ids().collect();
    let mut voters = BTreeMap::new();
    let mut learners = BTreeMap::new();
    for (id, node) in membership.nodes() {
        let target = if voter_ids.contains(id) {
            &mut voters
        } else {
            &mut learners
        };
        target.insert(*id, node.addr.clone());
    }
    (voters, learners)
}
