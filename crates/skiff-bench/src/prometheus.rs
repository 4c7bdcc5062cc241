//! Just enough of the Prometheus text exposition format to read one counter family: the
//! broker's object store requests by kind. Unknown lines are skipped, never fatal, because
//! the endpoint belongs to another program and may carry anything.

use std::collections::BTreeMap;

/// The counter the broker exposes, one series per `kind` label value.
pub const OBJECT_STORE_REQUESTS: &str = "skiff_object_store_requests_total";

/// Requests by kind (`put`, `get`, `get_range`, `list`, `delete`), summed over any other
/// labels, as read from one scrape.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RequestCounts {
    pub by_kind: BTreeMap<String, f64>,
}

impl RequestCounts {
    /// What happened between `before` and `self`. A counter that went down was reset (the
    /// broker restarted), so its whole current value is what happened since.
    pub fn since(&self, before: &RequestCounts) -> BTreeMap<String, u64> {
        self.by_kind
            .iter()
            .map(|(kind, &after)| {
                let earlier = before.by_kind.get(kind).copied().unwrap_or(0.0);
                let delta = if after >= earlier {
                    after - earlier
                } else {
                    after
                };
                (kind.clone(), delta.round() as u64)
            })
            .collect()
    }
}

/// Reads [`OBJECT_STORE_REQUESTS`] from a scrape; `None` when the metric is not there.
pub fn object_store_requests(text: &str) -> Option<RequestCounts> {
    let mut counts = RequestCounts::default();
    let mut seen = false;
    for line in text.lines() {
        let Some(sample) = parse_sample(line) else {
            continue;
        };
        if sample.name != OBJECT_STORE_REQUESTS {
            continue;
        }
        let Some(kind) = sample.label("kind") else {
            continue;
        };
        seen = true;
        *counts.by_kind.entry(kind.to_owned()).or_default() += sample.value;
    }
    seen.then_some(counts)
}

/// One `name{labels} value [timestamp]` line.
#[derive(Debug, PartialEq)]
struct Sample<'a> {
    name: &'a str,
    labels: Vec<(&'a str, String)>,
    value: f64,
}

impl Sample<'_> {
    fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// Parses one sample line; `None` for comments, blanks, malformed lines and values that are
/// not finite numbers.
fn parse_sample(line: &str) -> Option<Sample<'_>> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let name_end = line
        .find(|c: char| c == '{' || c.is_whitespace())
        .unwrap_or(line.len());
    let (name, mut rest) = line.split_at(name_end);
    if name.is_empty() {
        return None;
    }
    let mut labels = Vec::new();
    if let Some(after_brace) = rest.strip_prefix('{') {
        let (parsed, after_labels) = parse_labels(after_brace)?;
        labels = parsed;
        rest = after_labels;
    }
    let value_text = rest.split_whitespace().next()?;
    let value: f64 = value_text.parse().ok()?;
    value.is_finite().then_some(Sample {
        name,
        labels,
        value,
    })
}

/// Parses `k="v",k2="v2"}` (the opening brace already consumed); returns the labels and the
/// text after the closing brace.
fn parse_labels(mut text: &str) -> Option<(Vec<(&str, String)>, &str)> {
    let mut labels = Vec::new();
    loop {
        text = text.trim_start();
        if let Some(rest) = text.strip_prefix('}') {
            return Some((labels, rest));
        }
        let eq = text.find('=')?;
        let key = text[..eq].trim();
        let after_eq = text[eq + 1..].trim_start();
        let quoted = after_eq.strip_prefix('"')?;
        let (value, rest) = parse_quoted(quoted)?;
        labels.push((key, value));
        text = rest.trim_start();
        text = text.strip_prefix(',').unwrap_or(text);
    }
}

/// Reads a label value up to its closing quote, undoing `\\`, `\"` and `\n`.
fn parse_quoted(text: &str) -> Option<(String, &str)> {
    let mut value = String::new();
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((value, &text[i + 1..])),
            '\\' => match chars.next()?.1 {
                'n' => value.push('\n'),
                other => value.push(other),
            },
            other => value.push(other),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCRAPE: &str = r#"
# HELP skiff_object_store_requests_total Object store requests by kind.
# TYPE skiff_object_store_requests_total counter
skiff_object_store_requests_total{kind="put"} 12
skiff_object_store_requests_total{kind="get",store="s3"} 3
skiff_object_store_requests_total{store="file",kind="get"} 4 1700000000000
skiff_object_store_requests_total{ kind = "get_range" , note="a \"quoted\}, value\\" } 2.5e1
skiff_object_store_requests_total_created{kind="put"} 1700000000
skiff_object_store_requests_total 99
skiff_object_store_requests_total{kind="list"} NaN
skiff_object_store_requests_total{kind="delete" garbage
skiff_kafka_requests_total{api="produce"} 1000
"#;

    #[test]
    fn reads_the_counter_by_kind_and_sums_other_labels() {
        let counts = object_store_requests(SCRAPE).unwrap();
        let expected: BTreeMap<String, f64> = [("put", 12.0), ("get", 7.0), ("get_range", 25.0)]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        assert_eq!(counts.by_kind, expected);
    }

    #[test]
    fn a_missing_metric_is_not_reported() {
        assert_eq!(object_store_requests("# nothing\nother_total 5\n"), None);
        assert_eq!(object_store_requests(""), None);
        assert_eq!(object_store_requests("\u{0}\u{ffff}{{{\"\n}}} 1"), None);
    }

    #[test]
    fn deltas_subtract_and_survive_counter_resets() {
        let before = object_store_requests("skiff_object_store_requests_total{kind=\"put\"} 10\nskiff_object_store_requests_total{kind=\"get\"} 50").unwrap();
        let after = object_store_requests("skiff_object_store_requests_total{kind=\"put\"} 25\nskiff_object_store_requests_total{kind=\"get\"} 3\nskiff_object_store_requests_total{kind=\"list\"} 1").unwrap();
        let delta = after.since(&before);
        assert_eq!(delta.get("put"), Some(&15));
        assert_eq!(
            delta.get("get"),
            Some(&3),
            "a reset counter counts from zero"
        );
        assert_eq!(delta.get("list"), Some(&1));
    }

    #[test]
    fn label_values_unescape() {
        let sample = parse_sample(r#"m{a="x\\y\"z\n"} 1"#).unwrap();
        assert_eq!(sample.label("a"), Some("x\\y\"z\n"));
        assert_eq!(sample.value, 1.0);
    }
}
