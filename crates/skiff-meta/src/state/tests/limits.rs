use super::*;
use crate::state::ClusterLimits;

fn limits(max_partitions: u64, max_topics_per_request: usize) -> ClusterLimits {
    ClusterLimits {
        max_partitions,
        max_topics_per_request,
    }
}

#[test]
fn topics_fit_in_order_until_the_cluster_limit_and_existing_partitions_count() {
    let (state, _) = state_with_topic(4);
    assert_eq!(state.partition_count(), 4);
    let create = CreateTopics(vec![
        new_topic("a", topic_id(2), 3),
        new_topic("b", topic_id(3), 4),
        new_topic("c", topic_id(4), 3),
    ]);
    // 4 held + 3 fits in 10; 4 more would make 11; the last 3 still fit after the refusal.
    assert_eq!(
        state.check_create_limits(&create, &limits(10, 100)),
        vec![
            None,
            Some(LimitError::ClusterPartitions {
                would_hold: 11,
                limit: 10
            }),
            None,
        ]
    );
    assert_eq!(
        state.check_create_limits(&create, &limits(14, 100)),
        vec![None, None, None]
    );
}

#[test]
fn a_request_naming_too_many_topics_is_refused_whole() {
    let state = ControllerState::default();
    let create = CreateTopics(
        (0..3)
            .map(|n| new_topic(&format!("t{n}"), topic_id(n + 10), 1))
            .collect(),
    );
    let refusal = LimitError::TooManyTopicsInRequest { count: 3, limit: 2 };
    assert_eq!(
        state.check_create_limits(&create, &limits(1_000, 2)),
        vec![Some(refusal.clone()), Some(refusal.clone()), Some(refusal)]
    );
    assert!(
        state
            .check_create_limits(&create, &limits(1_000, 3))
            .iter()
            .all(Option::is_none)
    );
}

#[test]
fn growth_counts_only_the_partitions_added() {
    let (state, id) = state_with_topic(4);
    let grow_to = |total| CreatePartitions(vec![PartitionIncrease { topic: id, total }]);
    assert_eq!(
        state.check_growth_limits(&grow_to(6), &limits(6, 1)),
        vec![None]
    );
    assert_eq!(
        state.check_growth_limits(&grow_to(7), &limits(6, 1)),
        vec![Some(LimitError::ClusterPartitions {
            would_hold: 7,
            limit: 6
        })]
    );
    // A shrink or an unknown topic adds nothing here; apply refuses them for what they are.
    assert_eq!(
        state.check_growth_limits(&grow_to(2), &limits(4, 1)),
        vec![None]
    );
}

#[test]
fn limit_refusals_read_as_sentences() {
    let error = TopicError::from(LimitError::ClusterPartitions {
        would_hold: 11,
        limit: 10,
    });
    assert_eq!(
        error.to_string(),
        "the cluster would hold 11 partitions, over its limit of 10 (the controller's max_partitions)"
    );
}
