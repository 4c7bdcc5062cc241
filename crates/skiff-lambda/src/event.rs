//! The event the trigger sends: AWS's self-managed Kafka event, byte for byte in shape.
//!
//! ```json
//! {"eventSource":"SelfManagedKafka","bootstrapServers":"h1:9092,h2:9092",
//!  "records":{"orders-0":[{"topic":"orders","partition":0,"offset":15,
//!    "timestamp":1545084650987,"timestampType":"CREATE_TIME",
//!    "key":"a2V5","value":"dmFsdWU=","headers":[{"k":[104,105]}]}]}}
//! ```
//!
//! Records are encoded one by one as they arrive ([`encode_record`]), so building a batch's
//! payload is a concatenation and its size is known before it is sent (the 6 MB cap).
//! `key` and `value` are left out for null, as AWS does; header values are JSON arrays of
//! signed bytes (Java's `byte`), which is what `aws_lambda_events`' `Vec<i8>` reads.

use std::io::Write as _;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// The largest synchronous invocation payload Lambda accepts (6 MB).
pub const MAX_PAYLOAD_BYTES: usize = 6 * 1024 * 1024;

/// `eventSource` of a self-managed Kafka event (MSK's `aws:kafka` events carry an
/// `eventSourceArn` instead; this event has none).
pub const EVENT_SOURCE: &str = "SelfManagedKafka";

/// How the broker stamped a record's time, named as Kafka's Java client names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampType {
    CreateTime,
    LogAppendTime,
    NoTimestampType,
}

impl TimestampType {
    pub fn as_str(self) -> &'static str {
        match self {
            TimestampType::CreateTime => "CREATE_TIME",
            TimestampType::LogAppendTime => "LOG_APPEND_TIME",
            TimestampType::NoTimestampType => "NO_TIMESTAMP_TYPE",
        }
    }
}

/// One Kafka record as the event carries it, borrowed from wherever it was read.
#[derive(Debug, Clone, Copy)]
pub struct EventRecord<'a> {
    pub topic: &'a str,
    pub partition: i32,
    pub offset: i64,
    /// Milliseconds since the epoch; -1 when the record has none.
    pub timestamp_ms: i64,
    pub timestamp_type: TimestampType,
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
}

/// Appends one record object of the event's `records` arrays to `out`. `headers` are the
/// record's headers in order; a null header value is written as an empty array, since the
/// event (and `aws_lambda_events`) has no null for one.
pub fn encode_record<'h>(
    out: &mut Vec<u8>,
    record: &EventRecord<'_>,
    headers: impl IntoIterator<Item = (&'h str, Option<&'h [u8]>)>,
) {
    out.extend_from_slice(b"{\"topic\":");
    push_json_string(out, record.topic);
    push_fmt(
        out,
        format_args!(
            ",\"partition\":{},\"offset\":{},\"timestamp\":{},\"timestampType\":\"{}\"",
            record.partition,
            record.offset,
            record.timestamp_ms,
            record.timestamp_type.as_str()
        ),
    );
    if let Some(key) = record.key {
        out.extend_from_slice(b",\"key\":");
        push_base64(out, key);
    }
    if let Some(value) = record.value {
        out.extend_from_slice(b",\"value\":");
        push_base64(out, value);
    }
    out.extend_from_slice(b",\"headers\":[");
    for (i, (name, value)) in headers.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.push(b'{');
        push_json_string(out, name);
        out.extend_from_slice(b":[");
        for (j, byte) in value.unwrap_or_default().iter().enumerate() {
            if j > 0 {
                out.push(b',');
            }
            push_signed_byte(out, *byte);
        }
        out.extend_from_slice(b"]}");
    }
    out.extend_from_slice(b"]}");
}

/// Builds one invocation payload from records of one topic-partition, each already encoded by
/// [`encode_record`].
#[derive(Debug, Clone)]
pub struct EventFrame {
    prefix: Vec<u8>,
}

/// Bytes the frame adds after the records: `]}}`.
const FRAME_SUFFIX: &[u8] = b"]}}";

impl EventFrame {
    /// The part of the event before the records of `topic`-`partition`.
    pub fn new(bootstrap_servers: &str, topic: &str, partition: i32) -> EventFrame {
        let mut prefix = Vec::with_capacity(96 + bootstrap_servers.len() + topic.len());
        prefix.extend_from_slice(b"{\"eventSource\":");
        push_json_string(&mut prefix, EVENT_SOURCE);
        prefix.extend_from_slice(b",\"bootstrapServers\":");
        push_json_string(&mut prefix, bootstrap_servers);
        prefix.extend_from_slice(b",\"records\":{");
        push_json_string(&mut prefix, &partition_key(topic, partition));
        prefix.extend_from_slice(b":[");
        EventFrame { prefix }
    }

