use std::time::{Duration, SystemTime};

use chrono::DateTime;
use object_store::path::Path;
use ulid::Ulid;

/// A fresh object path for one flush: `segments/<yyyy-mm-dd>/<broker-id>-<ulid>.seg`,
/// relative to the store prefix.
///
/// The date directory keeps listings for garbage collection and lifecycle rules cheap; the
/// ULID makes paths unique and sort by creation time within a broker.
pub fn segment_path(broker_id: i32, now_ms: i64) -> Path {
    // A clock before 1970 is a broken clock; clamping keeps the path well-formed.
    let millis = u64::try_from(now_ms).unwrap_or(0);
    let day = DateTime::from_timestamp_millis(now_ms.max(0))
        .unwrap_or(DateTime::UNIX_EPOCH)
        .format("%Y-%m-%d")
        .to_string();
    let ulid = Ulid::from_datetime(SystemTime::UNIX_EPOCH + Duration::from_millis(millis));
    let file = format!("{broker_id}-{ulid}.seg");
    Path::from_iter(["segments", day.as_str(), file.as_str()])
}
