//! A submission that carries several documents (AS2 multiple attachments, RFC 6362): each is
//! stored and run as a document of its own, and the connector is told one outcome for them all.
//!
//! - The message's duplicate key goes with the first document alone: a resend finds it, gets
//!   the answer recorded for it, and stores nothing else (the store records the resend itself
//!   as one `duplicate` entry, as for a single document). The request's evidence is kept with
//!   the first document too.
//! - One store transaction per document, every document stored before any runs: a transaction
//!   for the whole message would need a new store operation in both backends, for a gain only
//!   when berth stops between two commits of one message (milliseconds). Then the first
//!   document is stored and the others are not; the sender got no answer and sends again, and
//!   the resend is answered as a duplicate without a recorded MDN (a `duplicate-document`
//!   warning): the operator sees the message's first document `received`, to run at the next
//!   start, and the others missing. When the store refuses a later document while it runs,
//!   the documents already stored are concluded `failed` ("the message could not be stored
//!   whole"), and the sender is told to send again.
//! - The processes run one after another, in the order the connector gave: an attachment's run
//!   may rely on the ones before it having run (a manifest sent last, say).
//! - The outcome is accepted when every document was; else the first failure, its error naming
//!   the attachment. Every run's outcome is recorded on its own document, and the answer (the
//!   MDN) on each, so an operator looking at any of them sees what the sender was told.

use std::sync::Arc;

use berth_connector_sdk::abi::{
    Document as Submitted, Outcome, OutcomeKind, PayloadFrom, Submission,
};
use berth_connector_sdk::abi_stable::std_types::{ROption, RString, RVec};
use berth_connector_sdk::more_documents::part_file_of;
use berth_process::{Document, ProcessDef, Properties};
use berth_store::{Finish, NewDocument, Payload, Received, StoreError, StoredPayload};
use bytes::Bytes;

use super::{payload, record, resend, Intake, DEFAULT_DUPLICATE_WINDOW};
use crate::body::{Body, SpoolFile};
use crate::ids::new_document_id;
use crate::status::ListenerStatus;

/// One document of the message, its payload taken.
struct Taken {
    id: String,
    payload: StoredPayload,
    properties: Properties,
}

/// What a multi-document submission came to: the one outcome the connector is told, and the
/// stored documents whose runs `conclude` records with the answer.
struct Concluded {
    pub outcome: Outcome,
    pub stored: Vec<record::Stored>,
}

impl Concluded {
    fn only(outcome: Outcome) -> Concluded {
        Concluded {
            outcome,
            stored: Vec::new(),
        }
    }
}

/// The submission's key and window, as the store takes them.
struct Keys {
    pub duplicate_key: Option<String>,
    pub duplicate_window: u32,
    pub unique_key: Option<String>,
}

impl Intake {
    /// Store and run `documents` (the first is the submission's own; the others its
    /// `more_documents`), answering as the module documentation says. `first_id` names the
    /// first document, as the caller's log span does.
    pub(super) async fn store_and_run_several(
        &self,
        first_id: &str,
        process: &ProcessDef,
        submission: Submission,
        request: (&Body, Option<&Arc<SpoolFile>>),
        evidence: &(dyn Fn(bool) -> Bytes + Sync),
    ) -> (Outcome, Option<record::Stored>, Vec<record::Stored>) {
        let Submission {
            document,
            duplicate_key,
            duplicate_window,
            unique_key,
            more_documents,
            ..
        } = submission;
        let keys = Keys {
            duplicate_key: key(duplicate_key),
            duplicate_window,
            unique_key: key(unique_key),
        };
        let mut documents = Vec::with_capacity(1 + more_documents.len());
        documents.push(document);
        documents.extend(more_documents);
        let concluded = self
            .several(first_id, process, documents, keys, request, evidence)
            .await;
        let mut stored = concluded.stored.into_iter();
        let first = stored.next();
        (concluded.outcome, first, stored.collect())
    }

