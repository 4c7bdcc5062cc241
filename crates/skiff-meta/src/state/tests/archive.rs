use super::*;

const V1: &str = "s3://b/archive/t/metadata/v2.metadata.json";
const V2: &str = "s3://b/archive/t/metadata/v3.metadata.json";

fn commit(
    t: TopicId,
    expected: Option<&str>,
    location: &str,
    offsets: &[(u32, i64)],
) -> CommitArchive {
    CommitArchive {
        topic_id: t,
        expected_metadata: expected.map(str::to_string),
        metadata_location: location.to_string(),
        last_offsets: offsets.to_vec(),
        rows: 10,
        data_bytes: 1000,
        data_files: 2,
    }
}

/// A topic with two partitions of 10 offsets each.
fn topic_with_records() -> (ControllerState, TopicId) {
    let (mut state, t) = state_with_topic(2);
    for partition in [0, 1] {
        commit_batches(&mut state, t, partition, vec![plain(100, 10)]);
    }
    (state, t)
}

#[test]
fn a_commit_from_the_current_progress_applies_once() {
    let (mut state, t) = topic_with_records();
    assert_eq!(state.archive_progress(&t), None);
    let first = commit(t, None, V1, &[(0, 4), (1, 9)]);
    assert_eq!(run(&mut state, first.clone()), Ok(()));
    let progress = state.archive_progress(&t).expect("committed");
    assert_eq!(progress.metadata_location, V1);
    assert_eq!(progress.next_offset(0), 5);
    assert_eq!(progress.next_offset(1), 10);
    assert_eq!(
        (progress.commits, progress.rows, progress.data_files),
        (1, 10, 2)
    );

    // The same commit again (a retried proposal, or a second pass that started from the same
    // progress) is refused and changes nothing.
    assert_eq!(
        run(&mut state, first),
        Err(ArchiveCommitError::Moved {
            expected: None,
            current: Some(V1.to_string()),
        })
    );
    assert_eq!(state.archive_progress(&t).map(|p| p.commits), Some(1));

    // The next pass starts from V1 and moves partition 0 only; partition 1 keeps its offset.
    assert_eq!(run(&mut state, commit(t, Some(V1), V2, &[(0, 9)])), Ok(()));
    let progress = state.archive_progress(&t).expect("committed");
    assert_eq!(progress.metadata_location, V2);
    assert_eq!(progress.last_offsets, BTreeMap::from([(0, 9), (1, 9)]));
    assert_eq!(progress.rows, 20);
}

#[test]
fn offsets_must_move_forward_within_the_log() {
    let (mut state, t) = topic_with_records();
    assert_eq!(run(&mut state, commit(t, None, V1, &[(0, 4)])), Ok(()));
    let refused = |offsets: &[(u32, i64)], state: &mut ControllerState| {
        run(state, commit(t, Some(V1), V2, offsets))
    };
    assert!(matches!(
        refused(&[(0, 4)], &mut state),
        Err(ArchiveCommitError::BadOffset { archived: 4, .. })
    ));
    assert!(matches!(
        refused(&[(0, 10)], &mut state),
        Err(ArchiveCommitError::BadOffset {
            high_watermark: 10,
            ..
        })
    ));
    assert_eq!(
        refused(&[(2, 0)], &mut state),
        Err(ArchiveCommitError::UnknownPartition { partition: 2 })
    );
    assert_eq!(
        refused(&[(1, 0), (1, 1)], &mut state),
        Err(ArchiveCommitError::DuplicatePartition { partition: 1 })
    );
    // None of those moved anything.
    let progress = state.archive_progress(&t).expect("committed");
    assert_eq!(progress.metadata_location, V1);
    assert_eq!(progress.last_offsets, BTreeMap::from([(0, 4)]));
}

#[test]
fn deleting_the_topic_forgets_its_progress() {
    let (mut state, t) = topic_with_records();
    assert_eq!(run(&mut state, commit(t, None, V1, &[(0, 4)])), Ok(()));
    assert_eq!(run(&mut state, DeleteTopics(vec![t])), vec![Ok(())]);
    assert_eq!(state.archive_progress(&t), None);
    assert_eq!(
        run(&mut state, commit(t, Some(V1), V2, &[(0, 9)])),
        Err(ArchiveCommitError::UnknownTopic)
    );
}
