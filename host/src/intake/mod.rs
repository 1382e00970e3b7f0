//! The one owner of a received document's lifecycle, from the connector's decision to submit it
//! to the answer its sender gets:
//!
//! ```text
//! pause check -> store.receive (commit) -> run the steps -> connector.complete
//!             -> store.conclude (outcome, answer and the deliveries it promises, one write)
//!             -> the outbox's worker woken
//! ```
//!
//! Documents that run again (the unfinished ones at start, and retries from the CLI or the admin
//! API) enter here too, through the same runner and the same recording (see `again`). Nothing
//! here knows HTTP: the server turns a request into an [`Arrival`] and an [`Answer`] back into a
//! response, so this module is tested in-process.

mod again;
mod certificates;
#[cfg(test)]
mod certificates_tests;
mod deliveries;
mod payload;
mod record;
mod resend;
mod several;
#[cfg(test)]
mod tests;

pub use several::remove_unused_parts;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Instant;

use berth_connector_sdk::abi::{Outcome, OutcomeKind, PayloadFrom, Response, Submission};
use berth_connector_sdk::abi_stable::std_types::{ROption, RString};
use berth_connector_sdk::module::PendingBox;
use berth_process::{Document, ProcessDef, Properties, RunOutcome, Runner};
use berth_store::{NewDocument, Received, Store, StoreError, StoredPayload};
use bytes::Bytes;
use tracing::Instrument;

use crate::body::{Body, SpoolFile};
use crate::exchange::Exchanged;
use crate::ids::new_document_id;
use crate::metrics::Metrics;
use crate::outbound::Outbound;
use crate::plugins::call;
use crate::settings::DeliverySettings;
use crate::status::StatusBoard;

/// How far back the duplicate check looks when a connector does not say: the vendor's default.
const DEFAULT_DUPLICATE_WINDOW: u32 = 100_000;

/// Cheap to clone: every request handler and the admin API hold one.
#[derive(Clone)]
pub struct Intake {
    inner: Arc<Inner>,
}

struct Inner {
    runner: Runner,
    store: Option<Store>,
    status: Arc<StatusBoard>,
    metrics: Arc<Metrics>,
    outbound: Outbound,
    /// The deployed processes by name, as the topology last applied them: documents that run
    /// again run through the live version of their process.
    processes: RwLock<HashMap<String, Arc<ProcessDef>>>,
    /// Certificates partners exchanged, as the store has them.
    exchanged: Exchanged,
}

/// A document a connector decided to submit, with what the intake needs of its request.
pub struct Arrival<'a> {
    /// How logs and deliveries name the listener.
    pub listener: &'a str,
    pub process: &'a Arc<ProcessDef>,
    pub submission: Submission,
    /// What the connector keeps until it answers.
    pub pending: PendingBox,
    /// Call the connector on the blocking pool.
    pub blocking: bool,
    /// The request's body: the payload when the connector says so, and the evidence file when
    /// it was spooled.
    pub body: &'a Body,
    /// The file offered to the connector for its payload (with a spooled body).
    pub payload_file: Option<&'a Arc<SpoolFile>>,
    /// The request as evidence (head, then the body when asked), built only when stored.
    pub evidence: &'a (dyn Fn(bool) -> Bytes + Sync),
}

/// What became of an arrival, for the server to answer with.
// Moved once per request; boxing the large variant would add an allocation to every answer.
#[allow(clippy::large_enum_variant)]
pub enum Answer {
    /// The connector's answer; `payload` is set when its body is the document's payload, too
    /// large to have been handed over in memory, for the server to stream from the store.
    Connector {
        response: Response,
        payload: Option<StoredPayload>,
    },
    /// The listener is paused: nothing was stored; the sender should send again later.
    Paused,
    /// The connector failed to answer (already logged).
    ConnectorFailed,
    /// The host could not take the document (the store's database is unreachable, a spooled
    /// body could not be read back): nothing was accepted, and whatever the connector made of
    /// it, the sender is told to send again later, never that it was accepted.
    Refused(String),
}

