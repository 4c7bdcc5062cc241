//! The event source mapping's rules, against a scripted function, failure topic and committer.
//! Backoffs are a few milliseconds here, so retries run through quickly.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_lambda_events::event::kafka::KafkaEvent;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::*;
use crate::event::{EventFrame, EventRecord, TimestampType, encode_record};
use crate::trigger::failure_topic::FailureTopicError;
use crate::trigger::metrics::TriggerMetrics;
use crate::trigger::partition::{GlobalBudget, PartitionBudget};
use crate::trigger::settings::{Naming, TriggerSettings, TriggerSpec};

type Respond = dyn Fn(&[i64], usize) -> InvokeOutcome + Send + Sync;

/// A function that answers by a rule over the offsets it got and the call number.
struct ScriptedFunction {
    calls: Mutex<Vec<Vec<i64>>>,
    respond: Box<Respond>,
}

impl ScriptedFunction {
    fn new(
        respond: impl Fn(&[i64], usize) -> InvokeOutcome + Send + Sync + 'static,
    ) -> Arc<ScriptedFunction> {
        Arc::new(ScriptedFunction {
            calls: Mutex::new(Vec::new()),
            respond: Box::new(respond),
        })
    }

    fn calls(&self) -> Vec<Vec<i64>> {
        self.calls.lock().unwrap().clone()
    }
}

impl Invoke for ScriptedFunction {
    async fn invoke(&self, payload: Vec<u8>) -> InvokeOutcome {
        // Every payload must be a real self-managed Kafka event.
        let event: KafkaEvent =
            serde_json::from_slice(&payload).expect("the payload is a KafkaEvent");
        assert_eq!(event.event_source.as_deref(), Some("SelfManagedKafka"));
        assert_eq!(event.records.len(), 1);
        let offsets: Vec<i64> = event.records["orders-3"].iter().map(|r| r.offset).collect();
        let call = {
            let mut calls = self.calls.lock().unwrap();
            calls.push(offsets.clone());
            calls.len()
        };
        (self.respond)(&offsets, call)
    }

    fn function_name(&self) -> &str {
        "orders-fn"
    }
}

/// Offsets, condition, attempts and error of one send to the failure topic.
type Sent = (Vec<i64>, Condition, u32, String);

#[derive(Default)]
struct RecordingSink {
    sent: Mutex<Vec<Sent>>,
    refusals_left: Mutex<u32>,
}

impl FailureSink for RecordingSink {
    async fn send(
        &self,
        records: &[EncodedRecord],
        why: &Exhausted<'_>,
    ) -> Result<(), FailureTopicError> {
        let mut refusals = self.refusals_left.lock().unwrap();
        if *refusals > 0 {
            *refusals -= 1;
            return Err(FailureTopicError::Decode {
                offset: records[0].offset,
                reason: "refused by the test".into(),
            });
        }
        assert_eq!(why.source_topic, "orders");
        assert_eq!(why.source_partition, 3);
        assert_eq!(why.function_name, "orders-fn");
        self.sent.lock().unwrap().push((
            records.iter().map(|r| r.offset).collect(),
            why.condition,
            why.attempts,
            why.error.to_owned(),
        ));
        Ok(())
    }

    fn topic(&self) -> &str {
        "orders-failed"
    }
}

#[derive(Default, Clone)]
struct RecordingCommitter {
    commits: Arc<Mutex<Vec<i64>>>,
}

impl Commit for RecordingCommitter {
    fn commit(&self, next_offset: i64) -> bool {
        self.commits.lock().unwrap().push(next_offset);
        true
    }
}

struct Setup {
    function: Arc<ScriptedFunction>,
    sink: Arc<RecordingSink>,
    committer: RecordingCommitter,
    worker: PartitionWorker<ScriptedFunction, RecordingSink, RecordingCommitter>,
}

