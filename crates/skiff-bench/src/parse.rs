//! Parsers for the flag values people type: sizes, durations, rates and `key=value` pairs.

use std::time::Duration;

/// An offered-rate cap, as typed: records per second or bytes per second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Throughput {
    RecordsPerSec(f64),
    BytesPerSec(f64),
}

impl Throughput {
    /// The cap in records per second for records of `record_size` bytes.
    pub fn records_per_sec(self, record_size: usize) -> f64 {
        match self {
            Throughput::RecordsPerSec(rate) => rate,
            // A zero-byte record still costs one send, so count it as one byte.
            Throughput::BytesPerSec(rate) => rate / record_size.max(1) as f64,
        }
    }
}

/// Parses `50000` or `50000rec/s` (records per second), or a byte rate such as `20MB/s`,
/// `16MiB/s`, `500KB/s` or `1GB/s` (decimal units are powers of 1000, binary of 1024).
pub fn parse_throughput(text: &str) -> Result<Throughput, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let rate: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a rate (try 50000 for records/s or 20MB/s)"))?;
    if !rate.is_finite() || rate <= 0.0 {
        return Err(format!("{text:?}: the rate must be above zero"));
    }
    let unit = unit.trim().to_ascii_lowercase();
    let unit = unit.strip_suffix("/s").unwrap_or(&unit);
    let bytes_per_unit: f64 = match unit {
        "" | "rec" | "records" => return Ok(Throughput::RecordsPerSec(rate)),
        "b" => 1.0,
        "kb" => 1e3,
        "mb" => 1e6,
        "gb" => 1e9,
        "kib" => 1024.0,
        "mib" => 1024.0 * 1024.0,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        other => {
            return Err(format!(
                "unknown rate unit {other:?} (use records/s like 50000, or B/s, KB/s, MB/s, \
                 GB/s, KiB/s, MiB/s, GiB/s)"
            ));
        }
    };
    Ok(Throughput::BytesPerSec(rate * bytes_per_unit))
}

/// Parses a byte size such as `1024`, `64KiB`, `8MiB`, `1GiB` or `500MB` (decimal). The `skiff`
/// command's size flags use it too.
pub fn parse_size(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let number: usize = digits
        .parse()
        .map_err(|_| format!("{text:?} is not a size (try 1024 or 1KiB)"))?;
    let multiplier: usize = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kib" | "k" => 1 << 10,
        "mib" | "m" => 1 << 20,
        "gib" | "g" => 1 << 30,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        other => {
            return Err(format!(
                "unknown size unit {other:?} (use B, KiB, MiB, GiB, KB, MB or GB)"
            ));
        }
    };
    number
        .checked_mul(multiplier)
        .ok_or_else(|| format!("{text:?} is too large"))
}

/// Parses a duration such as `30s`, `2m`, `1h`, `500ms` or `1.5s`; a bare number is seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration (try 30s, 2m or 500ms)"))?;
    let seconds_per_unit = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "s" | "sec" | "secs" => 1.0,
        "ms" => 1e-3,
        "m" | "min" | "mins" => 60.0,
        "h" => 3600.0,
        other => {
            return Err(format!(
                "unknown duration unit {other:?} (use ms, s, m or h)"
            ));
        }
    };
    Duration::try_from_secs_f64(value * seconds_per_unit)
        .map_err(|_| format!("{text:?} is not a usable duration"))
}

/// Parses `key=value` (the value may contain `=`).
pub fn parse_key_value(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => {
            Ok((key.trim().to_owned(), value.to_owned()))
        }
        _ => Err(format!("{text:?} is not key=value")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_rates_are_records_and_suffixed_rates_are_bytes() {
        assert_eq!(
            parse_throughput("50000").unwrap(),
            Throughput::RecordsPerSec(50_000.0)
        );
        assert_eq!(
            parse_throughput("50000rec/s").unwrap(),
            Throughput::RecordsPerSec(50_000.0)
        );
        assert_eq!(
            parse_throughput("20MB/s").unwrap(),
            Throughput::BytesPerSec(20e6)
        );
        assert_eq!(
            parse_throughput("16MiB/s").unwrap(),
            Throughput::BytesPerSec(16.0 * 1024.0 * 1024.0)
        );
        assert_eq!(
            parse_throughput("1.5 GB").unwrap(),
            Throughput::BytesPerSec(1.5e9)
        );
    }

    #[test]
    fn byte_rates_become_record_rates_by_record_size() {
        let rate = parse_throughput("20MB/s").unwrap();
        assert_eq!(rate.records_per_sec(1000), 20_000.0);
        assert_eq!(rate.records_per_sec(0), 20e6);
        assert_eq!(Throughput::RecordsPerSec(7.0).records_per_sec(1 << 20), 7.0);
    }

    #[test]
    fn bad_rates_say_what_is_expected() {
        assert!(parse_throughput("fast").unwrap_err().contains("not a rate"));
        assert!(parse_throughput("0").unwrap_err().contains("above zero"));
        assert!(
            parse_throughput("5 parsecs/s")
                .unwrap_err()
                .contains("unknown rate unit")
        );
    }

    #[test]
    fn durations_take_common_units() {
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("1.5").unwrap(), Duration::from_millis(1500));
        assert!(
            parse_duration("soon")
                .unwrap_err()
                .contains("not a duration")
        );
        assert!(parse_duration("3 weeks").unwrap_err().contains("unit"));
    }

    #[test]
    fn sizes_take_binary_and_decimal_units() {
        assert_eq!(parse_size("1KiB").unwrap(), 1024);
        assert_eq!(parse_size("1MB").unwrap(), 1_000_000);
        assert_eq!(parse_size("100").unwrap(), 100);
        assert_eq!(parse_size("8MiB").unwrap(), 8 << 20);
        assert_eq!(parse_size("1gib").unwrap(), 1 << 30);
        assert_eq!(parse_size("500MB").unwrap(), 500_000_000);
        assert_eq!(parse_size("64 KiB").unwrap(), 64 << 10);
        assert!(parse_size("99999999999999999999GiB").is_err());
    }

    #[test]
    fn bad_sizes_say_what_is_expected() {
        assert!(parse_size("big").unwrap_err().contains("not a size"));
        assert!(
            parse_size("5 parsecs")
                .unwrap_err()
                .contains("unknown size unit")
        );
    }

    #[test]
    fn properties_split_at_the_first_equals_sign() {
        assert_eq!(
            parse_key_value("a=b=c").unwrap(),
            ("a".to_owned(), "b=c".to_owned())
        );
        assert!(parse_key_value("=b").is_err());
        assert!(parse_key_value("ab").is_err());
    }
}
