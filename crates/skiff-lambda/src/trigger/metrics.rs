//! The trigger's metrics. Handles are registered once per trigger (and per partition for lag)
//! and kept, so the per-batch path only adds to atomics. Every metric carries the trigger's
//! `group` as its `trigger` label.

use metrics::{
    Counter, Gauge, Histogram, counter, describe_counter, describe_gauge, describe_histogram,
    gauge, histogram,
};

/// Describes every trigger metric for the Prometheus exporter.
pub fn describe_metrics() {
    describe_counter!(
        "skiff_trigger_invocations_total",
        "Function invocations the trigger made (each attempt counts)"
    );
    describe_counter!(
        "skiff_trigger_invocation_errors_total",
        "Invocations that failed, by kind: function_error, throttled, service_error, \
         timeout, bad_answer, not_found, unreachable, denied, too_large"
    );
    describe_counter!(
        "skiff_trigger_retries_total",
        "Invocations that retried records an earlier invocation failed"
    );
    describe_counter!(
        "skiff_trigger_records_delivered_total",
        "Records a function processed successfully"
    );
    describe_counter!(
        "skiff_trigger_records_to_failure_topic_total",
        "Records that exhausted their retries and were written to the on-failure topic"
    );
    describe_counter!(
        "skiff_trigger_records_discarded_total",
        "Records that exhausted their retries with no on-failure topic configured"
    );
    describe_counter!(
        "skiff_trigger_commits_total",
        "Offset commits the trigger made after success or after the failure topic took the records"
    );
    describe_histogram!(
        "skiff_trigger_invoke_seconds",
        "Time from sending an invocation to its answer"
    );
    describe_histogram!(
        "skiff_trigger_record_delay_seconds",
        "Time from a record's timestamp to the start of the invocation that delivered it"
    );
    describe_gauge!(
        "skiff_trigger_lag_records",
        "Records in a partition after the trigger's last commit (high watermark minus committed offset)"
    );
    describe_gauge!(
        "skiff_trigger_assigned_partitions",
        "Partitions this trigger process currently owns"
    );
}

/// Invocation error kinds, as labels.
pub const ERROR_KINDS: [&str; 9] = [
    "function_error",
    "throttled",
    "service_error",
    "timeout",
    "bad_answer",
    "not_found",
    "unreachable",
    "denied",
    "too_large",
];

/// One trigger's handles.
#[derive(Clone)]
pub struct TriggerMetrics {
    pub trigger: String,
    pub invocations: Counter,
    pub errors: [Counter; ERROR_KINDS.len()],
    pub retries: Counter,
    pub delivered: Counter,
    pub to_failure_topic: Counter,
    pub discarded: Counter,
    pub commits: Counter,
    pub invoke_seconds: Histogram,
    pub record_delay_seconds: Histogram,
    pub assigned_partitions: Gauge,
}

impl TriggerMetrics {
    pub fn new(trigger: &str) -> TriggerMetrics {
        let label = trigger.to_owned();
        TriggerMetrics {
            trigger: label.clone(),
            invocations: counter!("skiff_trigger_invocations_total", "trigger" => label.clone()),
            errors: ERROR_KINDS.map(|kind| {
                counter!("skiff_trigger_invocation_errors_total", "trigger" => label.clone(), "kind" => kind)
            }),
            retries: counter!("skiff_trigger_retries_total", "trigger" => label.clone()),
            delivered: counter!("skiff_trigger_records_delivered_total", "trigger" => label.clone()),
            to_failure_topic: counter!("skiff_trigger_records_to_failure_topic_total", "trigger" => label.clone()),
            discarded: counter!("skiff_trigger_records_discarded_total", "trigger" => label.clone()),
            commits: counter!("skiff_trigger_commits_total", "trigger" => label.clone()),
            invoke_seconds: histogram!("skiff_trigger_invoke_seconds", "trigger" => label.clone()),
            record_delay_seconds: histogram!("skiff_trigger_record_delay_seconds", "trigger" => label.clone()),
            assigned_partitions: gauge!("skiff_trigger_assigned_partitions", "trigger" => label),
        }
    }

    pub fn error(&self, kind: &str) {
        if let Some(i) = ERROR_KINDS.iter().position(|k| *k == kind) {
            self.errors[i].increment(1);
        }
    }

    /// The lag gauge of one partition.
    pub fn lag(&self, topic: &str, partition: i32) -> Gauge {
        gauge!(
            "skiff_trigger_lag_records",
            "trigger" => self.trigger.clone(),
            "topic" => topic.to_owned(),
            "partition" => partition.to_string()
        )
    }
}
