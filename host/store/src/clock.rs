//! Wall-clock time as the store records it: unix milliseconds, which every SQL backend stores as
//! a plain BIGINT and compares without time-zone surprises.

use std::time::{SystemTime, UNIX_EPOCH};

pub(crate) fn now_millis() -> i64 {
    // A clock before 1970 is a broken machine; recording 0 beats refusing the document.
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