impl Intake {
    /// An intake with its own listener status board, metrics and outbound deliveries: what
    /// `berth run`, the CLI's retry and the tests each need once. Deliveries committed to the
    /// store wait there until [`Intake::start_deliveries`].
    pub fn new(runner: Runner, store: Option<Store>) -> Intake {
        let metrics = Arc::new(Metrics::new());
        Intake {
            inner: Arc::new(Inner {
                runner,
                store,
                status: Arc::new(StatusBoard::default()),
                outbound: Outbound::new(Arc::clone(&metrics)),
                metrics,
                processes: RwLock::new(HashMap::new()),
                exchanged: Exchanged::default(),
            }),
        }
    }

    /// Starts sending the outbox's deliveries (on the current runtime), retried as `settings`
    /// say, claimed in the name of `node`: what `berth run` does, and only it.
    pub fn start_deliveries(&self, settings: &DeliverySettings, node: &str) -> anyhow::Result<()> {
        let store = self.inner.store.clone();
        self.inner.outbound.start(settings, store, node)
    }

    /// Stops sending; pending deliveries stay in the store for the next start.
    pub async fn stop_deliveries(&self) {
        self.inner.outbound.stop().await;
    }

    pub fn store(&self) -> Option<&Store> {
        self.inner.store.as_ref()
    }

    /// Certificates partners exchanged at run time (see `crate::exchange`).
    pub fn exchanged(&self) -> &Exchanged {
        &self.inner.exchanged
    }

    pub fn status(&self) -> &Arc<StatusBoard> {
        &self.inner.status
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.inner.metrics
    }

