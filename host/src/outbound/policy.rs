//! When a failed delivery is tried again, and when it is given up: the one rule, shared by the
//! store's worker and the in-memory sender.

use std::time::Duration;

use berth_store::AttemptOutcome;

use crate::settings::DeliverySettings;

/// A claim outlasts an attempt's timeout by this much, so that the attempt is recorded before
/// another node may take the delivery over.
const LEASE_MARGIN: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
pub struct RetryPolicy {
    first: Duration,
    max: Duration,
    window: Duration,
    pub timeout: Duration,
    pub poll: Duration,
}

impl RetryPolicy {
    pub fn new(settings: &DeliverySettings) -> RetryPolicy {
        RetryPolicy {
            first: settings.first_retry(),
            max: settings.max_retry(),
            window: settings.give_up_after(),
            timeout: settings.timeout(),
            poll: settings.poll(),
        }
    }

    /// How long a worker holds the deliveries it claims.
    pub fn lease(&self) -> Duration {
        self.timeout + LEASE_MARGIN
    }

    /// What follows the `attempts`-th failed attempt (counting from 1), made at `now`, of a
    /// delivery created at `created` (unix millis): the next try after a wait that doubles from
    /// `first` up to `max`, never later than the window's end, so that the last try is made
    /// at its end; given up once the window is over.
    pub fn after_failure(&self, created: i64, attempts: usize, now: i64) -> AttemptOutcome {
        let deadline = created.saturating_add(millis(self.window));
        if now >= deadline {
            return AttemptOutcome::GiveUp;
        }
        let doublings = u32::try_from(attempts.saturating_sub(1)).unwrap_or(u32::MAX);
        let wait = self
            .first
            .checked_mul(2u32.saturating_pow(doublings.min(31)))
            .unwrap_or(self.max)
            .min(self.max);
        AttemptOutcome::RetryAt(now.saturating_add(millis(wait)).min(deadline))
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(first: u64, max: u64, window: u64) -> RetryPolicy {
        RetryPolicy::new(&DeliverySettings {
            first_retry_seconds: first,
            max_retry_seconds: max,
            give_up_after_seconds: window,
            ..DeliverySettings::default()
        })
    }

    #[test]
    fn waits_double_up_to_the_cap_and_stop_at_the_window() {
        let p = policy(10, 60, 3600);
        let waits: Vec<i64> = (1..=6)
            .map(|n| match p.after_failure(0, n, 1000) {
                AttemptOutcome::RetryAt(at) => (at - 1000) / 1000,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(waits, [10, 20, 40, 60, 60, 60]);
        // The last try is at the window's end; after it, the delivery is given up.
        assert_eq!(
            p.after_failure(0, 3, 3_590_000),
            AttemptOutcome::RetryAt(3_600_000)
        );
        assert_eq!(p.after_failure(0, 4, 3_600_000), AttemptOutcome::GiveUp);
        // A huge attempt count neither overflows nor waits past the cap.
        assert_eq!(
            p.after_failure(0, usize::MAX, 0),
            AttemptOutcome::RetryAt(60_000)
        );
    }

    #[test]
    fn the_defaults_try_about_twenty_times_in_four_hours() {
        let p = RetryPolicy::new(&DeliverySettings::default());
        let (mut now, mut attempts) = (0, 0);
        while let AttemptOutcome::RetryAt(at) = p.after_failure(0, attempts + 1, now) {
            attempts += 1;
            now = at;
        }
        assert_eq!(now, 4 * 3600 * 1000);
        assert!((15..=25).contains(&attempts), "{attempts} retries");
    }
}