fn setup(
    change: impl FnOnce(&mut TriggerSpec),
    with_sink: bool,
    respond: impl Fn(&[i64], usize) -> InvokeOutcome + Send + Sync + 'static,
) -> Setup {
    let mut spec = TriggerSpec {
        bootstrap: Some("127.0.0.1:9092".into()),
        topics: Some(vec!["orders".into()]),
        group: Some("g".into()),
        function_name: Some("orders-fn".into()),
        ..TriggerSpec::default()
    };
    if with_sink {
        spec.on_failure_topic = Some("orders-failed".into());
    }
    change(&mut spec);
    let settings: TriggerSettings = spec.validate(Naming::Flags).unwrap();
    let function = ScriptedFunction::new(respond);
    let sink = Arc::new(RecordingSink::default());
    let committer = RecordingCommitter::default();
    let metrics = TriggerMetrics::new("g");
    let worker = PartitionWorker {
        topic: Arc::from("orders"),
        partition: 3,
        frame: EventFrame::new("127.0.0.1:9092", "orders", 3),
        settings: Arc::new(settings),
        invoker: function.clone(),
        sink: with_sink.then(|| sink.clone()),
        committer: committer.clone(),
        metrics,
        cancel: CancellationToken::new(),
        backoffs: Backoffs {
            retry_first: Duration::from_millis(1),
            retry_max: Duration::from_millis(4),
            unavailable_first: Duration::from_millis(1),
            unavailable_max: Duration::from_millis(4),
        },
        clock: WallClock::new(),
    };
    Setup {
        function,
        sink,
        committer,
        worker,
    }
}

fn record(offset: i64, timestamp_ms: i64, value: &[u8]) -> EncodedRecord {
    let mut json = Vec::new();
    encode_record(
        &mut json,
        &EventRecord {
            topic: "orders",
            partition: 3,
            offset,
            timestamp_ms,
            timestamp_type: TimestampType::CreateTime,
            key: None,
            value: Some(value),
        },
        std::iter::empty(),
    );
    EncodedRecord {
        offset,
        timestamp_ms,
        json: json.into(),
    }
}

fn batch(offsets: std::ops::Range<i64>) -> Vec<EncodedRecord> {
    let now = now_ms();
    offsets.map(|o| record(o, now, b"v")).collect()
}

fn ok() -> InvokeOutcome {
    InvokeOutcome::Returned {
        body: b"null".to_vec(),
    }
}

fn function_error() -> InvokeOutcome {
    InvokeOutcome::Failed {
        kind: "function_error",
        message: "Unhandled: boom".into(),
    }
}

fn answer(text: &str) -> InvokeOutcome {
    InvokeOutcome::Returned {
        body: text.as_bytes().to_vec(),
    }
}

/// Waits (polling, up to 10 s) until `done` holds.
async fn wait_for(what: &str, done: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

impl Setup {
    fn commits(&self) -> Vec<i64> {
        self.committer.commits.lock().unwrap().clone()
    }

    fn sent(&self) -> Vec<Sent> {
        self.sink.sent.lock().unwrap().clone()
    }
}

#[tokio::test]
async fn a_successful_batch_is_invoked_once_and_committed_after() {
    let s = setup(|_| {}, false, |_, _| ok());
    s.worker.deliver(&batch(10..14)).await.unwrap();
    assert_eq!(s.function.calls(), vec![vec![10, 11, 12, 13]]);
    assert_eq!(s.commits(), vec![14]);
}

#[tokio::test]
async fn errors_then_success_retry_the_same_records_and_lose_nothing() {
    let s = setup(
        |_| {},
        false,
        |_, call| if call <= 2 { function_error() } else { ok() },
    );
    s.worker.deliver(&batch(0..3)).await.unwrap();
    assert_eq!(s.function.calls(), vec![vec![0, 1, 2]; 3]);
    // Nothing is committed until the function succeeded.
    assert_eq!(s.commits(), vec![3]);
}

#[tokio::test]
async fn exhausted_records_go_to_the_failure_topic_after_n_attempts_then_offsets_move_on() {
    let s = setup(
        |spec| spec.maximum_retry_attempts = Some(2),
        true,
        |_, _| function_error(),
    );
    s.worker.deliver(&batch(5..8)).await.unwrap();
    assert_eq!(
        s.function.calls().len(),
        3,
        "first attempt plus two retries"
    );
    let sent = s.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, vec![5, 6, 7]);
    assert_eq!(sent[0].1, Condition::RetryAttemptsExhausted);
    assert_eq!(sent[0].2, 3);
    assert!(sent[0].3.contains("Unhandled: boom"), "{}", sent[0].3);
    assert_eq!(s.commits(), vec![8]);
}

