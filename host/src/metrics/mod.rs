//! Counters, gauges and latency histograms for `/metrics`, rendered in the Prometheus text format.
//!
//! One `Metrics` is shared as `Arc<Metrics>` by every request task. The hot path is a read-locked
//! map lookup to find the listener's or process's entry and then atomic adds; a write lock is taken
//! only the first time a listener, process, status or disposition is seen.

#[cfg(test)]
mod exposition_check;
mod family;
mod histogram;
mod render;
#[cfg(test)]
mod tests;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use family::{Capped, Table};
use histogram::Histogram;

/// The `Content-Type` of a `/metrics` answer.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Listener states, in the order they are rendered.
/// (`Metrics::render` lives in render.rs, beside the format it writes.)
const STATES: [&str; 4] = ["listening", "paused", "errored", "stopped"];
/// Stored for a listener whose state was set to a name not in `STATES`: every gauge then reads 0.
const UNKNOWN_STATE: usize = usize::MAX;

/// Distinct HTTP statuses kept per listener. Connectors choose statuses, so this is a guard
/// rather than an expectation: a real listener answers with a handful.
const MAX_STATUSES: usize = 64;
/// Document outcomes are a fixed set of four; anything else the caller passes is kept, up to this.
const MAX_OUTCOMES: usize = 8;
/// Distinct AS2 disposition texts kept per process; further ones count as `other`.
const MAX_DISPOSITIONS: usize = 64;

pub struct Metrics {
    started: Instant,
    listeners: Table<ListenerEntry>,
    processes: Table<ProcessEntry>,
    states: Table<AtomicUsize>,
    plugin_load_failures: AtomicU64,
    store_bytes: AtomicU64,
}

struct ListenerEntry {
    statuses: Capped<u16>,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
    duration: Histogram,
}

impl Default for ListenerEntry {
    fn default() -> Self {
        ListenerEntry {
            statuses: Capped::new(MAX_STATUSES),
            bytes_in: AtomicU64::new(0),
            bytes_out: AtomicU64::new(0),
            duration: Histogram::default(),
        }
    }
}

struct ProcessEntry {
    outcomes: Capped<String>,
    duration: Histogram,
    dispositions: Capped<String>,
}

impl Default for ProcessEntry {
    fn default() -> Self {
        ProcessEntry {
            outcomes: Capped::new(MAX_OUTCOMES),
            duration: Histogram::default(),
            dispositions: Capped::new(MAX_DISPOSITIONS),
        }
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        Metrics {
            started: Instant::now(),
            listeners: Table::default(),
            processes: Table::default(),
            states: Table::default(),
            plugin_load_failures: AtomicU64::new(0),
            store_bytes: AtomicU64::new(0),
        }
    }

    /// One HTTP request answered on a listener (name = the process name, or "" when no process was
    /// chosen, e.g. 404).
    pub fn request(
        &self,
        listener: &str,
        status: u16,
        bytes_in: u64,
        bytes_out: u64,
        latency: Duration,
    ) {
        let entry = self.listeners.get(listener);
        entry.statuses.add(&status, 1);
        entry.bytes_in.fetch_add(bytes_in, Ordering::Relaxed);
        entry.bytes_out.fetch_add(bytes_out, Ordering::Relaxed);
        entry.duration.observe(latency);
    }

    /// A document's fate: "accepted" | "failed" | "duplicate" | "refused"; with processing latency.
    pub fn document(&self, process: &str, outcome: &str, latency: Duration) {
        let entry = self.processes.get(process);
        entry.outcomes.add(outcome, 1);
        entry.duration.observe(latency);
    }

    /// An AS2 answer by disposition text, e.g. "processed", "processed/error: decryption-failed".
    pub fn disposition(&self, process: &str, disposition: &str) {
        self.processes.get(process).dispositions.add(disposition, 1);
    }

    pub fn set_plugin_load_failures(&self, count: u64) {
        self.plugin_load_failures.store(count, Ordering::Relaxed);
    }

    pub fn set_store_bytes(&self, bytes: u64) {
        self.store_bytes.store(bytes, Ordering::Relaxed);
    }

    /// listening | paused | errored | stopped. Exported as `berth_listener_state{listener,state}`,
    /// 1 for the current state and 0 for the others, so `== 1` selects listeners in a state.
    pub fn set_listener_state(&self, listener: &str, state: &str) {
        let index = STATES
            .iter()
            .position(|s| *s == state)
            .unwrap_or(UNKNOWN_STATE);
        self.states.get(listener).store(index, Ordering::Relaxed);
    }
}