    /// The payload's size with `count` records of `records_bytes` encoded bytes in all.
    pub fn payload_len(&self, count: usize, records_bytes: usize) -> usize {
        self.prefix.len() + records_bytes + count.saturating_sub(1) + FRAME_SUFFIX.len()
    }

    /// The whole event.
    pub fn payload<'r>(&self, records: impl IntoIterator<Item = &'r [u8]>) -> Vec<u8> {
        let records: Vec<&[u8]> = records.into_iter().collect();
        let bytes = records.iter().map(|r| r.len()).sum();
        let mut out = Vec::with_capacity(self.payload_len(records.len(), bytes));
        out.extend_from_slice(&self.prefix);
        for (i, record) in records.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(record);
        }
        out.extend_from_slice(FRAME_SUFFIX);
        out
    }
}

/// The key of a partition's records in the event, and the `partition` of a
/// `batchItemFailures` item: `<topic>-<partition>`.
pub fn partition_key(topic: &str, partition: i32) -> String {
    format!("{topic}-{partition}")
}

fn push_fmt(out: &mut Vec<u8>, args: std::fmt::Arguments<'_>) {
    // Straight into the buffer, with no string in between; writing to a Vec cannot fail.
    let _ = out.write_fmt(args);
}

fn push_json_string(out: &mut Vec<u8>, text: &str) {
    // serde_json escapes exactly as JSON requires; writing to a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, text);
}

fn push_base64(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'"');
    let start = out.len();
    let encoded = base64::encoded_len(bytes.len(), true).unwrap_or(0);
    out.resize(start + encoded, 0);
    let written = STANDARD.encode_slice(bytes, &mut out[start..]).unwrap_or(0);
    out.truncate(start + written);
    out.push(b'"');
}

