//! Gauges whose value is worked out when `/metrics` is scraped rather than kept as a number:
//! the listener states and the uptime.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use prometheus_client::encoding::{EncodeMetric, MetricEncoder};
use prometheus_client::metrics::MetricType;

use super::entries::Table;

/// Listener states, in the order they are rendered.
pub const STATES: [&str; 4] = ["listening", "paused", "errored", "stopped"];
/// Stored for a listener whose state was set to a name not in `STATES`: every gauge then reads 0.
pub const UNKNOWN_STATE: usize = usize::MAX;

/// `berth_listener_state{listener,state}`: per listener, 1 for its current state and 0 for the
/// other three. Each listener keeps its state as one index, so a scrape always sees exactly one
/// state at 1 (or none, for an unknown state); four gauges set one by one could show two.
#[derive(Debug, Default)]
pub struct ListenerStates(pub Arc<Table<AtomicUsize>>);

impl EncodeMetric for ListenerStates {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let mut result = Ok(());
        self.0.for_each(|listener, current| {
            let current = current.load(Ordering::Relaxed);
            for (index, state) in STATES.iter().enumerate() {
                let labels = [("listener", listener), ("state", state)];
                let value = i64::from(index == current);
                result = result.and_then(|()| encoder.encode_family(&labels)?.encode_gauge(&value));
            }
        });
        result
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Gauge
    }
}

/// `berth_uptime_seconds`, read from the clock at each scrape.
#[derive(Debug)]
pub struct Uptime(pub Instant);

impl EncodeMetric for Uptime {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        encoder.encode_gauge(&self.0.elapsed().as_secs_f64())
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Gauge
    }
}

/// A family rendered with its `# HELP` and `# TYPE` even before it has a series (the crate skips
/// empty families), so a scraper sees every metric berth offers from the first scrape.
#[derive(Debug)]
pub struct Announced<M>(pub M);

impl<M: EncodeMetric> EncodeMetric for Announced<M> {
    fn encode(&self, encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        self.0.encode(encoder)
    }

    fn metric_type(&self) -> MetricType {
        self.0.metric_type()
    }
}

/// One certificate's labels and end of validity (Unix seconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateExpiry {
    pub process: String,
    pub role: String,
    pub subject: String,
    pub not_after: i64,
}

/// `berth_certificate_expiry_seconds{process,role,subject}`: the certificates are replaced on
/// each apply, and the seconds left are worked out from the clock at each scrape, so the value
/// never goes stale between deployments.
#[derive(Debug, Default)]
pub struct CertificateExpiries(pub Arc<std::sync::RwLock<Vec<CertificateExpiry>>>);

impl EncodeMetric for CertificateExpiries {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let certificates = self.0.read().unwrap_or_else(|p| p.into_inner());
        for c in certificates.iter() {
            let labels = [
                ("process", c.process.as_str()),
                ("role", c.role.as_str()),
                ("subject", c.subject.as_str()),
            ];
            encoder
                .encode_family(&labels)?
                .encode_gauge(&(c.not_after - now))?;
        }
        Ok(())
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Gauge
    }
}