#[tokio::test]
async fn infinite_retries_with_a_failure_topic_stop_after_ten_attempts() {
    let s = setup(|_| {}, true, |_, _| function_error());
    s.worker.deliver(&batch(0..1)).await.unwrap();
    assert_eq!(s.function.calls().len(), 11, "1 attempt + 10 retries");
    assert_eq!(s.sent()[0].2, 11);
}

#[tokio::test]
async fn without_a_failure_topic_exhausted_records_are_skipped_and_committed() {
    let s = setup(
        |spec| spec.maximum_retry_attempts = Some(0),
        false,
        |_, _| function_error(),
    );
    s.worker.deliver(&batch(0..2)).await.unwrap();
    assert_eq!(s.function.calls().len(), 1);
    assert_eq!(s.commits(), vec![2]);
}

#[tokio::test]
async fn a_failure_topic_that_refuses_keeps_the_offsets_until_it_takes_the_records() {
    let s = setup(
        |spec| spec.maximum_retry_attempts = Some(0),
        true,
        |_, _| function_error(),
    );
    *s.sink.refusals_left.lock().unwrap() = 2;
    s.worker.deliver(&batch(0..2)).await.unwrap();
    assert_eq!(s.sent().len(), 1);
    assert_eq!(s.commits(), vec![2]);
}

#[tokio::test]
async fn bisecting_isolates_the_bad_record() {
    let s = setup(
        |spec| {
            spec.bisect_batch_on_function_error = Some(true);
            spec.maximum_retry_attempts = Some(3);
        },
        true,
        |offsets, _| {
            if offsets.contains(&2) {
                function_error()
            } else {
                ok()
            }
        },
    );
    s.worker.deliver(&batch(0..4)).await.unwrap();
    assert_eq!(
        s.function.calls(),
        vec![
            vec![0, 1, 2, 3],
            vec![0, 1],
            vec![2, 3],
            vec![2],
            vec![2],
            vec![3]
        ]
    );
    let sent = s.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, vec![2]);
    assert_eq!(sent[0].2, 4);
    // In order, each part after it was done.
    assert_eq!(s.commits(), vec![2, 3, 4]);
}

#[tokio::test]
async fn a_partial_failure_retries_from_the_lowest_failed_offset_only() {
    let s = setup(
        |spec| spec.report_batch_item_failures = Some(true),
        false,
        |_, call| match call {
            1 => answer(
                r#"{"batchItemFailures":[{"itemIdentifier":{"partition":"orders-3","offset":13}},
                   {"itemIdentifier":{"partition":"orders-3","offset":12}}]}"#,
            ),
            _ => answer(r#"{"batchItemFailures":[]}"#),
        },
    );
    s.worker.deliver(&batch(10..15)).await.unwrap();
    assert_eq!(
        s.function.calls(),
        vec![vec![10, 11, 12, 13, 14], vec![12, 13, 14]]
    );
    assert_eq!(s.commits(), vec![12, 15]);
}

#[tokio::test]
async fn when_partial_retries_run_out_only_the_records_named_go_to_the_failure_topic() {
    let s = setup(
        |spec| {
            spec.report_batch_item_failures = Some(true);
            spec.maximum_retry_attempts = Some(1);
        },
        true,
        |offsets, _| {
            let failed: Vec<String> = offsets
                .iter()
                .filter(|o| **o == 12 || **o == 14)
                .map(|o| format!(r#"{{"itemIdentifier":{{"partition":"orders-3","offset":{o}}}}}"#))
                .collect();
            answer(&format!(
                r#"{{"batchItemFailures":[{}]}}"#,
                failed.join(",")
            ))
        },
    );
    s.worker.deliver(&batch(10..16)).await.unwrap();
    assert_eq!(
        s.function.calls(),
        vec![vec![10, 11, 12, 13, 14, 15], vec![12, 13, 14, 15]]
    );
    let sent = s.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].0,
        vec![12, 14],
        "13 and 15 succeeded in the last invocation"
    );
    assert_eq!(sent[0].2, 2);
    assert!(
        sent[0].3.contains("reported record 12, 14"),
        "{}",
        sent[0].3
    );
    assert_eq!(s.commits(), vec![12, 16]);
}

