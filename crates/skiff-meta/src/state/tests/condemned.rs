//! Collected orphans against late commits: Raft orders the two, and whichever applies second
//! loses cleanly.

use super::*;

fn segment(key: &str, time_ms: i64, topic: TopicId) -> SegmentCommit {
    SegmentCommit {
        object_key: key.to_string(),
        object_size: 100,
        broker_id: 1,
        append_time_ms: time_ms,
        chunks: vec![chunk(topic, 0, 0, vec![plain(100, 1)])],
    }
}

fn condemn(state: &mut ControllerState, now_ms: i64, keys: &[&str]) -> Vec<bool> {
    run(
        state,
        CondemnOrphans {
            now_ms,
            keys: keys.iter().map(|k| k.to_string()).collect(),
        },
    )
}

#[test]
fn a_commit_that_arrives_after_its_object_was_condemned_is_refused_whole() {
    let (mut state, t) = state_with_topic(1);
    assert_eq!(condemn(&mut state, T0, &["segments/late"]), vec![true]);
    let result = run(&mut state, segment("segments/late", T0 - HOUR, t));
    assert_eq!(result.object_id, COLLECTED_OBJECT_ID);
    assert_eq!(result.chunks, vec![ChunkOutcome::ObjectCollected]);
    // Nothing was appended or registered: the next commit gets offset 0 and object id 0.
    let next = run(&mut state, segment("segments/next", T0, t));
    assert_eq!(next.object_id, 0);
    assert_eq!(
        committed(&next.chunks[0]).0,
        &[BatchOutcome::Appended { base_offset: 0 }]
    );
    assert_eq!(state.object_count(), 1);
}

#[test]
fn an_object_committed_before_its_condemnation_is_kept() {
    let (mut state, t) = state_with_topic(1);
    let result = run(&mut state, segment("segments/slow", T0, t));
    assert!(matches!(result.chunks[0], ChunkOutcome::Committed { .. }));
    // Listed as an orphan before the commit applied, condemned after: not deleted.
    assert_eq!(
        condemn(&mut state, T0 + HOUR, &["segments/slow", "segments/lost"]),
        vec![false, true]
    );
    assert_eq!(state.condemned_object_count(), 1);
}

#[test]
fn condemned_keys_are_forgotten_after_a_week_and_older_commits_stay_refused() {
    let (mut state, t) = state_with_topic(1);
    assert_eq!(condemn(&mut state, T0, &["segments/a"]), vec![true]);
    assert_eq!(
        condemn(&mut state, T0 + CONDEMNED_KEYS_KEPT_MS + 1, &["segments/b"]),
        vec![true]
    );
    assert_eq!(state.condemned_object_count(), 1, "a was dropped");
    // A commit stamped before a dropped mark may be for its key, so it is refused anyway.
    let stale = run(&mut state, segment("segments/a", T0 - 1, t));
    assert_eq!(stale.chunks, vec![ChunkOutcome::ObjectCollected]);
    // A fresh commit of an unrelated key is fine.
    let fresh = run(
        &mut state,
        segment("segments/c", T0 + CONDEMNED_KEYS_KEPT_MS + 2, t),
    );
    assert!(matches!(fresh.chunks[0], ChunkOutcome::Committed { .. }));
}

#[test]
fn condemning_the_same_key_twice_keeps_one_mark() {
    let (mut state, _) = state_with_topic(1);
    assert_eq!(condemn(&mut state, T0, &["segments/x"]), vec![true]);
    assert_eq!(condemn(&mut state, T0 + 1, &["segments/x"]), vec![true]);
    assert_eq!(state.condemned_object_count(), 1);
}
