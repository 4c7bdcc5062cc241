//! For function authors: the records of an `aws_lambda_events` `KafkaEvent`, decoded (base64
//! keys and values, signed-byte headers) and in order (by partition, then offset).
//!
//! ```
//! use aws_lambda_events::event::kafka::KafkaEvent;
//! use skiff_lambda::{KafkaBatchResponse, records};
//!
//! fn handle(event: &KafkaEvent) -> KafkaBatchResponse {
//!     let mut response = KafkaBatchResponse::default();
//!     for record in records(event).expect("a Kafka event") {
//!         if record.value_str().is_none() {
//!             response.fail(&record); // retried from here on, or sent to the failure topic
//!         }
//!     }
//!     response
//! }
//! ```

use aws_lambda_events::event::kafka::KafkaEvent;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// One Kafka record of an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    /// Milliseconds since the epoch (`aws_lambda_events` reads the event's value through an
    /// `f64`, so this may be one millisecond below what the trigger sent).
    pub timestamp_ms: i64,
    /// `CREATE_TIME` or `LOG_APPEND_TIME`.
    pub timestamp_type: Option<String>,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    /// In the order the producer wrote them; a name may repeat.
    pub headers: Vec<(String, Vec<u8>)>,
}

impl Record {
    /// The value as UTF-8 text, if it is some.
    pub fn value_str(&self) -> Option<&str> {
        std::str::from_utf8(self.value.as_deref()?).ok()
    }

    /// The key as UTF-8 text, if it is some.
    pub fn key_str(&self) -> Option<&str> {
        std::str::from_utf8(self.key.as_deref()?).ok()
    }

    /// The first header called `name`.
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }
}

/// Why an event's records could not be read.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("record {offset} of {key} has a {field} that is not base64: {source}")]
    Base64 {
        key: String,
        offset: i64,
        field: &'static str,
        source: base64::DecodeError,
    },
    #[error(
        "record {offset} of {key} names partition {partition}, which is not a Kafka partition number"
    )]
    Partition {
        key: String,
        offset: i64,
        partition: i64,
    },
}

/// Every record of `event`, decoded, sorted by topic-partition and then offset (the order
/// within a partition is the order the trigger guarantees).
pub fn records(event: &KafkaEvent) -> Result<Vec<Record>, RecordError> {
    let mut keys: Vec<&String> = event.records.keys().collect();
    keys.sort();
    let mut out = Vec::with_capacity(event.records.values().map(Vec::len).sum());
    for key in keys {
        let mut partition_records = Vec::with_capacity(event.records[key].len());
        for raw in &event.records[key] {
            let decode = |field: &'static str, text: &Option<String>| {
                text.as_deref()
                    .map(|t| STANDARD.decode(t))
                    .transpose()
                    .map_err(|source| RecordError::Base64 {
                        key: key.clone(),
                        offset: raw.offset,
                        field,
                        source,
                    })
            };
            let partition = i32::try_from(raw.partition).map_err(|_| RecordError::Partition {
                key: key.clone(),
                offset: raw.offset,
                partition: raw.partition,
            })?;
            partition_records.push(Record {
                // Events always name the topic; the key's part before the last '-' is the
                // fallback for hand-written ones that do not.
                topic: raw.topic.clone().unwrap_or_else(|| {
                    key.rsplit_once('-')
                        .map_or_else(|| key.clone(), |(t, _)| t.to_owned())
                }),
                partition,
                offset: raw.offset,
                timestamp_ms: raw.timestamp.0.timestamp_millis(),
                timestamp_type: raw.timestamp_type.clone(),
                key: decode("key", &raw.key)?,
                value: decode("value", &raw.value)?,
                headers: raw
                    .headers
                    .iter()
                    .flat_map(|header| {
                        header.iter().map(|(name, bytes)| {
                            (name.clone(), bytes.iter().map(|b| *b as u8).collect())
                        })
                    })
                    .collect(),
            });
        }
        partition_records.sort_by_key(|r| r.offset);
        out.extend(partition_records);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_come_decoded_and_in_order() {
        let event: KafkaEvent = serde_json::from_str(
            r#"{"eventSource":"SelfManagedKafka","bootstrapServers":"b:9092","records":{
              "t-1":[{"topic":"t","partition":1,"offset":8,"timestamp":5,"timestampType":"CREATE_TIME",
                      "value":"aGk=","headers":[{"h":[-1,0,104]}]},
                     {"topic":"t","partition":1,"offset":7,"timestamp":4,"timestampType":"CREATE_TIME",
                      "key":"aw==","headers":[]}],
              "t-0":[{"topic":"t","partition":0,"offset":3,"timestamp":1,"timestampType":"LOG_APPEND_TIME",
                      "key":null,"value":null,"headers":[]}]}}"#,
        )
        .unwrap();
        let records = records(&event).unwrap();
        let order: Vec<(i32, i64)> = records.iter().map(|r| (r.partition, r.offset)).collect();
        assert_eq!(order, [(0, 3), (1, 7), (1, 8)]);
        assert_eq!(records[0].key, None);
        assert_eq!(records[0].value, None);
        assert_eq!(records[1].key_str(), Some("k"));
        assert_eq!(records[2].value_str(), Some("hi"));
        assert_eq!(records[2].header("h"), Some(&[0xff, 0, b'h'][..]));
        assert!((records[2].timestamp_ms - 5).abs() <= 1);
    }

    #[test]
    fn bad_base64_is_named() {
        let event: KafkaEvent = serde_json::from_str(
            r#"{"records":{"t-0":[{"topic":"t","partition":0,"offset":3,"timestamp":1,"value":"%%","headers":[]}]}}"#,
        )
        .unwrap();
        let err = records(&event).unwrap_err().to_string();
        assert!(
            err.contains("record 3 of t-0 has a value that is not base64"),
            "{err}"
        );
    }
}
