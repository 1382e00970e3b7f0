//! Writing the Prometheus text exposition format, version 0.0.4:
//! <https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format>.

use std::fmt::{Display, Write};

use std::sync::atomic::Ordering;

use super::histogram::{Snapshot, BOUNDS_LABELS};
use super::{Metrics, STATES};

impl Metrics {
    /// Everything, in the Prometheus text exposition format 0.0.4. Families come in a fixed order
    /// and series sorted by label, so successive scrapes are easy to diff.
    pub fn render(&self) -> String {
        let mut out = Exposition::default();
        let listeners = self.listeners.snapshot();
        let processes = self.processes.snapshot();

        out.family(
            "berth_requests_total",
            Kind::Counter,
            "HTTP requests answered, by listener (\"\" when no process was chosen) and status.",
        );
        for (name, entry) in &listeners {
            let (statuses, other) = entry.statuses.snapshot();
            for (status, count) in statuses {
                let status = status.to_string();
                out.sample(
                    "berth_requests_total",
                    &[("listener", name), ("status", &status)],
                    count,
                );
            }
            if other > 0 {
                out.sample(
                    "berth_requests_total",
                    &[("listener", name), ("status", "other")],
                    other,
                );
            }
        }

        out.family(
            "berth_request_bytes_total",
            Kind::Counter,
            "HTTP body bytes received (in) and sent (out), by listener.",
        );
        for (name, entry) in &listeners {
            for (direction, counter) in [("in", &entry.bytes_in), ("out", &entry.bytes_out)] {
                let labels = [("listener", name.as_str()), ("direction", direction)];
                out.sample(
                    "berth_request_bytes_total",
                    &labels,
                    counter.load(Ordering::Relaxed),
                );
            }
        }

        out.family(
            "berth_request_duration_seconds",
            Kind::Histogram,
            "Time from request to answer, by listener.",
        );
        for (name, entry) in &listeners {
            let snapshot = entry.duration.snapshot();
            out.histogram(
                "berth_request_duration_seconds",
                &[("listener", name)],
                &snapshot,
            );
        }

        out.family(
            "berth_documents_total",
            Kind::Counter,
            "Documents by process and outcome (accepted, failed, duplicate, refused).",
        );
        for (name, entry) in &processes {
            let (outcomes, other) = entry.outcomes.snapshot();
            for (outcome, count) in &outcomes {
                out.sample(
                    "berth_documents_total",
                    &[("process", name), ("outcome", outcome)],
                    count,
                );
            }
            if other > 0 {
                out.sample(
                    "berth_documents_total",
                    &[("process", name), ("outcome", "other")],
                    other,
                );
            }
        }

        out.family(
            "berth_document_duration_seconds",
            Kind::Histogram,
            "Time to process a document, by process.",
        );
        for (name, entry) in &processes {
            let snapshot = entry.duration.snapshot();
            out.histogram(
                "berth_document_duration_seconds",
                &[("process", name)],
                &snapshot,
            );
        }

        out.family(
            "berth_as2_dispositions_total",
            Kind::Counter,
            "AS2 MDN dispositions sent, by process and disposition text (\"other\" past 64 distinct).",
        );
        for (name, entry) in &processes {
            let (dispositions, other) = entry.dispositions.snapshot();
            for (disposition, count) in &dispositions {
                let labels = [("process", name.as_str()), ("disposition", disposition)];
                out.sample("berth_as2_dispositions_total", &labels, count);
            }
            if other > 0 {
                let labels = [("process", name.as_str()), ("disposition", "other")];
                out.sample("berth_as2_dispositions_total", &labels, other);
            }
        }

        out.family(
            "berth_listener_state",
            Kind::Gauge,
            "1 for the listener's current state (listening, paused, errored, stopped), else 0.",
        );
        for (name, current) in self.states.snapshot() {
            let current = current.load(Ordering::Relaxed);
            for (index, state) in STATES.iter().enumerate() {
                let value = u8::from(index == current);
                out.sample(
                    "berth_listener_state",
                    &[("listener", &name), ("state", state)],
                    value,
                );
            }
        }

        out.family(
            "berth_plugin_load_failures",
            Kind::Gauge,
            "Plugin libraries that were found but refused at the last load.",
        );
        let failures = self.plugin_load_failures.load(Ordering::Relaxed);
        out.sample("berth_plugin_load_failures", &[], failures);

        out.family(
            "berth_store_bytes",
            Kind::Gauge,
            "Size of the message store on disk, in bytes.",
        );
        out.sample(
            "berth_store_bytes",
            &[],
            self.store_bytes.load(Ordering::Relaxed),
        );

        out.family(
            "berth_uptime_seconds",
            Kind::Gauge,
            "Seconds since the host started.",
        );
        let uptime = self.started.elapsed().as_secs_f64();
        out.sample_f64("berth_uptime_seconds", &[], uptime);

        out.finish()
    }
}