    async fn several(
        &self,
        first_id: &str,
        process: &ProcessDef,
        documents: Vec<Submitted>,
        keys: Keys,
        (body, payload_file): (&Body, Option<&Arc<SpoolFile>>),
        evidence: &(dyn Fn(bool) -> Bytes + Sync),
    ) -> Concluded {
        let count = documents.len();
        let mut taken = Vec::with_capacity(count);
        for (place, document) in documents.into_iter().enumerate() {
            let id = if place == 0 {
                first_id.to_string()
            } else {
                new_document_id()
            };
            let Submitted {
                payload,
                payload_from,
                properties,
            } = document;
            let payload = match take(place, payload_from, payload, body, payload_file).await {
                Ok(payload) => payload,
                Err(error) => {
                    tracing::error!(process = %process.name, attachment = place + 1, %error, "cannot take a submitted payload");
                    let refusal = "the message could not be taken; send again later";
                    return Concluded::only(record::refused(first_id, refusal));
                }
            };
            let properties = Properties::from_strs(
                properties
                    .iter()
                    .map(|p| (p.name.as_str(), p.value.as_str())),
            );
            taken.push(Taken {
                id,
                payload,
                properties,
            });
        }
        let Some(store) = self.store() else {
            return self.run_all(process, taken).await;
        };
        let mut keys = Some(keys);
        let mut stored: Vec<String> = Vec::with_capacity(count);
        for document in &taken {
            let Some(stored_payload) = payload::to_store(&document.payload) else {
                tracing::error!(process = %process.name, "a received payload is neither in memory nor in a file");
                return self.not_whole(first_id, &stored, "the message could not be kept");
            };
            // The message's keys and evidence go with its first document.
            let first = keys.take();
            let raw = first
                .is_some()
                .then(|| payload::evidence(body, false, evidence));
            let keys = first.unwrap_or(Keys {
                duplicate_key: None,
                duplicate_window: 0,
                unique_key: None,
            });
            let new = new_document(process, document, stored_payload, raw, keys);
            match store.receive(new).await {
                Ok(Received::New) => stored.push(document.id.clone()),
                Ok(Received::Duplicate {
                    original_id,
                    answer,
                }) => {
                    tracing::info!(process = %process.name, document = %document.id, original = %original_id, attachments = count, "duplicate received; not stored or processed again");
                    let answer = match answer {
                        Some(answer) => Some(answer),
                        None => resend::answer_of(store, &original_id).await,
                    };
                    return Concluded::only(Outcome {
                        kind: OutcomeKind::DUPLICATE,
                        document_id: original_id.into(),
                        returned: ROption::RNone,
                        stored_answer: answer.map(Into::into).into(),
                        error: ROption::RNone,
                    });
                }
                Ok(Received::KeyTaken { holder_id }) => {
                    tracing::info!(process = %process.name, document = %document.id, holder = %holder_id, "unique key already received; refused, not stored");
                    return Concluded::only(record::key_taken(&holder_id));
                }
                Err(error) => {
                    if !matches!(error, StoreError::Unavailable(_)) {
                        tracing::error!(process = %process.name, %error, "cannot store a received document; refusing its message");
                    }
                    let refusal = "the message store is unavailable";
                    return self.not_whole(first_id, &stored, refusal);
                }
            }
        }
        self.run_all(process, taken).await
    }

    /// Runs every document in order; one outcome for them all.
    async fn run_all(&self, process: &ProcessDef, taken: Vec<Taken>) -> Concluded {
        let count = taken.len();
        let first_id = taken.first().map(|t| t.id.clone()).unwrap_or_default();
        let mut stored = Vec::with_capacity(count);
        let mut first_failure: Option<Outcome> = None;
        let mut first_returned = None;
        for (place, document) in taken.into_iter().enumerate() {
            let Taken {
                id,
                payload,
                properties,
            } = document;
            let document = Document {
                id: id.clone(),
                payload,
                properties,
            };
            let run = self.run(process, document).await;
            let (mut outcome, finish) = record::to_outcome(&id, run);
            stored.push(record::Stored::new(&id, finish));
            match outcome.kind {
                OutcomeKind::ACCEPTED if place == 0 => first_returned = Some(outcome.returned),
                OutcomeKind::ACCEPTED => {}
                _ if first_failure.is_none() => {
                    let error = outcome.error.as_ref().map_or("", |e| e.as_str());
                    let error = format!(
                        "attachment {} of {count} (document {id}): {error}",
                        place + 1
                    );
                    outcome.error = ROption::RSome(error.into());
                    first_failure = Some(outcome);
                }
                _ => {}
            }
        }
        let outcome = first_failure.unwrap_or_else(|| Outcome {
            kind: OutcomeKind::ACCEPTED,
            document_id: first_id.into(),
            returned: first_returned.unwrap_or(ROption::RNone),
            stored_answer: ROption::RNone,
            error: ROption::RNone,
        });
        // Without a store nothing is recorded.
        if self.store().is_none() {
            stored.clear();
        }
        Concluded { outcome, stored }
    }

