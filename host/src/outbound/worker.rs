//! The worker that sends the store's pending deliveries: it claims the due ones for a lease,
//! sends them side by side, and records each attempt with what follows it (see
//! [`RetryPolicy`]). It wakes when this node commits a delivery, when an attempt ends, when the
//! next retry is due, and at least every `poll` (deliveries other nodes committed, claims of
//! nodes that stopped).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use berth_store::{Attempt, AttemptOutcome, Delivery, Store};
use tokio::sync::{watch, Notify, Semaphore};
use tokio::task::JoinSet;

use super::policy::RetryPolicy;
use super::send::Sender;
use crate::metrics::Metrics;

/// Deliveries in flight at once: enough for a burst of asynchronous MDNs to different
/// partners, few enough that a partner's slow server does not hold many connections.
const IN_FLIGHT: usize = 32;
/// Claimed at most at once, so that one node does not take a backlog from the others.
const BATCH: usize = 8;
/// The least time between two looks at the outbox, should the store say a delivery is due that
/// cannot be claimed yet (another node's claim being committed).
const MIN_WAIT: Duration = Duration::from_millis(100);

pub struct Worker {
    pub store: Store,
    pub sender: Arc<Sender>,
    pub policy: RetryPolicy,
    /// This process's name in claims: unique per process, so that its claims are its own.
    pub claimer: String,
    pub metrics: Arc<Metrics>,
    pub wake: Arc<Notify>,
}

impl Worker {
    /// Runs until `stop` turns true; then drops the attempts in flight (their deliveries stay
    /// pending: sent again later, at least once) and releases its claims, so that the next
    /// process sends them at once.
    pub async fn run(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        let slots = Arc::new(Semaphore::new(IN_FLIGHT));
        let mut sends = JoinSet::new();
        let mut store_failing = false;
        while !*stop.borrow() {
            while sends.try_join_next().is_some() {}
            let room = slots.available_permits().min(BATCH);
            let mut full = false;
            if room > 0 {
                match self
                    .store
                    .claim_deliveries(&self.claimer, self.policy.lease(), room)
                    .await
                {
                    Ok(claimed) => {
                        if store_failing {
                            tracing::info!("the outbox can be read again; deliveries resume");
                            store_failing = false;
                        }
                        full = claimed.len() == room;
                        for delivery in claimed {
                            let Ok(permit) = slots.clone().acquire_owned().await else {
                                break;
                            };
                            let worker = Arc::clone(&self);
                            sends.spawn(async move {
                                worker.deliver(delivery).await;
                                drop(permit);
                            });
                        }
                    }
                    Err(error) => {
                        // Once per change of state, not once per poll.
                        if !store_failing {
                            tracing::error!(%error, "cannot claim deliveries from the outbox; trying again");
                            store_failing = true;
                        }
                    }
                }
            }
            if full {
                continue;
            }
            // With every slot taken, an attempt's end (which wakes this loop) is what to wait for.
            let wait = match room {
                0 => self.policy.poll,
                _ => self.wait().await,
            };
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
                _ = stop.changed() => {}
            }
        }
        sends.abort_all();
        while sends.join_next().await.is_some() {}
        if let Err(error) = self.store.release_deliveries(&self.claimer).await {
            tracing::warn!(%error, "cannot release the claimed deliveries; others take them when the claims run out");
        }
    }

    /// Until the next delivery is due, within `poll`.
    async fn wait(&self) -> Duration {
        let due = match self.store.next_delivery_due().await {
            Ok(Some(at)) => Duration::from_millis(u64::try_from(at - now()).unwrap_or(0)),
            Ok(None) | Err(_) => self.policy.poll,
        };
        due.clamp(MIN_WAIT, self.policy.poll.max(MIN_WAIT))
    }

    async fn deliver(&self, delivery: Delivery) {
        let attempt = delivery.attempts.len() + 1;
        let started = now();
        let result = self.sender.attempt(&delivery.request).await;
        let request = &delivery.request;
        let document = delivery.document_id.as_deref().unwrap_or("");
        let (text, outcome) = match result {
            Ok(status) => {
                tracing::info!(listener = %request.listener, url = %request.url, %document, attempt, %status, "delivered");
                self.metrics.delivery("delivered");
                (status, AttemptOutcome::Delivered)
            }
            Err(failure) => {
                let outcome = self
                    .policy
                    .after_failure(delivery.created_at, attempt, now());
                match outcome {
                    AttemptOutcome::RetryAt(at) => {
                        let in_seconds = (at - now()).max(0) / 1000;
                        tracing::warn!(listener = %request.listener, url = %request.url, %document, attempt, result = %failure, retry_in_seconds = in_seconds, "delivery failed; trying again later");
                        self.metrics.delivery("retried");
                    }
                    _ => {
                        tracing::error!(listener = %request.listener, url = %request.url, %document, attempts = attempt, result = %failure, "delivery given up: its retry window is over");
                        self.metrics.delivery("failed");
                    }
                }
                (failure, outcome)
            }
        };
        let record = Attempt {
            at: started,
            result: text,
        };
        if let Err(error) = self
            .store
            .record_attempt(delivery.id, &self.claimer, record, outcome)
            .await
        {
            // The claim runs out and the delivery is tried again: at least once.
            tracing::error!(url = %request.url, %document, %error, "cannot record a delivery attempt");
        }
        // The next due time may have changed.
        self.wake.notify_one();
    }
}

/// Unix milliseconds, as the store records times.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
