//! Reads back what the crate emitted into a metrics-util `DebuggingRecorder`.

use std::collections::HashMap;

use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};

/// One snapshot's values, keyed by metric name and its single label value ("" for none).
/// The recorder resets counters and histograms when snapshotted, so each snapshot holds what
/// moved since the previous one.
pub struct Recorded {
    values: HashMap<(String, String), DebugValue>,
}

impl Recorded {
    pub fn take(snapshotter: &Snapshotter) -> Self {
        let values = snapshotter
            .snapshot()
            .into_vec()
            .into_iter()
            .map(|(key, _unit, _description, value)| {
                let key = key.key();
                let label = key
                    .labels()
                    .map(|label| label.value().to_string())
                    .collect::<Vec<_>>()
                    .join(",");
                ((key.name().to_string(), label), value)
            })
            .collect();
        Self { values }
    }

    fn get(&self, name: &str, label: &str) -> Option<&DebugValue> {
        self.values.get(&(name.to_string(), label.to_string()))
    }

    /// A counter's increase; 0 when it never moved or was never registered.
    pub fn counter(&self, name: &str, label: &str) -> u64 {
        match self.get(name, label) {
            Some(DebugValue::Counter(value)) => *value,
            None => 0,
            Some(other) => panic!("{name}{{{label}}} is not a counter: {other:?}"),
        }
    }

    /// The samples a histogram received.
    pub fn samples(&self, name: &str, label: &str) -> Vec<f64> {
        match self.get(name, label) {
            Some(DebugValue::Histogram(values)) => values.iter().map(|v| v.0).collect(),
            None => Vec::new(),
            Some(other) => panic!("{name}{{{label}}} is not a histogram: {other:?}"),
        }
    }

    pub fn gauge(&self, name: &str, label: &str) -> Option<f64> {
        match self.get(name, label) {
            Some(DebugValue::Gauge(value)) => Some(value.0),
            None => None,
            Some(other) => panic!("{name}{{{label}}} is not a gauge: {other:?}"),
        }
    }

    /// Every (name, label) whose counter moved, for asserting nothing else did.
    pub fn moved_counters(&self) -> Vec<(String, String)> {
        let mut moved: Vec<_> = self
            .values
            .iter()
            .filter(|(_, value)| matches!(value, DebugValue::Counter(n) if *n > 0))
            .map(|(key, _)| key.clone())
            .collect();
        moved.sort();
        moved
    }
}

/// Runs `build` with a fresh recorder installed on this thread, so the handles it registers
/// report there; returns what it built and a way to read the recorder.
pub fn built_with_recorder<T>(build: impl FnOnce() -> T) -> (T, Snapshotter) {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let built = metrics::with_local_recorder(&recorder, build);
    (built, snapshotter)
}
