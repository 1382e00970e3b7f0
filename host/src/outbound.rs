//! Requests the host sends on a connector's behalf after answering (asynchronous MDNs), retried
//! with back-off.
//!
//! The queue lives in memory: a delivery pending when berth stops is lost. The message store
//! will make it durable; until then every failed or abandoned delivery is logged with its URL.

use std::time::Duration;

use berth_connector_sdk::abi::Delivery;
use tokio::sync::mpsc;

const ATTEMPTS: u32 = 6;
const FIRST_BACKOFF: Duration = Duration::from_secs(2);

#[derive(Clone)]
pub struct Outbound {
    queue: mpsc::UnboundedSender<(String, Delivery)>,
}

impl Outbound {
    /// Start the delivery worker on the current runtime.
    pub fn start() -> Self {
        let (queue, mut receiver) = mpsc::unbounded_channel::<(String, Delivery)>();
        tokio::spawn(async move {
            while let Some((listener, delivery)) = receiver.recv().await {
                tokio::spawn(deliver(listener, delivery));
            }
        });
        Self { queue }
    }

    pub fn queue(&self, listener: String, delivery: Delivery) {
        if let Err(e) = self.queue.send((listener, delivery)) {
            let (listener, delivery) = e.0;
            tracing::error!(%listener, url = %delivery.url, "delivery dropped: berth is stopping");
        }
    }
}

async fn deliver(listener: String, delivery: Delivery) {
    let client = match reqwest::Client::builder()
        .danger_accept_invalid_hostnames(!delivery.verify_hostname)
        .timeout(Duration::from_secs(60))
        .build()
    {
        Ok(client) => client,
        Err(e) => {
            tracing::error!(%listener, url = %delivery.url, error = %e, "delivery abandoned");
            return;
        }
    };
    let method =
        reqwest::Method::from_bytes(delivery.method.as_bytes()).unwrap_or(reqwest::Method::POST);
    let mut backoff = FIRST_BACKOFF;
    for attempt in 1..=ATTEMPTS {
        let mut request = client.request(method.clone(), delivery.url.as_str());
        for header in delivery.headers.iter() {
            request = request.header(header.name.as_str(), header.value.as_str());
        }
        let result = request.body(delivery.body.to_vec()).send().await;
        match result {
            Ok(response) if response.status().is_success() => {
                tracing::info!(%listener, url = %delivery.url, attempt, "delivered");
                return;
            }
            Ok(response) => {
                tracing::warn!(%listener, url = %delivery.url, attempt, status = %response.status(), "delivery refused")
            }
            Err(e) => {
                tracing::warn!(%listener, url = %delivery.url, attempt, error = %e, "delivery failed")
            }
        }
        if attempt < ATTEMPTS {
            tokio::time::sleep(backoff).await;
            backoff *= 2;
        }
    }
    tracing::error!(%listener, url = %delivery.url, attempts = ATTEMPTS, "delivery abandoned");
}