#[tokio::test]
async fn answers_that_mean_success_with_report_batch_item_failures() {
    for text in [
        "",
        "null",
        "{}",
        r#"{"batchItemFailures":null}"#,
        r#"{"other":1}"#,
    ] {
        let s = setup(
            |spec| spec.report_batch_item_failures = Some(true),
            false,
            move |_, _| answer(text),
        );
        s.worker.deliver(&batch(0..2)).await.unwrap();
        assert_eq!(s.function.calls().len(), 1, "{text:?}");
        assert_eq!(s.commits(), vec![2], "{text:?}");
    }
}

#[tokio::test]
async fn malformed_answers_fail_the_whole_batch_and_say_why() {
    let cases = [
        ("not json", "is not JSON"),
        (r#""ok""#, "must answer null"),
        (r#"{"batchItemFailures":{}}"#, "must answer null"),
        (
            r#"{"batchItemFailures":[{"itemIdentifier":null}]}"#,
            "got the item",
        ),
        (
            r#"{"batchItemFailures":[{"itemIdentifier":{"partition":"orders-9","offset":0}}]}"#,
            "held records of \"orders-3\" only",
        ),
        (
            r#"{"batchItemFailures":[{"itemIdentifier":{"partition":"orders-3","offset":99}}]}"#,
            "which was not in the batch (0..=1)",
        ),
    ];
    for (text, says) in cases {
        let s = setup(
            |spec| {
                spec.report_batch_item_failures = Some(true);
                spec.maximum_retry_attempts = Some(0);
            },
            true,
            move |_, _| answer(text),
        );
        s.worker.deliver(&batch(0..2)).await.unwrap();
        let sent = s.sent();
        assert_eq!(sent.len(), 1, "{text}");
        assert_eq!(sent[0].0, vec![0, 1], "{text}");
        assert!(sent[0].3.contains(says), "{text}: {}", sent[0].3);
    }
}

#[tokio::test]
async fn an_unavailable_function_is_retried_without_spending_attempts() {
    let s = setup(
        |spec| spec.maximum_retry_attempts = Some(0),
        true,
        |_, call| {
            if call <= 4 {
                InvokeOutcome::Unavailable {
                    kind: "not_found",
                    message: "ResourceNotFoundException (HTTP 404)".into(),
                }
            } else {
                ok()
            }
        },
    );
    s.worker.deliver(&batch(0..2)).await.unwrap();
    assert_eq!(s.function.calls().len(), 5);
    assert!(
        s.sent().is_empty(),
        "an unknown function is not a failure of the records"
    );
    assert_eq!(s.commits(), vec![2]);
}

#[tokio::test]
async fn records_past_the_maximum_age_are_not_invoked() {
    let s = setup(
        |spec| spec.maximum_record_age_s = Some(60),
        true,
        |_, _| ok(),
    );
    let now = now_ms();
    let records = vec![
        record(0, now - 120_000, b"old"),
        record(1, now - 61_000, b"old"),
        record(2, now, b"new"),
    ];
    s.worker.deliver(&records).await.unwrap();
    assert_eq!(s.function.calls(), vec![vec![2]]);
    let sent = s.sent();
    assert_eq!(sent[0].0, vec![0, 1]);
    assert_eq!(sent[0].1, Condition::RecordAgeExceeded);
    assert_eq!(s.commits(), vec![2, 3]);
}

#[tokio::test]
async fn records_expire_while_they_are_retried() {
    let s = setup(
        |spec| spec.maximum_record_age_s = Some(60),
        true,
        |_, _| function_error(),
    );
    let now = now_ms();
    // 59.98 s old: invoked (and failing) until the retries' backoffs age it past 60 s.
    let records = vec![record(0, now - 59_980, b"v")];
    s.worker.deliver(&records).await.unwrap();
    let calls = s.function.calls().len();
    assert!(calls >= 1, "it was invoked while young enough");
    let sent = s.sent();
    assert_eq!(sent[0].1, Condition::RecordAgeExceeded);
    assert_eq!(sent[0].2 as usize, calls, "every attempt counted");
    assert_eq!(s.commits(), vec![1]);
}

#[tokio::test]
async fn a_record_over_the_payload_cap_is_never_sent_to_lambda() {
    let s = setup(
        |spec| spec.maximum_retry_attempts = Some(1),
        true,
        |_, _| ok(),
    );
    let huge = vec![b'x'; MAX_PAYLOAD_BYTES];
    let records = vec![record(0, now_ms(), &huge)];
    s.worker.deliver(&records).await.unwrap();
    assert!(s.function.calls().is_empty());
    let sent = s.sent();
    assert_eq!(sent[0].0, vec![0]);
    assert!(
        sent[0]
            .3
            .contains("over Lambda's 6291456-byte payload limit"),
        "{}",
        sent[0].3
    );
    assert_eq!(s.commits(), vec![1]);
}

#[tokio::test]
async fn lambdas_too_large_answer_halves_the_batch_without_counting_a_failure() {
    let s = setup(
        |spec| spec.maximum_retry_attempts = Some(0),
        true,
        |offsets, _| {
            if offsets.len() > 2 {
                InvokeOutcome::TooLarge {
                    message: "RequestTooLargeException (HTTP 413)".into(),
                }
            } else {
                ok()
            }
        },
    );
    s.worker.deliver(&batch(0..4)).await.unwrap();
    assert_eq!(
        s.function.calls(),
        vec![vec![0, 1, 2, 3], vec![0, 1], vec![2, 3]]
    );
    assert!(s.sent().is_empty());
    assert_eq!(s.commits(), vec![2, 4]);
}

#[tokio::test]
async fn a_stop_during_retries_commits_nothing_more() {
    let s = setup(|_| {}, false, |_, _| function_error());
    let cancel = s.worker.cancel.clone();
    let records = batch(0..2);
    let function = s.function.clone();
    let delivering = s.worker.deliver(&records);
    tokio::pin!(delivering);
    tokio::select! {
        _ = &mut delivering => panic!("an always failing batch finished"),
        () = wait_for("a few retries", || function.calls().len() > 3) => {}
    }
    cancel.cancel();
    assert_eq!(delivering.await, Err(Stopped));
    assert!(s.function.calls().len() > 3);
    assert!(s.commits().is_empty());
}

/// The worker's loop: batches are cut at the batch size, the window and the payload cap, and
/// delivered one at a time in order.
#[tokio::test]
async fn the_worker_cuts_batches_by_size_and_window_and_delivers_them_in_order() {
    let s = setup(
        |spec| {
            spec.batch_size = Some(3);
            spec.batching_window_ms = Some(50);
        },
        false,
        |_, _| ok(),
    );
    let global = Arc::new(GlobalBudget::default());
    let budget = Arc::new(PartitionBudget::new(global.clone()));
    let (tx, rx) = mpsc::channel(100);
    for r in batch(0..7) {
        budget.take(r.json.len());
        tx.send(r).await.unwrap();
    }
    let commits = s.committer.commits.clone();
    let function = s.function.clone();
    let cancel = s.worker.cancel.clone();
    let task = tokio::spawn(s.worker.run(rx, budget.clone()));
    // The last, short batch goes when its window closes.
    wait_for("the last commit", || {
        commits.lock().unwrap().last() == Some(&7)
    })
    .await;
    assert_eq!(
        function.calls(),
        vec![vec![0, 1, 2], vec![3, 4, 5], vec![6]]
    );
    assert_eq!(*commits.lock().unwrap(), vec![3, 6, 7]);
    assert_eq!(
        global.bytes.load(std::sync::atomic::Ordering::Relaxed),
        0,
        "every byte released"
    );
    cancel.cancel();
    task.await.unwrap();
    drop(tx);
}

#[tokio::test]
async fn a_batch_is_cut_before_its_event_would_pass_six_megabytes() {
    let s = setup(|spec| spec.batch_size = Some(100), false, |_, _| ok());
    let (tx, rx) = mpsc::channel(100);
    let global = Arc::new(GlobalBudget::default());
    let budget = Arc::new(PartitionBudget::new(global));
    // Each record is about 1.33 MB in base64: four fit under 6 MB, five do not.
    let value = vec![7u8; 1_000_000];
    for offset in 0..6 {
        let r = record(offset, now_ms(), &value);
        budget.take(r.json.len());
        tx.send(r).await.unwrap();
    }
    let commits = s.committer.commits.clone();
    let function = s.function.clone();
    let cancel = s.worker.cancel.clone();
    let task = tokio::spawn(s.worker.run(rx, budget));
    wait_for("the last commit", || {
        commits.lock().unwrap().last() == Some(&6)
    })
    .await;
    assert_eq!(function.calls(), vec![vec![0, 1, 2, 3], vec![4, 5]]);
    cancel.cancel();
    task.await.unwrap();
}
