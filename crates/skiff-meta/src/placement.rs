//! Who leads what: partitions and group coordination are assigned to live brokers by
//! rendezvous hashing, so every broker computes the same answer from the same broker list and a broker
//! leaving moves only its own share. The state machine uses the same answer to fence group
//! writes from a broker that no longer coordinates the group.

use crate::{BrokerInfo, TopicId};

/// The broker that leads `partition` of `topic`, or `None` when no broker is live.
pub fn partition_leader(topic: &TopicId, partition: u32, brokers: &[BrokerInfo]) -> Option<i32> {
    let (hi, lo) = topic.as_u64_pair();
    let key = mix(hi ^ mix(lo ^ mix(u64::from(partition))));
    brokers
        .iter()
        .max_by_key(|b| (mix(key ^ b.id as u64), b.id))
        .map(|b| b.id)
}

/// The broker that coordinates `group_id`, or `None` when no broker is live.
pub fn group_coordinator<'a>(
    group_id: &str,
    brokers: impl IntoIterator<Item = &'a BrokerInfo>,
) -> Option<i32> {
    group_coordinator_among(group_id, brokers.into_iter().map(|b| b.id))
}

/// [`group_coordinator`] over broker ids.
pub fn group_coordinator_among(
    group_id: &str,
    broker_ids: impl IntoIterator<Item = i32>,
) -> Option<i32> {
    // FNV-1a over the id's bytes, then the same mix as partitions: stable across builds.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in group_id.as_bytes() {
        hash = (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    let key = mix(hash);
    broker_ids
        .into_iter()
        .max_by_key(|id| (mix(key ^ *id as u64), *id))
}

/// SplitMix64's finaliser: a fixed, well-distributed 64-bit mix that is the same on every
/// platform and Rust version (unlike `DefaultHasher`), which matters when brokers run
/// different builds during an upgrade.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn broker(id: i32) -> BrokerInfo {
        BrokerInfo {
            id,
            host: "h".into(),
            port: 1,
            rack: None,
        }
    }

    #[test]
    fn spreads_partitions_and_moves_only_the_lost_brokers_share() {
        let topic = TopicId::from_u128(0x1234);
        let three = [broker(1), broker(2), broker(3)];
        let two = [broker(1), broker(3)];
        let mut per_broker = [0usize; 4];
        for p in 0..3000 {
            let before = partition_leader(&topic, p, &three).unwrap();
            per_broker[before as usize] += 1;
            let after = partition_leader(&topic, p, &two).unwrap();
            if before != 2 {
                assert_eq!(
                    before, after,
                    "partition {p} moved although its leader stayed"
                );
            }
        }
        for &count in &per_broker[1..] {
            assert!(
                (800..1200).contains(&count),
                "uneven spread: {per_broker:?}"
            );
        }
    }

    #[test]
    fn no_brokers_no_leader() {
        assert_eq!(partition_leader(&TopicId::from_u128(1), 0, &[]), None);
        assert_eq!(group_coordinator("g", &[]), None);
    }

    #[test]
    fn spreads_groups_and_moves_only_the_lost_brokers_share() {
        let three = [broker(1), broker(2), broker(3)];
        let two = [broker(1), broker(3)];
        let mut per_broker = [0usize; 4];
        for g in 0..3000 {
            let group = format!("group-{g}");
            let before = group_coordinator(&group, &three).unwrap();
            per_broker[before as usize] += 1;
            let after = group_coordinator(&group, &two).unwrap();
            if before != 2 {
                assert_eq!(
                    before, after,
                    "{group} moved although its coordinator stayed"
                );
            }
            assert_eq!(
                group_coordinator(&group, &three),
                Some(before),
                "the same answer every time"
            );
        }
        for &count in &per_broker[1..] {
            assert!(
                (800..1200).contains(&count),
                "uneven spread: {per_broker:?}"
            );
        }
        assert_eq!(group_coordinator("only", &[broker(7)]), Some(7));
    }
}
