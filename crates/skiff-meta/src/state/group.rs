//! Consumer groups: committed offsets and the metadata of each group's last completed
//! generation. Brokers keep live membership in memory; this is what survives them.
//!
//! Every operation touches only the groups and partitions named in its command (topic deletion
//! finds the groups holding offsets for the topic through `groups_by_topic`), so the cost never
//! grows with the total number of groups.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::ControllerState;
use crate::command::{
    FencedGroup, FencedOffsets, GroupError, GroupOffsetDeletion, GroupOffsets, StoredGroup,
};
use crate::ids::TopicId;
use crate::placement::group_coordinator;

/// One committed offset, as OffsetFetch returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommittedOffset {
    pub offset: i64,
    pub leader_epoch: i32,
    pub metadata: String,
    pub commit_time_ms: i64,
}

/// Everything persisted for one group. A record exists while it holds metadata or offsets.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupRecord {
    pub metadata: Option<StoredGroup>,
    offsets: BTreeMap<(TopicId, u32), CommittedOffset>,
}

impl GroupRecord {
    pub fn offset(&self, topic: TopicId, partition: u32) -> Option<&CommittedOffset> {
        self.offsets.get(&(topic, partition))
    }

    /// Every committed offset, ordered by topic id then partition.
    pub fn offsets(&self) -> impl Iterator<Item = (TopicId, u32, &CommittedOffset)> {
        self.offsets.iter().map(|((t, p), o)| (*t, *p, o))
    }

    pub fn offset_count(&self) -> usize {
        self.offsets.len()
    }

    fn is_empty(&self) -> bool {
        self.metadata.is_none() && self.offsets.is_empty()
    }

    fn topics(&self) -> BTreeSet<TopicId> {
        self.offsets.keys().map(|(t, _)| *t).collect()
    }

