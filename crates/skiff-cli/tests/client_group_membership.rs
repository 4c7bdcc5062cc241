//! skiff-client's `GroupMembership` against `skiff dev`: the first join (with its
//! MEMBER_ID_REQUIRED round trip), a rebalance seen through heartbeats, the range split of two
//! members, commits in the member's generation, and leaving.
#![allow(clippy::unwrap_used)]

use crate::support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use skiff_client::{
    ClientConfig, ClientError, GroupMembership, JoinedGroup, KafkaClient, MembershipConfig,
    OffsetToCommit, RejoinReason,
};
use support::Dev;

const WAIT: Duration = Duration::from_secs(30);

fn partitions(joined: &JoinedGroup) -> BTreeSet<i32> {
    joined
        .assignment
        .iter()
        .inspect(|tp| assert_eq!(tp.topic, "work"))
        .flat_map(|tp| tp.partitions.iter().copied())
        .collect()
}

fn offset(partition: i32, offset: i64) -> OffsetToCommit {
    OffsetToCommit {
        topic: "work".into(),
        partition,
        offset,
        metadata: None,
    }
}

async fn member(client: &KafkaClient) -> GroupMembership {
    let mut config = MembershipConfig::new("library", &["work"]);
    // Quick heartbeats, so rebalances are noticed quickly.
    config.heartbeat_interval = Duration::from_millis(200);
    GroupMembership::new(client.clone(), config).unwrap()
}

#[test]
fn members_split_partitions_follow_rebalances_and_commit_in_their_generation() {
    let dev = Dev::start();
    dev.run(&["topic", "create", "work", "--partitions", "4"])
        .ok();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let client = KafkaClient::connect(ClientConfig::new(&dev.bootstrap))
            .await
            .unwrap();
        let mut first = member(&client).await;
        assert!(matches!(
            first.commit(&[offset(0, 1)]).await,
            Err(ClientError::NotInGroup { .. })
        ));

        let alone = first.join().await.unwrap();
        assert!(alone.generation.leader);
        assert!(!alone.generation.member_id.is_empty());
        assert_eq!(alone.generation.protocol, "range");
        assert_eq!(partitions(&alone), BTreeSet::from([0, 1, 2, 3]));
        first.commit(&[offset(0, 1)]).await.unwrap();

        let second_client = client.clone();
        let second = tokio::spawn(async move {
            let mut second = member(&second_client).await;
            let joined = second.join().await;
            (second, joined)
        });
        let reason = tokio::time::timeout(WAIT, first.rejoin_needed())
            .await
            .expect("the first member never heard of the rebalance");
        assert_eq!(reason, RejoinReason::Rebalance);
        // Until it rejoins, the old generation may still commit (Kafka's rule, which lets a
        // member commit what it read before giving partitions up).
        first.commit(&[offset(1, 2)]).await.unwrap();

        let rejoined = tokio::time::timeout(WAIT, first.join())
            .await
            .unwrap()
            .unwrap();
        let (mut second, second_joined) =
            tokio::time::timeout(WAIT, second).await.unwrap().unwrap();
        let second_joined = second_joined.unwrap();
        assert_eq!(
            rejoined.generation.generation_id,
            second_joined.generation.generation_id
        );
        assert!(rejoined.generation.generation_id > alone.generation.generation_id);
        assert_eq!(
            rejoined.generation.member_id, alone.generation.member_id,
            "a rebalance keeps the member id"
        );
        assert_ne!(rejoined.generation.leader, second_joined.generation.leader);
        let (mine, theirs) = (partitions(&rejoined), partitions(&second_joined));
        assert_eq!(mine.len(), 2);
        assert_eq!(theirs.len(), 2);
        assert!(mine.is_disjoint(&theirs));
        second
            .commit(&[offset(*theirs.first().unwrap(), 7)])
            .await
            .unwrap();

        second.leave().await.unwrap();
        let reason = tokio::time::timeout(WAIT, first.rejoin_needed())
            .await
            .expect("the first member never heard that the second left");
        assert_eq!(reason, RejoinReason::Rebalance);
        let alone_again = first.join().await.unwrap();
        assert_eq!(partitions(&alone_again), BTreeSet::from([0, 1, 2, 3]));
        first.leave().await.unwrap();

        let committed = client
            .fetch_committed_offsets("library", None)
            .await
            .unwrap();
        let committed: BTreeMap<i32, i64> = committed
            .iter()
            .filter(|c| c.offset >= 0)
            .map(|c| (c.partition, c.offset))
            .collect();
        let mut expected = BTreeMap::from([(0, 1), (1, 2)]);
        expected.insert(*theirs.first().unwrap(), 7);
        assert_eq!(committed, expected);
        let described = client.describe_group("library").await.unwrap();
        assert_eq!(described.state, "Empty");
        assert!(described.members.is_empty());
    });
}
