//! Lambda functions on Kafka topics.
//!
//! - For function authors: [`records`] decodes an `aws_lambda_events` `KafkaEvent`, and
//!   [`KafkaBatchResponse`] is the `batchItemFailures` answer. A function built on these runs
//!   unchanged under `skiff trigger` and under AWS's event source mapping.
//! - The trigger (feature `trigger`, used by the `skiff` binary): a consumer-group member that
//!   invokes a function with AWS's self-managed Kafka event ([`event`]) and follows the event
//!   source mapping's rules for batching, retries and failures.

pub mod event;
pub mod records;
pub mod response;
#[cfg(feature = "trigger")]
pub mod trigger;

pub use records::{Record, RecordError, records};
pub use response::{BatchItemFailure, KafkaBatchResponse, KafkaItemIdentifier};