fn push_signed_byte(out: &mut Vec<u8>, byte: u8) {
    // Kafka's Java client, which AWS's poller is, sees header bytes as signed.
    let signed = byte as i8;
    if signed < 0 {
        out.push(b'-');
    }
    let magnitude = signed.unsigned_abs();
    if magnitude >= 100 {
        out.push(b'0' + magnitude / 100);
    }
    if magnitude >= 10 {
        out.push(b'0' + (magnitude / 10) % 10);
    }
    out.push(b'0' + magnitude % 10);
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lambda_events::event::kafka::KafkaEvent;
    use serde_json::Value;

    /// AWS's documented self-managed Kafka event ("Example event" in the Lambda developer
    /// guide's self-managed Apache Kafka chapter), as published.
    const AWS_SAMPLE: &str = r#"{
   "eventSource": "SelfManagedKafka",
   "bootstrapServers":"b-2.demo-cluster-1.a1bcde.c1.kafka.us-east-1.amazonaws.com:9092,b-1.demo-cluster-1.a1bcde.c1.kafka.us-east-1.amazonaws.com:9092",
   "records":{
      "mytopic-0":[
         {
            "topic":"mytopic",
            "partition":0,
            "offset":15,
            "timestamp":1545084650987,
            "timestampType":"CREATE_TIME",
            "key":"abcDEFghiJKLmnoPQRstuVWXyz1234==",
            "value":"SGVsbG8sIHRoaXMgaXMgYSB0ZXN0Lg==",
            "headers":[
               {
                  "headerKey":[
                     104,
                     101,
                     97,
                     100,
                     101,
                     114,
                     86,
                     97,
                     108,
                     117,
                     101
                  ]
               }
            ]
         }
      ]
   }
}"#;

    fn encode(record: &EventRecord<'_>, headers: &[(&str, Option<&[u8]>)]) -> Vec<u8> {
        let mut out = Vec::new();
        encode_record(&mut out, record, headers.iter().copied());
        out
    }

    fn lenient_base64(text: &str) -> Vec<u8> {
        use base64::engine::{GeneralPurpose, GeneralPurposeConfig};
        let engine = GeneralPurpose::new(
            &base64::alphabet::STANDARD,
            GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true),
        );
        engine.decode(text).unwrap()
    }

    #[test]
    fn the_event_matches_aws_documented_sample() {
        let sample: Value = serde_json::from_str(AWS_SAMPLE).unwrap();
        let sample_record = &sample["records"]["mytopic-0"][0];
        // The sample's key is not canonical base64 (its last character carries stray bits),
        // so no encoder reproduces it; the bytes it stands for are encoded and compared.
        let key = lenient_base64(sample_record["key"].as_str().unwrap());
        let value = STANDARD
            .decode(sample_record["value"].as_str().unwrap())
            .unwrap();
        let record = EventRecord {
            topic: "mytopic",
            partition: 0,
            offset: 15,
            timestamp_ms: 1_545_084_650_987,
            timestamp_type: TimestampType::CreateTime,
            key: Some(&key),
            value: Some(&value),
        };
        let encoded = encode(&record, &[("headerKey", Some(b"headerValue"))]);
        let frame = EventFrame::new(sample["bootstrapServers"].as_str().unwrap(), "mytopic", 0);
        let payload = frame.payload([encoded.as_slice()]);
        assert_eq!(payload.len(), frame.payload_len(1, encoded.len()));

        let mut ours: Value = serde_json::from_slice(&payload).unwrap();
        let mut expected = sample.clone();
        expected["records"]["mytopic-0"][0]["key"] = Value::String(STANDARD.encode(&key));
        assert_eq!(ours, expected);
        // Field order as AWS writes it, too.
        let text = String::from_utf8(payload).unwrap();
        let order = [
            "\"eventSource\"",
            "\"bootstrapServers\"",
            "\"records\"",
            "\"topic\"",
            "\"partition\"",
            "\"offset\"",
            "\"timestamp\"",
            "\"timestampType\"",
            "\"key\"",
            "\"value\"",
            "\"headers\"",
        ];
        let positions: Vec<usize> = order.iter().map(|f| text.find(f).unwrap()).collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{text}");
        assert!(!text.contains("eventSourceArn"));
        // And no field beyond the sample's.
        ours["records"]["mytopic-0"][0]
            .as_object_mut()
            .unwrap()
            .retain(|k, _| sample_record.get(k).is_none());
        assert_eq!(ours["records"]["mytopic-0"][0], serde_json::json!({}));
    }

    #[test]
    fn the_event_deserialises_into_aws_lambda_events_kafka_event() {
        let frame = EventFrame::new("127.0.0.1:9092,127.0.0.1:9093", "orders", 3);
        let a = encode(
            &EventRecord {
                topic: "orders",
                partition: 3,
                offset: 41,
                timestamp_ms: 1_700_000_000_123,
                timestamp_type: TimestampType::LogAppendTime,
                key: None,
                value: Some(b"\x00\xff binary"),
            },
            &[("h\"1", Some(&[0x00, 0x7f, 0x80, 0xff])), ("empty", None)],
        );
        let b = encode(
            &EventRecord {
                topic: "orders",
                partition: 3,
                offset: 42,
                timestamp_ms: 1_700_000_000_124,
                timestamp_type: TimestampType::CreateTime,
                key: Some(b"k"),
                value: None,
            },
            &[],
        );
        let payload = frame.payload([a.as_slice(), b.as_slice()]);
        let event: KafkaEvent = serde_json::from_slice(&payload).unwrap();
        assert_eq!(event.event_source.as_deref(), Some("SelfManagedKafka"));
        assert_eq!(event.event_source_arn, None);
        assert_eq!(
            event.bootstrap_servers.as_deref(),
            Some("127.0.0.1:9092,127.0.0.1:9093")
        );
        let records = &event.records["orders-3"];
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].topic.as_deref(), Some("orders"));
        assert_eq!((records[0].partition, records[0].offset), (3, 41));
        // aws_lambda_events reads milliseconds through an f64 and may lose the last one.
        let millis = records[0].timestamp.0.timestamp_millis();
        assert!((millis - 1_700_000_000_123).abs() <= 1, "{millis}");
        assert_eq!(
            records[0].timestamp_type.as_deref(),
            Some("LOG_APPEND_TIME")
        );
        assert_eq!(records[0].key, None);
        assert_eq!(
            STANDARD.decode(records[0].value.as_ref().unwrap()).unwrap(),
            b"\x00\xff binary"
        );
        assert_eq!(records[0].headers[0]["h\"1"], vec![0i8, 127, -128, -1]);
        assert_eq!(records[0].headers[1]["empty"], Vec::<i8>::new());
        assert_eq!(records[1].key.as_deref(), Some("aw=="));
        assert_eq!(records[1].value, None);
        assert!(records[1].headers.is_empty());
        // Null key and value are absent, as in AWS's events.
        let text = String::from_utf8(payload).unwrap();
        assert_eq!(text.matches("\"key\"").count(), 1);
        assert_eq!(text.matches("\"value\"").count(), 1);
    }

    #[test]
    fn every_byte_is_written_as_its_signed_value() {
        for byte in 0..=255u8 {
            let mut out = Vec::new();
            push_signed_byte(&mut out, byte);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                (byte as i8).to_string(),
                "{byte}"
            );
        }
    }

    #[test]
    fn payload_len_is_exact() {
        let frame = EventFrame::new("b:1", "t", 0);
        assert_eq!(
            frame.payload(std::iter::empty()).len(),
            frame.payload_len(0, 0)
        );
        let records: Vec<Vec<u8>> = (0..5).map(|i| vec![b'x'; i * 7 + 1]).collect();
        let bytes = records.iter().map(Vec::len).sum();
        let payload = frame.payload(records.iter().map(Vec::as_slice));
        assert_eq!(payload.len(), frame.payload_len(5, bytes));
    }
}
