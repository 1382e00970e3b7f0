//! The deliveries an answer promises (asynchronous MDNs, CEM responses): kept in the store's
//! outbox before the answer goes out, and sent by the outbound worker (taken from the answer
//! by `record::take_deliveries`).

use berth_connector_sdk::abi::Response;
use berth_store::NewDelivery;

use super::{record, Intake};

impl Intake {
    /// Keeps the deliveries an answer promises (asynchronous MDNs) in the store's outbox, in
    /// the same commit as the document's outcome and the answer when the document was stored,
    /// and wakes the worker that sends them. Awaited before the answer goes out, unlike
    /// `conclude`: a sender told "your MDN will follow" must get it even if berth stops now.
    /// Without a store, or when the commit fails, they are sent from memory.
    pub(super) async fn promise(
        &self,
        stored: Option<record::Stored>,
        resend: Option<&str>,
        response: &Response,
        deliveries: Vec<NewDelivery>,
    ) {
        let Some(store) = &self.inner.store else {
            self.inner.outbound.send_from_memory(deliveries);
            return;
        };
        let (committed, document) = match stored {
            Some(record::Stored { id, finish }) => {
                let answer = Some(record::answer(response));
                let committed = store
                    .conclude_with(&id, finish.clone(), answer.clone(), deliveries.clone())
                    .await;
                if committed.is_err() {
                    // The outcome and answer are still recorded, by the patient path that
                    // waits for a database to come back; only the deliveries go from memory.
                    let (store, id) = (store.clone(), id.clone());
                    tokio::spawn(
                        async move { record::conclude(&store, &id, finish, answer).await },
                    );
                }
                (committed, Some(id))
            }
            None => {
                let committed = store.enqueue(resend, deliveries.clone()).await;
                (committed, resend.map(str::to_string))
            }
        };
        match committed {
            Ok(()) => self.inner.outbound.wake(),
            Err(error) => {
                let document = document.unwrap_or_default();
                tracing::error!(%document, %error, "cannot keep the deliveries an answer promises in the store; sending them from memory (lost if berth stops)");
                self.inner.outbound.send_from_memory(deliveries);
            }
        }
    }
}