    /// The processes now deployed (the topology calls this whenever it applies a plan).
    pub fn deploy<'a>(&self, processes: impl IntoIterator<Item = &'a Arc<ProcessDef>>) {
        let processes = processes
            .into_iter()
            .map(|p| (p.name.clone(), Arc::clone(p)))
            .collect();
        *self
            .inner
            .processes
            .write()
            .unwrap_or_else(|p| p.into_inner()) = processes;
    }

    fn process(&self, name: &str) -> Option<Arc<ProcessDef>> {
        self.inner
            .processes
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .cloned()
    }

    /// The connector answered at once (nothing submitted): its deliveries still go out, kept
    /// in the outbox before the answer is given.
    pub async fn respond(&self, listener: &str, mut response: Response) -> Response {
        if !response.certificates.is_empty() {
            if let Err(refusal) = self.keep_certificates(listener, &mut response).await {
                return refusal;
            }
        }
        let deliveries = record::take_deliveries(listener, &mut response);
        if !deliveries.is_empty() {
            self.promise(None, None, &response, deliveries).await;
        }
        response
    }

    /// A submitted document, from the pause check to the connector's answer.
    pub async fn receive(&self, arrival: Arrival<'_>) -> Answer {
        let Arrival {
            listener,
            process,
            submission,
            pending,
            blocking,
            body,
            payload_file,
            evidence,
        } = arrival;
        let status = self.inner.status.of(&process.name);
        if status.is_paused() {
            // Partners retry on 503 with Retry-After: nothing is stored, nothing is lost.
            return Answer::Paused;
        }
        let started = Instant::now();
        let id = new_document_id();
        // Every log line about this document, the steps' included, carries these fields.
        let span = tracing::info_span!(
            "document",
            process = %process.name,
            document = %id,
            message_id = tracing::field::Empty
        );
        let message_id = submission
            .document
            .properties
            .iter()
            .find(|p| p.name.as_str() == berth_connector_sdk::properties::MESSAGE_ID);
        if let Some(property) = message_id {
            span.record("message_id", property.value.as_str());
        }
        let (outcome, stored, others, large) = if submission.more_documents.is_empty() {
            let (outcome, stored, large) = self
                .store_and_run(&id, process, submission, (body, payload_file), evidence)
                .instrument(span)
                .await;
            (outcome, stored, Vec::new(), large)
        } else {
            let (outcome, first, others) = self
                .store_and_run_several(&id, process, submission, (body, payload_file), evidence)
                .instrument(span)
                .await;
            (outcome, first, others, None)
        };
        let refused = (outcome.kind == OutcomeKind::REFUSED).then(|| {
            outcome
                .error
                .as_ref()
                .map_or("", |e| e.as_str())
                .to_string()
        });
        // A message of several documents counts each on the listener's board by its own run.
        let counted_apart = !others.is_empty();
        let fate = match outcome.kind {
            OutcomeKind::ACCEPTED => {
                if !counted_apart {
                    status.document_accepted();
                }
                "accepted"
            }
            OutcomeKind::FAILED => {
                if !counted_apart {
                    status.document_failed(outcome.error.as_ref().map_or("", |e| e.as_str()));
                }
                "failed"
            }
            OutcomeKind::DUPLICATE => "duplicate",
            _ => "refused",
        };
        if counted_apart {
            several::count(&status, stored.iter().chain(&others));
        }
        // A resend is recorded under this id (see `Received::Duplicate`): its replayed MDN's
        // delivery belongs to it.
        let resend = (fate == "duplicate" && self.inner.store.is_some()).then_some(id.as_str());
        self.inner
            .metrics
            .document(&process.name, fate, started.elapsed());
        let completed = call::complete(blocking, pending, outcome).await;
        if let Some(reason) = refused {
            // The connector was told (so that it logs and lets go of the request), but the
            // answer is the host's: a connector must not turn a refusal into an acceptance.
            return Answer::Refused(reason);
        }
        match completed {
            Ok(mut response) => {
                if !response.certificates.is_empty() {
                    // Stored before the answer only on the immediate path (`respond`), where
                    // no document's outcome has to be recorded with them.
                    tracing::error!(%listener, "connector handed over exchanged certificates with a submitted document's answer; ignored (only an immediate answer may carry them)");
                    response.certificates.clear();
                }
                if let Some(summary) = response.summary.as_ref().into_option() {
                    self.inner.metrics.disposition(&process.name, summary);
                }
                let deliveries = record::take_deliveries(listener, &mut response);
                if deliveries.is_empty() {
                    self.conclude(stored, Some(&response));
                } else {
                    self.promise(stored, resend, &response, deliveries).await;
                }
                // A message's further documents: the same answer, recorded on each.
                for other in others {
                    self.conclude(Some(other), Some(&response));
                }
                let payload = large.filter(|_| response.body_is_payload);
                Answer::Connector { response, payload }
            }
            Err(error) => {
                self.conclude(stored, None);
                for other in others {
                    self.conclude(Some(other), None);
                }
                tracing::error!(%listener, %error, "connector failed on a request");
                Answer::ConnectorFailed
            }
        }
    }

    /// Store (when the store is on) and run a submitted document. The second value is what
    /// `conclude` records once the connector has answered: `None` when nothing was stored. The
    /// third is the payload when it is kept outside memory and a `return` step made it the
    /// answer's body, for the server to stream.
    async fn store_and_run(
        &self,
        id: &str,
        process: &ProcessDef,
        submission: Submission,
        (body, payload_file): (&Body, Option<&Arc<SpoolFile>>),
        evidence: &(dyn Fn(bool) -> Bytes + Sync),
    ) -> (Outcome, Option<record::Stored>, Option<StoredPayload>) {
        let Submission {
            document,
            duplicate_key,
            duplicate_window,
            unique_key,
            ..
        } = submission;
        let payload_is_body = document.payload_from == PayloadFrom::REQUEST_BODY;
        let taken = payload::take(document.payload_from, document.payload, body, payload_file);
        let payload = match taken.await {
            Ok(payload) => payload,
            Err(error) => {
                tracing::error!(process = %process.name, %error, "cannot take a submitted payload");
                let refusal = "the message could not be taken; send again later";
                return (record::refused(id, refusal), None, None);
            }
        };
        // Kept for the answer only when not in memory, so the small-payload path copies nothing.
        let large = payload.in_memory().is_none().then(|| payload.clone());
        // Copied once, into one buffer, from the plugin's list (which the plugin then frees).
        let properties = Properties::from_strs(
            document
                .properties
                .iter()
                .map(|p| (p.name.as_str(), p.value.as_str())),
        );
        drop(document.properties);
        let duplicate_key = duplicate_key.into_option().map(RString::into_string);
        let unique_key = unique_key.into_option().map(RString::into_string);
        let Some(store) = &self.inner.store else {
            let document = Document {
                id: id.to_string(),
                payload,
                properties,
            };
            let outcome = self.run(process, document).await;
            return (record::to_outcome(id, outcome).0, None, large);
        };
        let raw = payload::evidence(body, payload_is_body, evidence);
        let Some(stored_payload) = payload::to_store(&payload) else {
            tracing::error!(process = %process.name, "a received payload is neither in memory nor in a file");
            let refusal = "the message could not be kept; send again later";
            return (record::refused(id, refusal), None, None);
        };
        let new = NewDocument {
            id: id.to_string(),
            process: process.name.clone(),
            payload: stored_payload,
            properties: properties
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            raw: Some(raw),
            duplicate_window: match (&duplicate_key, duplicate_window) {
                (Some(_), 0) => DEFAULT_DUPLICATE_WINDOW,
                (_, window) => window,
            },
            duplicate_key,
            unique_key,
        };
        match store.receive(new).await {
            Ok(Received::New) => {}
            Ok(Received::Duplicate {
                original_id,
                answer,
            }) => {
                tracing::info!(process = %process.name, document = %id, original = %original_id, "duplicate received; not processed again");
                let answer = match answer {
                    Some(answer) => Some(answer),
                    None => resend::answer_of(store, &original_id).await,
                };
                let outcome = Outcome {
                    kind: OutcomeKind::DUPLICATE,
                    document_id: original_id.into(),
                    returned: ROption::RNone,
                    stored_answer: answer.map(Into::into).into(),
                    error: ROption::RNone,
                };
                return (outcome, None, None);
            }
            Ok(Received::KeyTaken { holder_id }) => {
                tracing::info!(process = %process.name, document = %id, holder = %holder_id, "unique key already received; refused, not stored");
                return (record::key_taken(&holder_id), None, None);
            }
            Err(error) => {
                // An unreachable database is logged by the store once per change of state,
                // not here once per refused request.
                if !matches!(error, StoreError::Unavailable(_)) {
                    tracing::error!(process = %process.name, %error, "cannot store a received document; refusing it");
                }
                let refusal = "the message store is unavailable; send again later";
                return (record::refused(id, refusal), None, None);
            }
        }
        let document = Document {
            id: id.to_string(),
            payload,
            properties,
        };
        // Its outcome is recorded with the answer, once the connector has given it (see
        // `conclude`): one write instead of two.
        let outcome = self.run(process, document).await;
        let (outcome, finish) = record::to_outcome(id, outcome);
        (outcome, Some(record::Stored::new(id, finish)), large)
    }

    /// Run a document's steps; a failure is logged here, once.
    async fn run(&self, process: &ProcessDef, document: Document) -> RunOutcome {
        let id = document.id.clone();
        let outcome = self.inner.runner.run(process, document).await;
        if let RunOutcome::Failed { step, reason } = &outcome {
            tracing::error!(process = %process.name, document = %id, %step, %reason, "document failed");
        }
        outcome
    }

    /// Record a stored document's outcome and the answer its sender got (the MDN, or the HTTP
    /// status and body; `None` when the connector failed to answer), in one write.
    ///
    /// Not awaited by the request: the answer goes out at once, and a crash before the write
    /// commits leaves the document `received`, to run again at the next start (at least once,
    /// which is the promise); a resend meanwhile is then processed rather than answered with
    /// the recorded MDN.
    fn conclude(&self, stored: Option<record::Stored>, response: Option<&Response>) {
        let (Some(store), Some(stored)) = (&self.inner.store, stored) else {
            return;
        };
        let answer = response.map(record::answer);
        let store = store.clone();
        tokio::spawn(async move {
            let record::Stored { id, finish } = stored;
            record::conclude(&store, &id, finish, answer).await;
        });
    }
}
