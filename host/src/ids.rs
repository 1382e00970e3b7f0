//! Document ids: sortable by arrival, unique within a host.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// `<milliseconds since the epoch, hex>-<sequence, hex>`: ids sort by arrival time, and the
/// sequence keeps two documents of one millisecond apart.
pub fn new_document_id() -> String {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let sequence = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{millis:012x}-{sequence:06x}")
}
