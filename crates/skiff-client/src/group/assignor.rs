//! The range assignor, as Kafka's `RangeAssignor` and librdkafka's `range` compute it, so a
//! group that mixes Skiff and stock consumers gets the same answer whoever leads it.

use std::collections::BTreeMap;

use crate::admin::consumer_protocol::TopicPartitions;

/// One member as the assignor sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssignorMember {
    pub member_id: String,
    pub instance_id: Option<String>,
    pub topics: Vec<String>,
}

/// Kafka orders members by instance id when they have one (static members first), then by
/// member id; the order decides who gets the extra partitions.
fn kafka_order(a: &AssignorMember, b: &AssignorMember) -> std::cmp::Ordering {
    match (&a.instance_id, &b.instance_id) {
        (Some(x), Some(y)) => x.cmp(y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.member_id.cmp(&b.member_id),
    }
}

/// Per topic, the members subscribed to it split its partitions into contiguous ranges; the
/// first `partitions % members` members get one extra. Every member appears in the result,
/// with an empty list when it gets nothing. Topics missing from `partition_counts` (unknown
/// to the cluster) are skipped.
pub fn range_assign(
    members: &[AssignorMember],
    partition_counts: &BTreeMap<String, i32>,
) -> BTreeMap<String, Vec<TopicPartitions>> {
    let mut result: BTreeMap<String, Vec<TopicPartitions>> = members
        .iter()
        .map(|m| (m.member_id.clone(), Vec::new()))
        .collect();
    for (topic, &count) in partition_counts {
        let mut subscribed: Vec<&AssignorMember> = members
            .iter()
            .filter(|m| m.topics.iter().any(|t| t == topic))
            .collect();
        if subscribed.is_empty() || count <= 0 {
            continue;
        }
        subscribed.sort_by(|a, b| kafka_order(a, b));
        let consumers = i32::try_from(subscribed.len()).unwrap_or(i32::MAX);
        let per_consumer = count / consumers;
        let with_extra = count % consumers;
        for (index, member) in (0..).zip(&subscribed) {
            let start = per_consumer * index + index.min(with_extra);
            let length = per_consumer + i32::from(index < with_extra);
            if length == 0 {
                continue;
            }
            if let Some(assigned) = result.get_mut(&member.member_id) {
                assigned.push(TopicPartitions {
                    topic: topic.clone(),
                    partitions: (start..start + length).collect(),
                });
            }
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use proptest::prelude::*;

    use super::*;

    fn member(id: &str, topics: &[&str]) -> AssignorMember {
        AssignorMember {
            member_id: id.to_owned(),
            instance_id: None,
            topics: topics.iter().map(|t| (*t).to_owned()).collect(),
        }
    }

    fn counts(pairs: &[(&str, i32)]) -> BTreeMap<String, i32> {
        pairs.iter().map(|(t, n)| ((*t).to_owned(), *n)).collect()
    }

    #[test]
    fn kafkas_example_splits_in_ranges_with_extras_first() {
        // Kafka's RangeAssignor javadoc: C0 and C1 on t0 and t1 with 3 partitions each.
        let members = [member("c1", &["t0", "t1"]), member("c0", &["t0", "t1"])];
        let assigned = range_assign(&members, &counts(&[("t0", 3), ("t1", 3)]));
        let partitions = |m: &str, t: &str| {
            assigned[m]
                .iter()
                .find(|tp| tp.topic == t)
                .map(|tp| tp.partitions.clone())
                .unwrap_or_default()
        };
        assert_eq!(partitions("c0", "t0"), [0, 1]);
        assert_eq!(partitions("c0", "t1"), [0, 1]);
        assert_eq!(partitions("c1", "t0"), [2]);
        assert_eq!(partitions("c1", "t1"), [2]);
    }

    #[test]
    fn members_beyond_the_partition_count_get_nothing_but_are_listed() {
        let members = [
            member("a", &["t"]),
            member("b", &["t"]),
            member("c", &["t"]),
        ];
        let assigned = range_assign(&members, &counts(&[("t", 2)]));
        assert_eq!(assigned.len(), 3);
        assert_eq!(assigned["a"][0].partitions, [0]);
        assert_eq!(assigned["b"][0].partitions, [1]);
        assert!(assigned["c"].is_empty());
    }

    #[test]
    fn static_members_sort_by_instance_id_before_dynamic_ones() {
        let mut a = member("a", &["t"]);
        let mut z = member("z", &["t"]);
        z.instance_id = Some("i-1".into());
        a.instance_id = None;
        let assigned = range_assign(&[a, z], &counts(&[("t", 3)]));
        assert_eq!(assigned["z"][0].partitions, [0, 1]);
        assert_eq!(assigned["a"][0].partitions, [2]);
    }

    #[test]
    fn unknown_and_unsubscribed_topics_are_skipped() {
        let members = [member("a", &["t", "missing"]), member("b", &["u"])];
        let assigned = range_assign(&members, &counts(&[("t", 2), ("u", 1), ("other", 4)]));
        assert_eq!(
            assigned["a"],
            [TopicPartitions {
                topic: "t".into(),
                partitions: vec![0, 1]
            }]
        );
        assert_eq!(
            assigned["b"],
            [TopicPartitions {
                topic: "u".into(),
                partitions: vec![0]
            }]
        );
    }

    proptest! {
        #[test]
        fn every_partition_goes_to_exactly_one_subscriber_and_shares_differ_by_at_most_one(
            member_count in 1usize..12,
            partitions in 0i32..64,
            unsubscribed in proptest::collection::vec(any::<bool>(), 12),
        ) {
            let members: Vec<AssignorMember> = (0..member_count)
                .map(|i| {
                    let topics: &[&str] = if unsubscribed[i] && i > 0 { &[] } else { &["t"] };
                    member(&format!("m-{i:02}"), topics)
                })
                .collect();
            let assigned = range_assign(&members, &counts(&[("t", partitions)]));
            prop_assert_eq!(assigned.len(), member_count);
            let mut seen = BTreeSet::new();
            let mut shares = Vec::new();
            for m in &members {
                let mine: Vec<i32> = assigned[&m.member_id]
                    .iter()
                    .flat_map(|tp| tp.partitions.clone())
                    .collect();
                if m.topics.is_empty() {
                    prop_assert!(mine.is_empty());
                    continue;
                }
                shares.push(mine.len());
                for p in mine {
                    prop_assert!(seen.insert(p), "partition {} assigned twice", p);
                }
            }
            prop_assert_eq!(seen, (0..partitions).collect::<BTreeSet<_>>());
            let (min, max) = (shares.iter().min(), shares.iter().max());
            prop_assert!(max.zip(min).is_none_or(|(max, min)| max - min <= 1));
        }

        #[test]
        fn the_answer_does_not_depend_on_member_order(
            member_count in 1usize..8,
            partitions in 0i32..20,
            rotation in 0usize..8,
        ) {
            let members: Vec<AssignorMember> =
                (0..member_count).map(|i| member(&format!("m{i}"), &["t"])).collect();
            let mut rotated = members.clone();
            rotated.rotate_left(rotation % member_count);
            let topic_counts = counts(&[("t", partitions)]);
            prop_assert_eq!(range_assign(&members, &topic_counts), range_assign(&rotated, &topic_counts));
        }
    }
}