/// Metric kinds, as the `# TYPE` line spells them.
#[derive(Clone, Copy)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// Builds the exposition text. Families are written whole, one after the other, as the format
/// requires (all samples of a metric together, after its `# HELP` and `# TYPE`).
#[derive(Default)]
pub struct Exposition {
    out: String,
}

impl Exposition {
    /// `# HELP` and `# TYPE` for a family. Emitted even when the family has no samples yet, so a
    /// scraper sees every metric berth offers from the first scrape.
    pub fn family(&mut self, name: &str, kind: Kind, help: &str) {
        self.out.push_str("# HELP ");
        self.out.push_str(name);
        self.out.push(' ');
        escape_help(&mut self.out, help);
        self.out.push_str("\n# TYPE ");
        self.out.push_str(name);
        self.out.push(' ');
        self.out.push_str(kind.as_str());
        self.out.push('\n');
    }

    /// One sample line: `name{label="value",...} value`.
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl Display) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (label, value)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                self.out.push_str(label);
                self.out.push_str("=\"");
                escape_label_value(&mut self.out, value);
                self.out.push('"');
            }
            self.out.push('}');
        }
        // Writing into a String cannot fail.
        let _ = writeln!(self.out, " {value}");
    }

    /// A float sample. Rust's `Display` for f64 never uses exponent notation, which the format
    /// accepts either way, but spells infinity `inf`, which it does not.
    pub fn sample_f64(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        if value.is_infinite() {
            let text = if value > 0.0 { "+Inf" } else { "-Inf" };
            self.sample(name, labels, text);
        } else {
            self.sample(name, labels, value);
        }
    }

    /// The `_bucket`, `_sum` and `_count` samples of one histogram, `le` added after `labels`.
    pub fn histogram(&mut self, name: &str, labels: &[(&str, &str)], snapshot: &Snapshot) {
        let bucket = format!("{name}_bucket");
        let mut with_le: Vec<(&str, &str)> = labels.to_vec();
        with_le.push(("le", ""));
        let le = with_le.len() - 1;
        for (bound, count) in BOUNDS_LABELS.iter().zip(snapshot.cumulative) {
            with_le[le].1 = bound;
            self.sample(&bucket, &with_le, count);
        }
        with_le[le].1 = "+Inf";
        self.sample(&bucket, &with_le, snapshot.count);
        self.sample_f64(&format!("{name}_sum"), labels, snapshot.sum_seconds);
        self.sample(&format!("{name}_count"), labels, snapshot.count);
    }

    pub fn finish(self) -> String {
        self.out
    }
}

/// Label values escape backslash, double quote and line feed; every other character, including
/// any UTF-8, is written as is.
pub fn escape_label_value(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// Help text escapes only backslash and line feed (a quote is fine there).
fn escape_help(out: &mut String, help: &str) {
    for c in help.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}