    fn has_topic(&self, topic: TopicId) -> bool {
        self.offsets
            .range((topic, 0)..=(topic, u32::MAX))
            .next()
            .is_some()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupRegistry {
    groups: BTreeMap<String, GroupRecord>,
    /// Groups holding at least one offset of the topic.
    groups_by_topic: BTreeMap<TopicId, BTreeSet<String>>,
}

impl GroupRegistry {
    pub fn get(&self, group_id: &str) -> Option<&GroupRecord> {
        self.groups.get(group_id)
    }

    /// All groups, ordered by id.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &GroupRecord)> {
        self.groups.iter().map(|(id, g)| (id.as_str(), g))
    }

    pub fn len(&self) -> usize {
        self.groups.len()
    }

    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    fn store(&mut self, group: &StoredGroup) {
        self.groups
            .entry(group.group_id.clone())
            .or_default()
            .metadata = Some(group.clone());
    }

    fn delete_group(&mut self, group_id: &str) -> Result<(), GroupError> {
        let record = self
            .groups
            .remove(group_id)
            .ok_or(GroupError::UnknownGroup)?;
        for topic in record.topics() {
            self.unindex(topic, group_id);
        }
        Ok(())
    }

    fn delete_offsets(&mut self, deletion: &GroupOffsetDeletion) -> Vec<Result<(), GroupError>> {
        let Some(record) = self.groups.get_mut(&deletion.group_id) else {
            return deletion
                .partitions
                .iter()
                .map(|_| Err(GroupError::UnknownGroup))
                .collect();
        };
        let mut touched = BTreeSet::new();
        for key in &deletion.partitions {
            if record.offsets.remove(key).is_some() {
                touched.insert(key.0);
            }
        }
        let gone: Vec<TopicId> = touched
            .into_iter()
            .filter(|t| !record.has_topic(*t))
            .collect();
        let empty = record.is_empty();
        for topic in gone {
            self.unindex(topic, &deletion.group_id);
        }
        if empty {
            self.groups.remove(&deletion.group_id);
        }
        deletion.partitions.iter().map(|_| Ok(())).collect()
    }

    /// Drops every offset of a deleted topic, visiting only the groups that hold some.
    pub(super) fn forget_topic(&mut self, topic: TopicId) {
        let Some(group_ids) = self.groups_by_topic.remove(&topic) else {
            return;
        };
        for group_id in group_ids {
            let Some(record) = self.groups.get_mut(&group_id) else {
                continue;
            };
            let keys: Vec<(TopicId, u32)> = record
                .offsets
                .range((topic, 0)..=(topic, u32::MAX))
                .map(|(k, _)| *k)
                .collect();
            for key in keys {
                record.offsets.remove(&key);
            }
            if record.is_empty() {
                self.groups.remove(&group_id);
            }
        }
    }

    /// Drops the group's offsets that `offsets.retention` no longer keeps at `now_ms` and
    /// returns how many went. A group with members keeps them; an empty group (stored with no
    /// members) loses them all once it has been empty for `retention_ms`; a group that only
    /// ever committed offsets loses each one `retention_ms` after its commit.
    fn expire_offsets(&mut self, group_id: &str, now_ms: i64, retention_ms: i64) -> u32 {
        let Some(record) = self.groups.get_mut(group_id) else {
            return 0;
        };
        let cutoff = now_ms.saturating_sub(retention_ms);
        let expired: Vec<(TopicId, u32)> = match &record.metadata {
            Some(group) if !group.members.is_empty() => Vec::new(),
            Some(group) if group.stored_at_ms > cutoff => Vec::new(),
            Some(_) => record.offsets.keys().copied().collect(),
            None => record
                .offsets
                .iter()
                .filter(|(_, o)| o.commit_time_ms <= cutoff)
                .map(|(k, _)| *k)
                .collect(),
        };
        let mut touched = BTreeSet::new();
        for key in &expired {
            record.offsets.remove(key);
            touched.insert(key.0);
        }
        // An empty group that lost its offsets is dead, as in Kafka: forget it whole.
        let dead = record.offsets.is_empty()
            && record
                .metadata
                .as_ref()
                .is_none_or(|g| g.members.is_empty() && g.stored_at_ms <= cutoff);
        let gone: Vec<TopicId> = touched
            .into_iter()
            .filter(|t| !record.has_topic(*t))
            .collect();
        for topic in gone {
            self.unindex(topic, group_id);
        }
        if dead {
            self.groups.remove(group_id);
        }
        u32::try_from(expired.len()).unwrap_or(u32::MAX)
    }

    fn unindex(&mut self, topic: TopicId, group_id: &str) {
        if let Some(groups) = self.groups_by_topic.get_mut(&topic) {
            groups.remove(group_id);
            if groups.is_empty() {
                self.groups_by_topic.remove(&topic);
            }
        }
    }
}

impl ControllerState {
    pub(super) fn commit_offsets(
        &mut self,
        commits: &[GroupOffsets],
    ) -> Vec<Vec<Result<(), GroupError>>> {
        commits
            .iter()
            .map(|c| self.commit_group_offsets(c))
            .collect()
    }

    /// Commits from `broker_id`, each applied only while it coordinates the group.
    pub(super) fn commit_offsets_as(
        &mut self,
        broker_id: i32,
        commits: &[GroupOffsets],
    ) -> Vec<Vec<Result<(), GroupError>>> {
        commits
            .iter()
            .map(|commit| {
                if self.coordinates(broker_id, &commit.group_id) {
                    self.commit_group_offsets(commit)
                } else {
                    vec![Err(GroupError::NotCoordinator); commit.partitions.len()]
                }
            })
            .collect()
    }

    pub(super) fn commit_group_offsets(
        &mut self,
        commit: &GroupOffsets,
    ) -> Vec<Result<(), GroupError>> {
        self.clock_ms = self.clock_ms.max(commit.commit_time_ms);
        let mut outcomes = Vec::with_capacity(commit.partitions.len());
        for p in &commit.partitions {
            let exists = self.topics.get(&p.topic_id).is_some_and(|t| {
                usize::try_from(p.partition).is_ok_and(|i| i < t.partitions.len())
            });
            if !exists {
                outcomes.push(Err(GroupError::UnknownTopicOrPartition));
                continue;
            }
            let registry = &mut self.groups;
            let record = registry.groups.entry(commit.group_id.clone()).or_default();
            record.offsets.insert(
                (p.topic_id, p.partition),
                CommittedOffset {
                    offset: p.offset,
                    leader_epoch: p.leader_epoch,
                    metadata: p.metadata.clone(),
                    commit_time_ms: commit.commit_time_ms,
                },
            );
            let indexed = registry.groups_by_topic.entry(p.topic_id).or_default();
            if !indexed.contains(&commit.group_id) {
                indexed.insert(commit.group_id.clone());
            }
            outcomes.push(Ok(()));
        }
        outcomes
    }

