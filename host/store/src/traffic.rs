//! Traffic over time: how many documents each process received per time bucket, split by state
//! and answer, for the console's charts and the partners page. The store counts; what counts as
//! a failure or an unusual answer (an MDN disposition other than `processed`) is the host's call.

use crate::error::StoreError;
use crate::types::State;

/// Documents received in `[from, to)`, counted per `bucket_ms` from `from`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrafficQuery {
    /// Unix milliseconds, inclusive.
    pub from: i64,
    /// Unix milliseconds, exclusive.
    pub to: i64,
    /// The width of a bucket in milliseconds (at least 1).
    pub bucket_ms: i64,
}

impl TrafficQuery {
    /// Refuses a range or bucket that cannot be counted, before any backend sees it.
    pub fn check(&self) -> Result<(), StoreError> {
        if self.bucket_ms < 1 || self.to < self.from {
            return Err(StoreError::Invalid(format!(
                "traffic from {} to {} in buckets of {} ms",
                self.from, self.to, self.bucket_ms
            )));
        }
        Ok(())
    }
}

/// How many documents of one process, received in one bucket, are in one state with one answer.
/// Buckets, states and answers without documents are left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrafficCount {
    pub process: String,
    /// The bucket's number from [`TrafficQuery::from`]: it starts at `from + bucket * bucket_ms`.
    pub bucket: i64,
    pub state: State,
    /// The summary of the answer sent (`200`, `processed`, `processed/error: ...`), if any.
    pub answer: Option<String>,
    pub count: u64,
}
