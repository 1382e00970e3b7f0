//! A latency histogram updated with atomics only, so observing never takes a lock.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the buckets, in nanoseconds so that placing an observation is an exact integer
/// comparison (no float rounding at a boundary). They span a fast local answer (1 ms) to an AS2
/// exchange with a slow plugin or partner (30 s); anything slower lands in `+Inf` only.
pub const BOUNDS_NANOS: [u64; 14] = [
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
    2_500_000_000,
    5_000_000_000,
    10_000_000_000,
    30_000_000_000,
];

/// The same bounds as the `le` label text, written out rather than formatted from floats so the
/// exposition shows `0.0025`, never a float artefact.
pub const BOUNDS_LABELS: [&str; 14] = [
    "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5",
    "10", "30",
];

const SLOTS: usize = BOUNDS_NANOS.len() + 1;

/// Per-bucket (not cumulative) counts; the last slot holds observations above every bound.
/// Cumulating happens at render time, which is rare, rather than on every observation.
#[derive(Default)]
pub struct Histogram {
    slots: [AtomicU64; SLOTS],
    sum_nanos: AtomicU64,
}

/// A copy of a histogram taken for rendering.
pub struct Snapshot {
    /// Cumulative counts, one per bound in `BOUNDS_NANOS`.
    pub cumulative: [u64; BOUNDS_NANOS.len()],
    /// Every observation: the `+Inf` bucket and `_count`, which are therefore always equal.
    pub count: u64,
    pub sum_seconds: f64,
}

impl Histogram {
    pub fn observe(&self, latency: Duration) {
        // Durations beyond u64 nanoseconds (584 years) are clamped rather than wrapped.
        let nanos = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX);
        // `le` is inclusive: an observation equal to a bound belongs to that bucket.
        let slot = BOUNDS_NANOS.partition_point(|&bound| bound < nanos);
        // Relaxed is enough: each value is a standalone tally, nothing else is published with it.
        self.slots[slot].fetch_add(1, Ordering::Relaxed);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> Snapshot {
        let mut cumulative = [0u64; BOUNDS_NANOS.len()];
        let mut running = 0u64;
        for (i, slot) in self.slots.iter().enumerate() {
            running += slot.load(Ordering::Relaxed);
            if let Some(c) = cumulative.get_mut(i) {
                *c = running;
            }
        }
        // `_count` is derived from the same loads as the buckets (not kept as its own counter), so
        // one rendering is self-consistent even while observations race with it. `_sum` may be a
        // few observations ahead or behind; Prometheus tolerates that.
        let sum_nanos = self.sum_nanos.load(Ordering::Relaxed);
        Snapshot {
            cumulative,
            count: running,
            sum_seconds: Duration::from_nanos(sum_nanos).as_secs_f64(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_match_bounds() {
        for (nanos, label) in BOUNDS_NANOS.iter().zip(BOUNDS_LABELS) {
            let seconds: f64 = label.parse().unwrap();
            assert_eq!((seconds * 1e9).round() as u64, *nanos, "{label}");
        }
        assert!(BOUNDS_NANOS.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn bounds_are_inclusive_and_overflow_goes_to_inf_only() {
        let h = Histogram::default();
        h.observe(Duration::ZERO);
        h.observe(Duration::from_millis(1)); // exactly on the first bound
        h.observe(Duration::from_nanos(1_000_001)); // just above it
        h.observe(Duration::from_secs(31));
        h.observe(Duration::MAX);
        let s = h.snapshot();
        assert_eq!(s.cumulative[0], 2);
        assert_eq!(s.cumulative[1], 3);
        assert_eq!(s.cumulative[BOUNDS_NANOS.len() - 1], 3);
        assert_eq!(s.count, 5);
    }
}
