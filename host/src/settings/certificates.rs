//! `certificates:` in berth.yaml: when the expiry warnings start.

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertificateSettings {
    /// Warn (a log line a day, `berth validate`) from this many days before a certificate the
    /// deployment uses expires.
    #[serde(default = "warn_days")]
    pub warn_days: u32,
}

impl Default for CertificateSettings {
    fn default() -> Self {
        Self {
            warn_days: warn_days(),
        }
    }
}

/// Partners renew every year or two and agree on dates weeks ahead: a month leaves time.
fn warn_days() -> u32 {
    30
}
