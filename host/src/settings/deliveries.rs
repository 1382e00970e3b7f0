//! `deliveries:` in berth.yaml: how berth retries the requests it sends after answering
//! (asynchronous MDNs), which wait in the store's outbox until delivered or given up.

use std::time::Duration;

use serde::Deserialize;

/// The retry schedule of deliveries: the wait after a failed attempt starts at
/// `first_retry_seconds` and doubles up to `max_retry_seconds`; a delivery not made within
/// `give_up_after_seconds` of the answer that promised it is given up, recorded as failed.
///
/// The defaults try for four hours: about ten attempts in the first quarter of an hour (a
/// partner's server restarting, a proxy's hiccup), then one every quarter of an hour, which
/// rides out a maintenance window. Longer helps little: a sender that has had no MDN for hours
/// resends the message (RFC 4130's AS2 reliability), and the resend is answered from the store.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliverySettings {
    /// Seconds before the second attempt; each later wait is twice the one before.
    #[serde(default = "first_retry")]
    pub first_retry_seconds: u64,
    /// The longest wait between two attempts, in seconds.
    #[serde(default = "max_retry")]
    pub max_retry_seconds: u64,
    /// A delivery not made this many seconds after its answer is given up (failed).
    #[serde(default = "give_up_after")]
    pub give_up_after_seconds: u64,
    /// How long one attempt may take, in seconds, from connecting to the partner's answer.
    #[serde(default = "timeout")]
    pub timeout_seconds: u64,
    /// How often berth looks for deliveries whose retry is due, or that another node
    /// committed, or whose claimer stopped. A delivery committed on this node goes at once.
    #[serde(default = "poll")]
    pub poll_seconds: u64,
}

impl DeliverySettings {
    pub fn first_retry(&self) -> Duration {
        Duration::from_secs(self.first_retry_seconds)
    }
    pub fn max_retry(&self) -> Duration {
        Duration::from_secs(self.max_retry_seconds)
    }
    pub fn give_up_after(&self) -> Duration {
        Duration::from_secs(self.give_up_after_seconds)
    }
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_seconds)
    }
    pub fn poll(&self) -> Duration {
        Duration::from_secs(self.poll_seconds)
    }

    /// The first problem of these settings, as (JSON pointer, message).
    pub fn problem(&self) -> Option<(&'static str, String)> {
        for (pointer, seconds) in [
            ("/deliveries/first_retry_seconds", self.first_retry_seconds),
            (
                "/deliveries/give_up_after_seconds",
                self.give_up_after_seconds,
            ),
            ("/deliveries/timeout_seconds", self.timeout_seconds),
            ("/deliveries/poll_seconds", self.poll_seconds),
        ] {
            if seconds == 0 {
                return Some((pointer, "must be at least 1 second".into()));
            }
        }
        if self.max_retry_seconds < self.first_retry_seconds {
            return Some((
                "/deliveries/max_retry_seconds",
                format!(
                    "must be at least first_retry_seconds ({})",
                    self.first_retry_seconds
                ),
            ));
        }
        None
    }
}

impl Default for DeliverySettings {
    fn default() -> Self {
        Self {
            first_retry_seconds: first_retry(),
            max_retry_seconds: max_retry(),
            give_up_after_seconds: give_up_after(),
            timeout_seconds: timeout(),
            poll_seconds: poll(),
        }
    }
}

fn first_retry() -> u64 {
    10
}
fn max_retry() -> u64 {
    15 * 60
}
fn give_up_after() -> u64 {
    4 * 60 * 60
}
/// As long as the former in-memory sender allowed: an MDN receiver that verifies a signature
/// and writes to disk before it answers can be slow under load.
fn timeout() -> u64 {
    60
}
fn poll() -> u64 {
    5
}

#[cfg(test)]
mod tests {
    use crate::settings::load;

    fn settings(yaml: &str) -> Result<super::DeliverySettings, berth_process::Diagnostic> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("berth.yaml"), yaml).unwrap();
        load(dir.path()).map(|s| s.deliveries)
    }

    #[test]
    fn defaults_retry_for_four_hours_and_fields_are_checked() {
        let d = settings("").unwrap();
        assert_eq!(d.give_up_after_seconds, 4 * 3600);
        assert_eq!((d.first_retry_seconds, d.max_retry_seconds), (10, 900));
        let d = settings("deliveries:\n  first_retry_seconds: 1\n  give_up_after_seconds: 5\n")
            .unwrap();
        assert_eq!((d.first_retry_seconds, d.give_up_after_seconds), (1, 5));
        let e = settings("deliveries:\n  poll_seconds: 0\n").unwrap_err();
        assert_eq!(
            (e.field.as_str(), e.line),
            ("deliveries.poll_seconds", Some(2)),
            "{e}"
        );
        let e = settings("deliveries:\n  first_retry_seconds: 60\n  max_retry_seconds: 30\n")
            .unwrap_err();
        assert_eq!(e.field, "deliveries.max_retry_seconds", "{e}");
        assert!(e.message.contains("first_retry_seconds"), "{e}");
        let e = settings("deliveries:\n  retries: 3\n").unwrap_err();
        assert!(e.message.contains("retries"), "{e}");
    }
}
