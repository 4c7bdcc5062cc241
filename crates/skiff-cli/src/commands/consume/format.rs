//! One consumed record as a line of text or JSON.

use std::io::Write;

use serde_json::{Map, Value, json};
use skiff_client::ConsumedRecord;

use crate::output::put_bytes;

#[derive(Debug, Clone)]
pub struct TextOptions {
    pub print_keys: bool,
    pub print_offsets: bool,
    pub key_separator: String,
}

/// `[partition:offset ][key<SEP>]value\n`, bytes as they are.
pub fn write_text(
    out: &mut impl Write,
    record: &ConsumedRecord,
    options: &TextOptions,
) -> std::io::Result<()> {
    if options.print_offsets {
        write!(out, "{}:{} ", record.partition, record.offset)?;
    }
    if options.print_keys {
        out.write_all(record.key.as_deref().unwrap_or_default())?;
        out.write_all(options.key_separator.as_bytes())?;
    }
    out.write_all(record.value.as_deref().unwrap_or_default())?;
    out.write_all(b"\n")
}

/// One JSON object per line: topic, partition, offset, timestamp, key, value, headers.
pub fn write_json(
    out: &mut impl Write,
    record: &ConsumedRecord,
    force_base64: bool,
) -> std::io::Result<()> {
    let mut object = Map::new();
    object.insert("topic".into(), json!(&*record.topic));
    object.insert("partition".into(), json!(record.partition));
    object.insert("offset".into(), json!(record.offset));
    object.insert("timestamp".into(), json!(record.timestamp));
    put_bytes(&mut object, "key", record.key.as_deref(), force_base64);
    put_bytes(&mut object, "value", record.value.as_deref(), force_base64);
    let headers: Vec<Value> = record
        .headers
        .iter()
        .map(|(key, value)| {
            let mut header = Map::new();
            header.insert("key".into(), json!(key.as_str()));
            put_bytes(&mut header, "value", value.as_deref(), force_base64);
            Value::Object(header)
        })
        .collect();
    object.insert("headers".into(), Value::Array(headers));
    // io::Error::from keeps the writer's own error (a closed pipe stays BrokenPipe).
    serde_json::to_writer(&mut *out, &Value::Object(object)).map_err(std::io::Error::from)?;
    out.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use kafka_protocol::protocol::StrBytes;
    use std::sync::Arc;

    fn record() -> ConsumedRecord {
        let mut headers = skiff_client::Headers::new();
        headers.insert(
            StrBytes::from_static_str("h"),
            Some(Bytes::from_static(b"v")),
        );
        ConsumedRecord {
            topic: Arc::from("t"),
            partition: 2,
            offset: 7,
            timestamp: 1_000,
            log_append_time: false,
            key: Some(Bytes::from_static(b"k")),
            value: Some(Bytes::from_static(&[0xff, 0xfe])),
            headers,
        }
    }

    #[test]
    fn text_lines_carry_what_was_asked_for() {
        let mut out = Vec::new();
        let options = TextOptions {
            print_keys: true,
            print_offsets: true,
            key_separator: "=".into(),
        };
        write_text(&mut out, &record(), &options).unwrap();
        assert_eq!(out, b"2:7 k=\xff\xfe\n");
    }

    #[test]
    fn json_lines_have_every_field_and_base64_for_binary() {
        let mut out = Vec::new();
        write_json(&mut out, &record(), false).unwrap();
        let value: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            value,
            json!({"topic": "t", "partition": 2, "offset": 7, "timestamp": 1000, "key": "k",
                   "value": "//4=", "value_encoding": "base64",
                   "headers": [{"key": "h", "value": "v"}]})
        );
    }
}
