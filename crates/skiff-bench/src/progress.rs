//! The progress bar on stderr while a run goes; hidden when stderr is not a terminal or the
//! summary is JSON, so scripts and logs see only the result.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// What the bar measures progress against.
#[derive(Debug, Clone, Copy)]
pub enum ProgressGoal {
    Records(u64),
    Duration(Duration),
}

pub struct ProgressView {
    bar: ProgressBar,
    goal: ProgressGoal,
}

impl ProgressView {
    pub fn new(goal: ProgressGoal, json: bool) -> ProgressView {
        let visible = !json && std::io::stderr().is_terminal();
        let bar = if visible {
            let length = match goal {
                ProgressGoal::Records(records) => records,
                ProgressGoal::Duration(duration) => duration_millis(duration),
            };
            let bar = ProgressBar::with_draw_target(Some(length), ProgressDrawTarget::stderr());
            let template = match goal {
                ProgressGoal::Records(_) => {
                    "{spinner} [{elapsed_precise}] {wide_bar} {percent}% {msg}"
                }
                ProgressGoal::Duration(_) => "{spinner} [{elapsed_precise}] {wide_bar} {msg}",
            };
            if let Ok(style) = ProgressStyle::with_template(template) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar
        } else {
            ProgressBar::hidden()
        };
        ProgressView { bar, goal }
    }

    /// Shows `records` and `bytes` done after `elapsed`.
    pub fn update(&self, records: u64, bytes: u64, elapsed: Duration) {
        if self.bar.is_hidden() {
            return;
        }
        let position = match self.goal {
            ProgressGoal::Records(_) => records,
            ProgressGoal::Duration(_) => duration_millis(elapsed),
        };
        self.bar.set_position(position);
        let seconds = elapsed.as_secs_f64().max(1e-3);
        self.bar.set_message(format!(
            "{records} records, {:.1} MB/s",
            bytes as f64 / 1e6 / seconds
        ));
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

fn duration_millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