    pub(super) fn store_groups(&mut self, groups: &[StoredGroup]) {
        for group in groups {
            self.store_group(group);
        }
    }

    /// Group snapshots from `broker_id`, each stored only while it coordinates the group.
    pub(super) fn store_groups_as(
        &mut self,
        broker_id: i32,
        groups: &[StoredGroup],
    ) -> Vec<Result<(), GroupError>> {
        groups
            .iter()
            .map(|group| {
                if !self.coordinates(broker_id, &group.group_id) {
                    return Err(GroupError::NotCoordinator);
                }
                self.store_group(group);
                Ok(())
            })
            .collect()
    }

    fn store_group(&mut self, group: &StoredGroup) {
        self.clock_ms = self.clock_ms.max(group.stored_at_ms);
        self.groups.store(group);
    }

    /// Commits from `broker_id`, each applied only if it coordinated the group without a break
    /// since it loaded it.
    pub(super) fn commit_offsets_fenced(
        &mut self,
        broker_id: i32,
        commits: &[FencedOffsets],
    ) -> Vec<Vec<Result<(), GroupError>>> {
        commits
            .iter()
            .map(|fenced| {
                let commit = &fenced.offsets;
                if self.coordinated_since(broker_id, &commit.group_id, fenced.loaded_at) {
                    self.commit_group_offsets(commit)
                } else {
                    vec![Err(GroupError::NotCoordinator); commit.partitions.len()]
                }
            })
            .collect()
    }

    /// Group snapshots from `broker_id`, under the same fence as its commits.
    pub(super) fn store_groups_fenced(
        &mut self,
        broker_id: i32,
        groups: &[FencedGroup],
    ) -> Vec<Result<(), GroupError>> {
        groups
            .iter()
            .map(|fenced| {
                if !self.coordinated_since(broker_id, &fenced.group.group_id, fenced.loaded_at) {
                    return Err(GroupError::NotCoordinator);
                }
                self.store_group(&fenced.group);
                Ok(())
            })
            .collect()
    }

    /// Whether `broker_id` coordinates `group_id` now and has, under every live broker set,
    /// since placement epoch `since` (when it loaded the group).
    pub fn coordinated_since(&self, broker_id: i32, group_id: &str, since: u64) -> bool {
        self.coordinates(broker_id, group_id)
            && self
                .live_history
                .coordinated_throughout(group_id, broker_id, since)
    }

    /// Whether `broker_id` is the live broker that coordinates `group_id` right now.
    fn coordinates(&self, broker_id: i32, group_id: &str) -> bool {
        group_coordinator(group_id, self.live_brokers()) == Some(broker_id)
    }

    pub(super) fn delete_groups(&mut self, group_ids: &[String]) -> Vec<Result<(), GroupError>> {
        group_ids
            .iter()
            .map(|id| self.groups.delete_group(id))
            .collect()
    }

    pub(super) fn expire_group_offsets(
        &mut self,
        now_ms: i64,
        retention_ms: i64,
        group_ids: &[String],
    ) -> Vec<u32> {
        self.clock_ms = self.clock_ms.max(now_ms);
        group_ids
            .iter()
            .map(|id| self.groups.expire_offsets(id, now_ms, retention_ms))
            .collect()
    }

    pub(super) fn delete_offsets(
        &mut self,
        deletions: &[GroupOffsetDeletion],
    ) -> Vec<Vec<Result<(), GroupError>>> {
        deletions
            .iter()
            .map(|d| self.groups.delete_offsets(d))
            .collect()
    }
}
