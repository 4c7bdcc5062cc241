//! An orders function for Kafka topics.
//!
//! Each record's value should be an order, `{"id":"o-17","amount":12.5}`. Valid orders are
//! printed (one JSON line each, which ends up in the function's log); records that are not
//! orders are reported in `batchItemFailures`, so with `ReportBatchItemFailures` the trigger
//! retries them and, once their retries run out, moves them to the on-failure topic.
//!
//! The same binary runs under `skiff trigger`, under `cargo lambda watch` and on AWS Lambda
//! behind an event source mapping for self-managed Kafka:
//!
//! ```sh
//! cargo lambda watch -A 127.0.0.1 -P 9000                 # local emulator, in this directory
//! cargo lambda build --release -p lambda-function-example # for AWS (x86_64; --arm64 for Graviton)
//! cargo lambda deploy orders-function
//! ```

use aws_lambda_events::event::kafka::KafkaEvent;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde::Deserialize;
use skiff_lambda::{KafkaBatchResponse, records};

#[derive(Debug, Deserialize)]
struct Order {
    id: String,
    amount: f64,
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    lambda_runtime::run(service_fn(handle)).await
}

async fn handle(event: LambdaEvent<KafkaEvent>) -> Result<KafkaBatchResponse, Error> {
    let mut response = KafkaBatchResponse::default();
    for record in records(&event.payload)? {
        match serde_json::from_slice::<Order>(record.value.as_deref().unwrap_or_default()) {
            Ok(order) => println!(
                "{}",
                serde_json::json!({
                    "order": order.id,
                    "amount": order.amount,
                    "key": record.key_str(),
                    "topic": record.topic,
                    "partition": record.partition,
                    "offset": record.offset,
                })
            ),
            Err(e) => {
                tracing::warn!(
                    topic = %record.topic,
                    partition = record.partition,
                    offset = record.offset,
                    "not an order: {e}"
                );
                response.fail(&record);
            }
        }
    }
    Ok(response)
}
