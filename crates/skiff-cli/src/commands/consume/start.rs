//! Where reading starts: `--from-beginning`, `--offset N|-N|end`, `--from-time T`.

use std::time::{SystemTime, UNIX_EPOCH};

use skiff_client::{ClientError, KafkaClient, OffsetSpec};

/// `--offset`: an absolute offset, N before the end, the beginning or the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartOffset {
    Beginning,
    End,
    Absolute(i64),
    FromEnd(i64),
}

pub fn parse_start_offset(text: &str) -> Result<StartOffset, String> {
    match text {
        "beginning" | "earliest" | "start" => Ok(StartOffset::Beginning),
        "end" | "latest" => Ok(StartOffset::End),
        _ => match text.parse::<i64>() {
            Ok(n) if n >= 0 && !text.starts_with('-') => Ok(StartOffset::Absolute(n)),
            Ok(n) => Ok(StartOffset::FromEnd(
                n.unsigned_abs().min(i64::MAX as u64) as i64
            )),
            Err(_) => Err(format!(
                "{text:?} is not an offset (use a number, -N for N before the end, beginning or end)"
            )),
        },
    }
}

/// `--from-time`: RFC 3339 (`2024-05-01T12:00:00Z`), milliseconds since the epoch, or a time
/// relative to now such as `-1h`, `-30m`, `-1d12h`, `-90s`. Returns ms since the epoch.
pub fn parse_time(text: &str) -> Result<i64, String> {
    parse_time_at(text, now_ms())
}

fn parse_time_at(text: &str, now: i64) -> Result<i64, String> {
    let text = text.trim();
    if let Some(relative) = text
        .strip_prefix('-')
        .filter(|r| r.starts_with(|c: char| c.is_ascii_digit()))
    {
        if relative.chars().all(|c| c.is_ascii_digit()) && relative.len() > 6 {
            return Err(format!("{text:?}: a negative epoch time is not a time"));
        }
        return parse_duration_ms(relative)
            .map(|ms| now.saturating_sub(ms))
            .map_err(|why| format!("{text:?} is not a relative time ({why}); try -1h or -30m"));
    }
    if !text.is_empty() && text.chars().all(|c| c.is_ascii_digit()) {
        return text
            .parse::<i64>()
            .map_err(|_| format!("{text:?} is too large for milliseconds since the epoch"));
    }
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.timestamp_millis())
        .map_err(|e| {
            format!("{text:?} is not a time ({e}); use RFC 3339 like 2024-05-01T12:00:00Z or a relative time like -1h")
        })
}

/// `1h30m`, `90s`, `2d`, `500ms` → milliseconds.
fn parse_duration_ms(text: &str) -> Result<i64, String> {
    let mut total: i64 = 0;
    let mut rest = text;
    if rest.is_empty() {
        return Err("no duration".into());
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(format!("expected a number at {rest:?}"));
        }
        let number: i64 = rest[..digits]
            .parse()
            .map_err(|_| "number too large".to_owned())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let scale: i64 = match unit {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 7 * 86_400_000,
            "" => return Err("a number needs a unit (ms, s, m, h, d, w)".into()),
            other => return Err(format!("unknown unit {other:?}")),
        };
        total = number
            .checked_mul(scale)
            .and_then(|ms| total.checked_add(ms))
            .ok_or_else(|| "duration too large".to_owned())?;
    }
    Ok(total)
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Where each partition starts and (without --follow) ends.
pub struct PartitionRange {
    pub partition: i32,
    pub start: i64,
    /// The end offset when reading began.
    pub end: i64,
}

pub enum Start {
    Offset(StartOffset),
    Time(i64),
}

/// Resolves the start of each partition, clamped to what the partition holds.
pub async fn resolve(
    client: &KafkaClient,
    topic: &str,
    partitions: &[i32],
    start: Start,
) -> Result<Vec<PartitionRange>, ClientError> {
    let earliest = client
        .list_offsets(topic, partitions, OffsetSpec::Earliest)
        .await?;
    let latest = client
        .list_offsets(topic, partitions, OffsetSpec::Latest)
        .await?;
    let by_time = match start {
        Start::Time(ms) => Some(
            client
                .list_offsets(topic, partitions, OffsetSpec::Timestamp(ms))
                .await?,
        ),
        Start::Offset(_) => None,
    };
    let mut ranges = Vec::with_capacity(earliest.len());
    for (i, (first, end)) in earliest.iter().zip(&latest).enumerate() {
        let (first, end) = (first.offset, end.offset);
        let wanted = match (&start, &by_time) {
            (_, Some(found)) => match found.get(i).map(|f| f.offset) {
                Some(offset) if offset >= 0 => offset,
                // Nothing that recent: start at the end.
                _ => end,
            },
            (Start::Offset(StartOffset::Beginning), None) => first,
            (Start::Offset(StartOffset::End), None) => end,
            (Start::Offset(StartOffset::Absolute(n)), None) => *n,
            (Start::Offset(StartOffset::FromEnd(n)), None) => end.saturating_sub(*n),
            (Start::Time(_), None) => first,
        };
        ranges.push(PartitionRange {
            partition: earliest[i].partition,
            start: wanted.clamp(first, end.max(first)),
            end,
        });
    }
    Ok(ranges)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000_000;

    #[test]
    fn relative_times_count_back_from_now() {
        assert_eq!(parse_time_at("-1h", NOW).unwrap(), NOW - 3_600_000);
        assert_eq!(parse_time_at("-1h30m", NOW).unwrap(), NOW - 5_400_000);
        assert_eq!(parse_time_at("-2d", NOW).unwrap(), NOW - 172_800_000);
        assert_eq!(parse_time_at("-500ms", NOW).unwrap(), NOW - 500);
        assert!(
            parse_time_at("-1y", NOW)
                .unwrap_err()
                .contains("unknown unit")
        );
        assert!(
            parse_time_at("-5", NOW)
                .unwrap_err()
                .contains("needs a unit")
        );
    }

    #[test]
    fn absolute_times_are_rfc3339_or_epoch_millis() {
        assert_eq!(
            parse_time_at("2023-11-14T22:13:20Z", NOW).unwrap(),
            1_700_000_000_000
        );
        assert_eq!(
            parse_time_at("2023-11-14T23:13:20+01:00", NOW).unwrap(),
            1_700_000_000_000
        );
        assert_eq!(
            parse_time_at("1700000000000", NOW).unwrap(),
            1_700_000_000_000
        );
        assert!(
            parse_time_at("yesterday", NOW)
                .unwrap_err()
                .contains("RFC 3339")
        );
    }

    #[test]
    fn offsets_parse_in_every_form() {
        assert_eq!(parse_start_offset("42").unwrap(), StartOffset::Absolute(42));
        assert_eq!(parse_start_offset("-10").unwrap(), StartOffset::FromEnd(10));
        assert_eq!(parse_start_offset("end").unwrap(), StartOffset::End);
        assert_eq!(
            parse_start_offset("beginning").unwrap(),
            StartOffset::Beginning
        );
        assert!(parse_start_offset("soon").is_err());
    }
}
