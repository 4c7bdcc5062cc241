//! `skiff consume T --group G`: a consumer-group member as a record source. It joins the
//! group, reads the partitions the group assigns from their committed offsets (or from the
//! reset position where none is committed), commits the offsets of printed records now and
//! then and on exit, follows rebalances, and leaves the group when closed.

use std::collections::BTreeSet;
use std::time::Duration;

use skiff_client::{
    ClientError, ConsumedRecord, FetchConfig, Fetcher, GroupMembership, KafkaClient,
    MembershipConfig, OffsetSpec, OffsetToCommit, default_heartbeat_interval,
};
use tokio::time::Instant;
use tracing::{debug, warn};

use super::source::RecordSource;

/// Where a partition without a committed offset starts (Kafka's `auto.offset.reset`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetReset {
    Earliest,
    Latest,
}

pub struct GroupSourceConfig {
    pub group_id: String,
    pub topic: String,
    pub reset: OffsetReset,
    pub session_timeout: Duration,
    pub commit_interval: Duration,
    pub fetch: FetchConfig,
}

/// One assigned partition: where reading resumes, what the group has committed for it, and
/// its end when it was assigned (for stopping without --follow).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct OwnedPartition {
    partition: i32,
    /// The offset after the last record written out (or the start position).
    next: i64,
    /// -1 when the group has nothing committed.
    committed: i64,
    end_at_assignment: i64,
}

pub struct GroupSource {
    client: KafkaClient,
    membership: GroupMembership,
    config: GroupSourceConfig,
    /// None until the first join completes, and again while rejoining.
    fetcher: Option<Fetcher>,
    owned: Vec<OwnedPartition>,
    last_commit: Instant,
    /// Partitions already reported as starting at the end for want of a commit.
    reported_at_end: BTreeSet<i32>,
}

impl GroupSource {
    pub fn new(client: KafkaClient, config: GroupSourceConfig) -> Result<Self, ClientError> {
        let mut membership_config = MembershipConfig::new(&config.group_id, &[&config.topic]);
        membership_config.session_timeout = config.session_timeout;
        membership_config.heartbeat_interval = default_heartbeat_interval(config.session_timeout);
        Ok(GroupSource {
            membership: GroupMembership::new(client.clone(), membership_config)?,
            client,
            config,
            fetcher: None,
            owned: Vec::new(),
            last_commit: Instant::now(),
            reported_at_end: BTreeSet::new(),
        })
    }

    /// Commits what was read since the last commit, leaving the group's state as is
    /// elsewhere. Partitions whose position never moved past their commit are left out.
    async fn commit_positions(&mut self) -> Result<(), ClientError> {
        let offsets: Vec<OffsetToCommit> = self
            .owned
            .iter()
            .filter(|p| p.next != p.committed)
            .map(|p| OffsetToCommit {
                topic: self.config.topic.clone(),
                partition: p.partition,
                offset: p.next,
                metadata: None,
            })
            .collect();
        self.last_commit = Instant::now();
        if offsets.is_empty() {
            return Ok(());
        }
        self.membership.commit(&offsets).await?;
        for p in &mut self.owned {
            p.committed = p.next;
        }
        Ok(())
    }

    /// Gives up the current assignment (committing it while the generation still allows)
    /// and joins again, then positions a new fetcher on the new assignment.
    async fn rebalance(&mut self) -> Result<(), ClientError> {
        if self.fetcher.take().is_some()
            && let Err(error) = self.commit_positions().await
        {
            // Records read since the last commit will be read again by whoever gets them.
            warn!(group = %self.config.group_id, %error, "could not commit before rejoining");
        }
        self.owned.clear();
        let joined = self.membership.join().await?;
        let mut partitions = Vec::new();
        for assigned in &joined.assignment {
            if assigned.topic == self.config.topic {
                partitions.extend_from_slice(&assigned.partitions);
            } else {
                warn!(topic = %assigned.topic, "the group assigned a topic this consumer did not ask for; ignoring it");
            }
        }
        partitions.sort_unstable();
        partitions.dedup();
        debug!(
            group = %self.config.group_id,
            generation = joined.generation.generation_id,
            ?partitions,
            "joined"
        );
        self.owned = self.starting_positions(&partitions).await?;
        self.report_starts_at_end();
        let mut fetcher = Fetcher::new(self.client.clone(), self.config.fetch.clone());
        for p in &self.owned {
            fetcher.assign(&self.config.topic, p.partition, p.next);
        }
        self.fetcher = Some(fetcher);
        Ok(())
    }

    async fn starting_positions(
        &self,
        partitions: &[i32],
    ) -> Result<Vec<OwnedPartition>, ClientError> {
        if partitions.is_empty() {
            return Ok(Vec::new());
        }
        let topic = &self.config.topic;
        let committed = self
            .client
            .fetch_committed_offsets(
                &self.config.group_id,
                Some(&[(topic.clone(), partitions.to_vec())]),
            )
            .await?;
        let earliest = self
            .client
            .list_offsets(topic, partitions, OffsetSpec::Earliest)
            .await?;
        let latest = self
            .client
            .list_offsets(topic, partitions, OffsetSpec::Latest)
            .await?;
        let mut owned = Vec::with_capacity(partitions.len());
        for (first, end) in earliest.iter().zip(&latest) {
            let committed = committed
                .iter()
                .find(|c| c.partition == first.partition && c.topic == *topic)
                .map_or(-1, |c| c.offset);
            owned.push(OwnedPartition {
                partition: first.partition,
                next: start_offset(committed, first.offset, end.offset, self.config.reset),
                committed,
                end_at_assignment: end.offset,
            });
        }
        Ok(owned)
    }
}

