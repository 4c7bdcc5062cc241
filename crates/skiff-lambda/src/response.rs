//! The answer a function gives to report partial batch failures
//! (`ReportBatchItemFailures`): `{"batchItemFailures":[{"itemIdentifier":{"partition":"t-0","offset":N}}]}`.
//!
//! `aws_lambda_events` has such types for SQS, Kinesis and DynamoDB streams but not for
//! Kafka, so they are here, for functions (to build the answer) and for the trigger (to read
//! it).

use serde::{Deserialize, Serialize};

use crate::event::partition_key;
use crate::records::Record;

/// A function's answer with the records that failed; empty means the whole batch succeeded.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KafkaBatchResponse {
    #[serde(default, deserialize_with = "null_as_empty")]
    pub batch_item_failures: Vec<BatchItemFailure>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchItemFailure {
    pub item_identifier: KafkaItemIdentifier,
}

/// Which record failed: its `<topic>-<partition>` (as in the event's `records` keys) and
/// offset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KafkaItemIdentifier {
    pub partition: String,
    pub offset: i64,
}

impl KafkaBatchResponse {
    /// Reports `record` as failed. The trigger (like AWS's) retries its partition from the
    /// lowest failed offset, so records after it in the same partition are invoked again.
    pub fn fail(&mut self, record: &Record) {
        self.batch_item_failures.push(BatchItemFailure {
            item_identifier: KafkaItemIdentifier {
                partition: partition_key(&record.topic, record.partition),
                offset: record.offset,
            },
        });
    }

    pub fn is_empty(&self) -> bool {
        self.batch_item_failures.is_empty()
    }
}

fn null_as_empty<'de, D>(deserializer: D) -> Result<Vec<BatchItemFailure>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    Ok(Option::<Vec<BatchItemFailure>>::deserialize(deserializer)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_has_the_documented_shape() {
        let record = Record {
            topic: "orders".into(),
            partition: 2,
            offset: 17,
            timestamp_ms: 0,
            timestamp_type: None,
            key: None,
            value: None,
            headers: Vec::new(),
        };
        let mut response = KafkaBatchResponse::default();
        assert!(response.is_empty());
        response.fail(&record);
        assert_eq!(
            serde_json::to_value(&response).unwrap(),
            serde_json::json!({"batchItemFailures":[{"itemIdentifier":{"partition":"orders-2","offset":17}}]})
        );
        let back: KafkaBatchResponse = serde_json::from_str(
            r#"{"batchItemFailures":[{"itemIdentifier":{"partition":"orders-2","offset":17}}]}"#,
        )
        .unwrap();
        assert_eq!(back, response);
    }

    #[test]
    fn null_and_missing_lists_mean_success() {
        for text in [
            "{}",
            r#"{"batchItemFailures":null}"#,
            r#"{"batchItemFailures":[]}"#,
        ] {
            let response: KafkaBatchResponse = serde_json::from_str(text).unwrap();
            assert!(response.is_empty(), "{text}");
        }
    }
}
