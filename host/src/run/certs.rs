//! Expiry warnings while berth runs: the gauge follows each applied deployment, and a warning
//! line per certificate within the window is logged at start and once a day after.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::deploy::certs::{due, unix_now, CertificateRecord, DAY};
use crate::metrics::{CertificateExpiry, Metrics};

/// The certificates of the deployment in force, for the gauge and the daily warning.
pub struct CertificateWatch {
    metrics: Arc<Metrics>,
    records: Mutex<Vec<CertificateRecord>>,
    warn_days: u32,
}

impl CertificateWatch {
    pub fn new(metrics: Arc<Metrics>, warn_days: u32) -> Arc<Self> {
        Arc::new(Self {
            metrics,
            records: Mutex::new(Vec::new()),
            warn_days,
        })
    }

    /// A deployment was applied: its certificates replace the previous ones.
    pub fn update(&self, records: &[CertificateRecord]) {
        let expiries = records
            .iter()
            .filter_map(|r| {
                let details = r.details.as_ref().ok()?;
                Some(CertificateExpiry {
                    process: r.process.clone(),
                    role: r.role.clone(),
                    subject: details.subject.clone(),
                    not_after: details.not_after,
                })
            })
            .collect();
        self.metrics.set_certificates(expiries);
        *self.records.lock().unwrap_or_else(|p| p.into_inner()) = records.to_vec();
    }

    /// The certificates of the deployment in force.
    pub fn records(&self) -> Vec<CertificateRecord> {
        self.records
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// How many days before its end a certificate is due for renewal.
    pub fn warn_days(&self) -> u32 {
        self.warn_days
    }

    /// Log a warning for each certificate that expires within the window, or has expired.
    pub fn warn(&self) {
        let records = self
            .records
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        for (record, days_left) in due(&records, unix_now(), self.warn_days) {
            let Ok(details) = &record.details else {
                continue;
            };
            let what = if days_left < 0 {
                "certificate has EXPIRED"
            } else {
                "certificate expires soon"
            };
            tracing::warn!(
                process = %record.process,
                role = %record.role,
                subject = %details.subject,
                file = %record.file,
                days_left,
                "{what}: renew it and deploy the new one"
            );
        }
    }

    /// Warn now and then every day, for as long as berth runs.
    pub fn start_daily(self: Arc<Self>) {
        tokio::spawn(async move {
            loop {
                self.warn();
                tokio::time::sleep(Duration::from_secs(DAY as u64)).await;
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::certs::{Details, KeyState};

    fn record(subject: &str, not_after: i64) -> CertificateRecord {
        CertificateRecord {
            process: "in".into(),
            role: "partner-signature".into(),
            file: format!("{subject}.pem"),
            key_file: None,
            key: KeyState::NoKey,
            details: Ok(Details {
                subject: subject.into(),
                fingerprint: "x".into(),
                not_after,
            }),
        }
    }

    #[test]
    fn the_window_takes_expiring_and_expired_certificates_only() {
        let now = 1_000_000_000;
        let records = vec![
            record("soon", now + 10 * DAY),
            record("edge", now + 30 * DAY),
            record("gone", now - 2 * DAY),
            record("late", now + 90 * DAY),
        ];
        let due: Vec<(&str, i64)> = due(&records, now, 30)
            .into_iter()
            .map(|(r, d)| (r.file.as_str(), d))
            .collect();
        assert_eq!(due, [("soon.pem", 10), ("gone.pem", -2)]);
    }

    #[test]
    fn an_update_replaces_the_gauge() {
        let metrics = Arc::new(Metrics::new());
        let watch = CertificateWatch::new(Arc::clone(&metrics), 30);
        watch.update(&[record("a", unix_now() + DAY)]);
        assert!(metrics.render().contains("subject=\"a\""));
        watch.update(&[record("b", unix_now() + DAY)]);
        let text = metrics.render();
        assert!(
            text.contains("subject=\"b\"") && !text.contains("subject=\"a\""),
            "{text}"
        );
    }
}