    /// The message could not be stored whole: the documents already stored are concluded
    /// failed (never run), and the sender is told to send again.
    fn not_whole(&self, first_id: &str, stored: &[String], why: &str) -> Concluded {
        let error = format!("{why}: the message could not be stored whole; not processed");
        for id in stored {
            let finish = Finish::Failed {
                error: error.clone(),
            };
            self.conclude(Some(record::Stored::new(id, finish)), None);
        }
        let refusal = format!("{why}; send again later");
        Concluded::only(record::refused(first_id, &refusal))
    }
}

fn new_document(
    process: &ProcessDef,
    document: &Taken,
    payload: Payload,
    raw: Option<Payload>,
    keys: Keys,
) -> NewDocument {
    let Keys {
        duplicate_key,
        duplicate_window,
        unique_key,
    } = keys;
    NewDocument {
        id: document.id.clone(),
        process: process.name.clone(),
        payload,
        properties: document
            .properties
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect(),
        raw,
        duplicate_window: match (&duplicate_key, duplicate_window) {
            (Some(_), 0) => DEFAULT_DUPLICATE_WINDOW,
            (_, window) => window,
        },
        duplicate_key,
        unique_key,
    }
}

/// The payload of the document at `place` (0 is the submission's own document).
async fn take(
    place: usize,
    from: PayloadFrom,
    bytes: RVec<u8>,
    body: &Body,
    payload_file: Option<&Arc<SpoolFile>>,
) -> Result<StoredPayload, String> {
    if from != PayloadFrom::PART_FILE {
        return payload::take(from, bytes, body, payload_file).await;
    }
    let Some(file) = payload_file.filter(|_| place > 0) else {
        return Err(
            "a part file is offered for the further documents of a spooled request only".into(),
        );
    };
    let Some(payload_path) = file.path.to_str() else {
        return Err("the payload file's name is not UTF-8".into());
    };
    let path = part_file_of(payload_path, place);
    let part = Arc::new(SpoolFile {
        path: path.into(),
        len: 0,
        head: Bytes::new(),
    });
    // Measured now; the file goes with its last handle, as the payload file does.
    part.payload().await.map_err(|e| e.to_string())
}

/// Removes the part files a connector wrote beside `payload_file` that are still there when
/// the request ends (the message was refused after they were written; the ones taken went
/// with their documents' handles). The spool folder is read for them: a part may be missing
/// in the middle, and a spooled request is large enough that one listing costs nothing.
pub fn remove_unused_parts(payload_file: &std::path::Path) {
    let (Some(dir), Some(name)) = (payload_file.parent(), payload_file.file_name()) else {
        return;
    };
    let Some(prefix) = name.to_str().map(|n| format!("{n}.part")) else {
        return;
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let ours = entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.starts_with(&prefix));
        if !ours {
            continue;
        }
        if let Err(e) = std::fs::remove_file(entry.path()) {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(file = %entry.path().display(), error = %e, "cannot remove a part file");
            }
        }
    }
}

/// Counts each document of a message on the listener's board by its own run.
pub(super) fn count<'a>(
    status: &ListenerStatus,
    documents: impl Iterator<Item = &'a record::Stored>,
) {
    for document in documents {
        match &document.finish {
            Finish::Processed => status.document_accepted(),
            Finish::Failed { error } => status.document_failed(error),
        }
    }
}

/// An `RString` key as the store takes it.
fn key(key: ROption<RString>) -> Option<String> {
    key.into_option().map(RString::into_string)
}
