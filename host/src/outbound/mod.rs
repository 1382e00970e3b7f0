//! Requests the host sends on a connector's behalf after answering (asynchronous MDNs).
//!
//! With the store on, they wait in the store's outbox: the intake commits each with the answer
//! that promises it, and a worker (`worker.rs`) claims, sends and retries them with back-off
//! (`policy.rs`, as `deliveries:` in berth.yaml sets it), across restarts and, on a shared
//! PostgreSQL, from any node. A delivery given up after its retry window is recorded failed and
//! counted in `berth_deliveries_total{outcome="failed"}`. With the store off, or should the
//! commit fail, they are sent from memory (`memory.rs`) by the same rule.

mod memory;
mod policy;
mod send;
mod worker;

use std::sync::{Arc, Mutex, OnceLock};

use berth_store::{NewDelivery, Store};
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

use crate::metrics::Metrics;
use crate::settings::DeliverySettings;
pub use policy::RetryPolicy;
use send::Sender;

/// The host's deliveries: the worker's wake-up call and the in-memory fallback.
pub struct Outbound {
    wake: Arc<Notify>,
    metrics: Arc<Metrics>,
    /// None when no HTTP client could be built (the TLS library would not start).
    sending: OnceLock<Option<Sending>>,
    worker: Mutex<Option<(watch::Sender<bool>, JoinHandle<()>)>>,
}

/// How deliveries go out, fixed by the first `start` (or the defaults, for an intake that never
/// starts a worker: the command line's retry).
struct Sending {
    sender: Arc<Sender>,
    policy: RetryPolicy,
}

impl Outbound {
    pub fn new(metrics: Arc<Metrics>) -> Outbound {
        Outbound {
            wake: Arc::new(Notify::new()),
            metrics,
            sending: OnceLock::new(),
            worker: Mutex::new(None),
        }
    }

    /// Starts sending the store's deliveries on the current runtime (with the store on);
    /// `node` names this machine (or cluster node) in the outbox's claims.
    pub fn start(
        &self,
        settings: &DeliverySettings,
        store: Option<Store>,
        node: &str,
    ) -> anyhow::Result<()> {
        let policy = RetryPolicy::new(settings);
        let sender = Arc::new(Sender::new(policy.timeout)?);
        let _ = self.sending.set(Some(Sending {
            sender: Arc::clone(&sender),
            policy: policy.clone(),
        }));
        let Some(store) = store else {
            return Ok(());
        };
        let worker = Arc::new(worker::Worker {
            store,
            sender,
            policy,
            claimer: claimer_name(node),
            metrics: Arc::clone(&self.metrics),
            wake: Arc::clone(&self.wake),
        });
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(worker.run(stopped));
        *self.worker.lock().unwrap_or_else(|p| p.into_inner()) = Some((stop, task));
        Ok(())
    }

    /// Stops the worker: attempts in flight are dropped (their deliveries stay pending) and its
    /// claims released, so that the next start sends them at once.
    pub async fn stop(&self) {
        let worker = self.worker.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some((stop, task)) = worker {
            let _ = stop.send(true);
            let _ = task.await;
        }
    }

    /// A delivery was committed to the outbox: send it now rather than at the next poll.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Sends deliveries the store does not keep, from memory.
    pub fn send_from_memory(&self, deliveries: Vec<NewDelivery>) {
        let sending = self.sending.get_or_init(|| {
            let policy = RetryPolicy::new(&DeliverySettings::default());
            match Sender::new(policy.timeout) {
                Ok(sender) => Some(Sending {
                    sender: Arc::new(sender),
                    policy,
                }),
                Err(error) => {
                    tracing::error!(%error, "cannot build the HTTP client for deliveries");
                    None
                }
            }
        });
        let Some(sending) = sending else {
            for delivery in deliveries {
                tracing::error!(listener = %delivery.listener, url = %delivery.url, "delivery dropped: no HTTP client");
            }
            return;
        };
        for delivery in deliveries {
            tokio::spawn(memory::deliver(
                Arc::clone(&sending.sender),
                sending.policy.clone(),
                Arc::clone(&self.metrics),
                delivery,
            ));
        }
    }
}

/// This process's name in the outbox's claims: the node, the process id and the start time,
/// so that two processes never share one (even a restart with the same pid), and an operator
/// reading the table sees which machine holds a delivery.
fn claimer_name(node: &str) -> String {
    let started = worker::now();
    format!("{node}/{}/{started:x}", std::process::id())
}