impl GroupSource {
    /// Starting at the end is Kafka's default for a group without commits, and also what makes
    /// a first `consume --group` print nothing: say so once per partition, and how to read
    /// from the beginning instead.
    fn report_starts_at_end(&mut self) {
        if self.config.reset != OffsetReset::Latest {
            return;
        }
        let at_end: Vec<(i32, i64)> = self
            .owned
            .iter()
            .filter(|p| p.committed < 0 && self.reported_at_end.insert(p.partition))
            .map(|p| (p.partition, p.next))
            .collect();
        if !at_end.is_empty() {
            crate::output::note(&starts_at_end_note(
                &self.config.group_id,
                &self.config.topic,
                &at_end,
            ));
        }
    }
}

/// The note for partitions (with their end offsets) a group has no commit for.
fn starts_at_end_note(group: &str, topic: &str, at_end: &[(i32, i64)]) -> String {
    let (label, partitions, offsets) = if let [(partition, offset)] = at_end {
        (
            "partition",
            partition.to_string(),
            format!("offset {offset}"),
        )
    } else {
        let list =
            |f: fn(&(i32, i64)) -> String| at_end.iter().map(f).collect::<Vec<_>>().join(", ");
        (
            "partitions",
            list(|p| p.0.to_string()),
            format!("offsets {}", list(|p| p.1.to_string())),
        )
    };
    format!(
        "note: group {group} has no committed offset for {topic} {label} {partitions}: starting \
         at the end ({offsets}), so only new records are read (Kafka's auto.offset.reset=latest)\n\
         note: --from-beginning starts a group's first run at the beginning; this group commits \
         where it stops, so rewind it later with: \
         skiff group reset-offsets {group} --topic {topic} --to-earliest"
    )
}

/// A committed offset the partition still holds is where reading resumes; otherwise (none
/// committed, or out of range after retention or a reset beyond the end) the reset policy.
fn start_offset(committed: i64, earliest: i64, latest: i64, reset: OffsetReset) -> i64 {
    if committed >= earliest && committed <= latest && committed >= 0 {
        return committed;
    }
    match reset {
        OffsetReset::Earliest => earliest,
        OffsetReset::Latest => latest,
    }
}

impl RecordSource for GroupSource {
    async fn next_batch(&mut self) -> Result<Vec<ConsumedRecord>, ClientError> {
        loop {
            if self.fetcher.is_none() || self.membership.rejoin_reason().is_some() {
                self.rebalance().await?;
                continue;
            }
            let Some(fetcher) = self.fetcher.as_mut() else {
                continue;
            };
            if fetcher.positions().is_empty() {
                // Nothing assigned (more members than partitions): wait for the next rebalance.
                self.membership.rejoin_needed().await;
                continue;
            }
            // A rebalance drops whatever this fetch would bring: it was not written out, so
            // it is not committed, and the partition's next owner reads it.
            tokio::select! {
                records = fetcher.poll() => return records,
                reason = self.membership.rejoin_needed() => {
                    debug!(group = %self.config.group_id, %reason, "rejoining");
                }
            }
        }
    }

    fn caught_up(&self) -> bool {
        self.fetcher.is_some()
            && self.membership.rejoin_reason().is_none()
            && self.owned.iter().all(|p| p.next >= p.end_at_assignment)
    }

    async fn processed(&mut self, written: &[ConsumedRecord]) -> Result<(), ClientError> {
        for record in written {
            if let Some(p) = self
                .owned
                .iter_mut()
                .find(|p| p.partition == record.partition)
            {
                p.next = p.next.max(record.offset + 1);
            }
        }
        if self.last_commit.elapsed() >= self.config.commit_interval
            && self.fetcher.is_some()
            && let Err(error) = self.commit_positions().await
        {
            // Not fatal: the next commit (or the one on exit) carries the same offsets.
            debug!(group = %self.config.group_id, %error, "periodic commit failed");
        }
        Ok(())
    }

    async fn close(&mut self) -> Result<(), ClientError> {
        let committed = if self.fetcher.is_some() && self.membership.generation().is_some() {
            self.commit_positions().await
        } else {
            Ok(())
        };
        let left = self.membership.leave().await;
        committed?;
        left
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_offsets_win_while_the_partition_holds_them() {
        assert_eq!(start_offset(5, 0, 10, OffsetReset::Latest), 5);
        assert_eq!(start_offset(10, 0, 10, OffsetReset::Earliest), 10);
        assert_eq!(start_offset(0, 0, 10, OffsetReset::Latest), 0);
    }

    #[test]
    fn the_note_names_each_partition_and_where_it_starts() {
        let one = starts_at_end_note("billing", "orders", &[(2, 7)]);
        assert!(
            one.starts_with(
                "note: group billing has no committed offset for orders partition 2: starting at \
                 the end (offset 7), so only new records are read"
            ),
            "{one}"
        );
        let many = starts_at_end_note("billing", "orders", &[(0, 1), (1, 0), (2, 2)]);
        assert!(
            many.contains("orders partitions 0, 1, 2: starting at the end (offsets 1, 0, 2)"),
            "{many}"
        );
        assert!(many.contains("--from-beginning"), "{many}");
        assert!(
            many.ends_with(
                "rewind it later with: skiff group reset-offsets billing --topic orders --to-earliest"
            ),
            "{many}"
        );
    }

    #[test]
    fn missing_or_out_of_range_commits_follow_the_reset_policy() {
        assert_eq!(start_offset(-1, 3, 10, OffsetReset::Earliest), 3);
        assert_eq!(start_offset(-1, 3, 10, OffsetReset::Latest), 10);
        assert_eq!(
            start_offset(1, 3, 10, OffsetReset::Earliest),
            3,
            "below the log start"
        );
        assert_eq!(
            start_offset(12, 3, 10, OffsetReset::Latest),
            10,
            "beyond the end"
        );
    }
}
