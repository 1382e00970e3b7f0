//! Certificates partners exchange at run time (AS2 Certificate Exchange Messaging): taken from
//! a connector's answer and stored before the answer goes out, then handed to every listener,
//! at open and whenever the stored set changes (here, on another node of a cluster, or after a
//! restart), so that a pending certificate becomes usable on its date without a restart.
//!
//! The set lives in a `watch` channel: the intake updates it after a local receipt, a poll of
//! the store every [`POLL`] picks up what other nodes stored, and the topology pushes each new
//! set to the listeners it runs (see `Topology::follow_exchanged_certificates`).

use std::sync::Arc;
use std::time::Duration;

use berth_connector_sdk::exchange::ExchangedCertificate;
use berth_store::{PartnerCertificate, Store};
use tokio::sync::watch;

/// How often the store is read for certificates other nodes received. A partner sends an
/// exchange request days or weeks ahead of its respond-by date, so seconds of delay cost
/// nothing; the read is one small table.
pub const POLL: Duration = Duration::from_secs(5);

/// The certificates known now, and who follows them.
#[derive(Clone)]
pub struct Exchanged {
    tx: Arc<watch::Sender<Arc<Vec<PartnerCertificate>>>>,
}

impl Default for Exchanged {
    fn default() -> Self {
        Self {
            tx: Arc::new(watch::channel(Arc::new(Vec::new())).0),
        }
    }
}

impl Exchanged {
    pub fn current(&self) -> Arc<Vec<PartnerCertificate>> {
        Arc::clone(&self.tx.borrow())
    }

    pub fn subscribe(&self) -> watch::Receiver<Arc<Vec<PartnerCertificate>>> {
        self.tx.subscribe()
    }

    /// Replaces the set when it differs from the one known.
    pub fn set(&self, certificates: Vec<PartnerCertificate>) {
        self.tx.send_if_modified(|known| {
            let changed = **known != certificates;
            if changed {
                *known = Arc::new(certificates);
            }
            changed
        });
    }

    /// Adds certificates kept only in memory (no store): one replaces a known one of the same
    /// operation and fingerprint, as the store does.
    pub fn add_in_memory(&self, received: Vec<PartnerCertificate>) {
        let mut all: Vec<PartnerCertificate> = self.current().as_ref().clone();
        for c in received {
            all.retain(|k| !(k.operation == c.operation && k.fingerprint == c.fingerprint));
            all.push(c);
        }
        all.sort_by(|a, b| (&a.operation, a.active_from).cmp(&(&b.operation, b.active_from)));
        self.set(all);
    }

    /// Reads the store's set and takes it when it changed.
    pub async fn reload(&self, store: &Store) -> Result<(), berth_store::StoreError> {
        let certificates = store.partner_certificates().await?;
        self.set(certificates);
        Ok(())
    }

    /// Reads the store every [`POLL`] for what other nodes stored; a failed read is logged by
    /// the store's health watch and tried again at the next tick.
    pub fn start_polling(&self, store: Store) {
        let exchanged = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(POLL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(error) = exchanged.reload(&store).await {
                    tracing::debug!(%error, "cannot read the exchanged certificates; trying again");
                }
            }
        });
    }
}

/// The SDK's shape of a stored certificate.
pub fn to_sdk(c: &PartnerCertificate) -> ExchangedCertificate {
    ExchangedCertificate {
        operation: c.operation.as_str().into(),
        partner: c.partner.as_str().into(),
        usages: c.usages.as_str().into(),
        certificate_der: c.certificate_der.clone().into(),
        fingerprint: c.fingerprint.as_str().into(),
        active_from: c.active_from,
        request_id: c.request_id.as_str().into(),
        received_at: c.received_at,
    }
}

/// The store's shape of a certificate a connector handed over, stamped `received_at`.
pub fn from_sdk(c: ExchangedCertificate, received_at: i64) -> PartnerCertificate {
    PartnerCertificate {
        operation: c.operation.into_string(),
        partner: c.partner.into_string(),
        usages: c.usages.into_string(),
        certificate_der: c.certificate_der.into_vec(),
        fingerprint: c.fingerprint.into_string(),
        active_from: c.active_from,
        request_id: c.request_id.into_string(),
        received_at,
    }
}
