//! Deliveries the store cannot keep: with the store off (`store.enabled: false`), or when the
//! commit that should have kept them failed. Sent from memory with the same retry rule; lost if
//! berth stops before they are delivered, which is why each failure is logged with its URL.

use std::sync::Arc;
use std::time::Duration;

use berth_store::{AttemptOutcome, NewDelivery};

use super::policy::RetryPolicy;
use super::send::Sender;
use super::worker::now;
use crate::metrics::Metrics;

pub async fn deliver(
    sender: Arc<Sender>,
    policy: RetryPolicy,
    metrics: Arc<Metrics>,
    request: NewDelivery,
) {
    let created = now();
    for attempt in 1.. {
        let failure = match sender.attempt(&request).await {
            Ok(status) => {
                tracing::info!(listener = %request.listener, url = %request.url, attempt, %status, "delivered");
                metrics.delivery("delivered");
                return;
            }
            Err(failure) => failure,
        };
        match policy.after_failure(created, attempt, now()) {
            AttemptOutcome::RetryAt(at) => {
                let wait = Duration::from_millis(u64::try_from(at - now()).unwrap_or(0));
                tracing::warn!(listener = %request.listener, url = %request.url, attempt, result = %failure, retry_in_seconds = wait.as_secs(), "delivery failed; trying again later (kept in memory only)");
                metrics.delivery("retried");
                tokio::time::sleep(wait).await;
            }
            _ => {
                tracing::error!(listener = %request.listener, url = %request.url, attempts = attempt, result = %failure, "delivery given up: its retry window is over");
                metrics.delivery("failed");
                return;
            }
        }
    }
}
