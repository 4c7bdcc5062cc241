//! A function that does nothing with its records but note, for each, how long after its
//! producer timestamp the invocation started: one line per invocation, the delays in
//! milliseconds separated by spaces, appended to `$SKIFF_BENCH_SINK_FILE`.

use std::fs::OpenOptions;
use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lambda_events::event::kafka::KafkaEvent;
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let path = std::env::var("SKIFF_BENCH_SINK_FILE")?;
    let mut out = OpenOptions::new().create(true).append(true).open(path)?;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<KafkaEvent>| {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let mut line = String::new();
        for record in event.payload.records.values().flatten() {
            let delay = now_ms - record.timestamp.0.timestamp_millis();
            line.push_str(&delay.to_string());
            line.push(' ');
        }
        line.push('\n');
        let written = out.write_all(line.as_bytes());
        async move { written.map(|()| serde_json::Value::Null) }
    }))
    .await
}
