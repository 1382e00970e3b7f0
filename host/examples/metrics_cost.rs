//! What the metrics cost on the request path: nanoseconds per call of `Metrics::request` and
//! `Metrics::document` with two threads updating one listener, the way two cores serve one busy
//! listener. Run with `cargo run --release -p berth-host --example metrics_cost`; prints the
//! minimum and median of 9 rounds of 2 million calls per thread.

use std::hint::black_box;
use std::thread;
use std::time::{Duration, Instant};

use berth_host::metrics::Metrics;

const THREADS: usize = 2;
const CALLS: u64 = 2_000_000;
const ROUNDS: usize = 9;

/// Wall time per call of one thread while `THREADS` threads make `CALLS` calls each.
fn round(call: &(impl Fn(u64) + Sync)) -> f64 {
    let start = Instant::now();
    thread::scope(|s| {
        for _ in 0..THREADS {
            s.spawn(|| (0..CALLS).for_each(|i| call(black_box(i))));
        }
    });
    start.elapsed().as_nanos() as f64 / CALLS as f64
}

fn report(name: &str, call: impl Fn(u64) + Sync) {
    let mut ns: Vec<f64> = (0..ROUNDS).map(|_| round(&call)).collect();
    ns.sort_by(f64::total_cmp);
    println!(
        "{name}: min {:.1} ns, median {:.1} ns per call",
        ns[0],
        ns[ROUNDS / 2]
    );
}

fn main() {
    let metrics = Metrics::new();
    // One status in sixteen differs, as an error answer would, and latencies spread over the
    // first buckets.
    report("request()", |i| {
        let status = if i % 16 == 0 { 500 } else { 200 };
        let latency = Duration::from_micros(i % 3000);
        metrics.request("orders", status, 1000, 300, latency);
    });
    report("document()", |i| {
        metrics.document("orders", "accepted", Duration::from_micros(i % 3000));
    });
}
