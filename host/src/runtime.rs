//! Documents from their arrival to their fate: stored durably first (when the store is on), then
//! run through their process, with the outcome recorded and told to the connector.

use std::collections::HashMap;
use std::sync::Arc;

use berth_connector_sdk::abi::{Outcome, OutcomeKind, OwnedHeader, Response, Returned, Submission};
use berth_connector_sdk::abi_stable::std_types::{ROption, RString};
use berth_process::{Document, ProcessDef, Properties, RunOutcome, Runner};
use berth_store::{Answer, Finish, NewDocument, Payload, Received, Store};
use bytes::Bytes;
use tracing::Instrument;

use crate::ids::new_document_id;
use crate::server::{Body, Incoming};

/// How far back the duplicate check looks when a connector does not say: the vendor's default.
const DEFAULT_DUPLICATE_WINDOW: u32 = 100_000;

#[derive(Clone)]
pub struct Documents {
    pub runner: Runner,
    pub store: Option<Store>,
}

impl Documents {
    /// Store and run a submitted document. `incoming` is the request the connector received:
    /// its body is the payload when the connector says so, and the request is kept as evidence.
    pub async fn submit(
        &self,
        process: &ProcessDef,
        submission: Submission,
        incoming: &Incoming,
    ) -> Outcome {
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
        self.store_and_run(id, process, submission, incoming)
            .instrument(span)
            .await
    }

    async fn store_and_run(
        &self,
        id: String,
        process: &ProcessDef,
        submission: Submission,
        incoming: &Incoming,
    ) -> Outcome {
        let Submission {
            document,
            duplicate_key,
            duplicate_window,
            ..
        } = submission;
        let payload_is_body = document.payload_is_request_body;
        let payload = if payload_is_body {
            match body_bytes(&incoming.body).await {
                Ok(bytes) => bytes,
                Err(e) => {
                    tracing::error!(process = %process.name, error = %e, "cannot read a spooled body");
                    return refused(&id, "the message could not be read back; send again later");
                }
            }
        } else {
            // Adopted, not copied: the plugin's allocation is freed by the plugin's own code
            // when the last reference goes (a 200 MB payload stays one 200 MB buffer).
            Bytes::from_owner(document.payload)
        };
        // Copied once, into one buffer, from the plugin's list (which the plugin then frees).
        let properties = Properties::from_strs(
            document
                .properties
                .iter()
                .map(|p| (p.name.as_str(), p.value.as_str())),
        );
        drop(document.properties);
        let duplicate_key = duplicate_key.into_option().map(RString::into_string);
        let Some(store) = &self.store else {
            let document = Document {
                id: id.clone(),
                payload,
                properties,
            };
            let outcome = self.run(process, document).await;
            return to_outcome(&id, outcome);
        };
        // A spooled request already is its evidence (see `server::spool`): the store links the
        // file rather than holding it in memory.
        let raw = match &incoming.body {
            Body::Memory(body) => {
                Payload::Bytes(raw_request(&incoming.parts, body, !payload_is_body))
            }
            Body::Spooled(file) => Payload::File(file.path.clone()),
        };
        let new = NewDocument {
            id: id.clone(),
            process: process.name.clone(),
            payload: Payload::Bytes(payload.clone()),
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
        };
        match store.receive(new).await {
            Ok(Received::New) => {}
            Ok(Received::Duplicate {
                original_id,
                answer,
            }) => {
                tracing::info!(process = %process.name, document = %id, original = %original_id, "duplicate received; not processed again");
                return Outcome {
                    kind: OutcomeKind::DUPLICATE,
                    document_id: original_id.into(),
                    returned: ROption::RNone,
                    stored_answer: answer.map(Into::into).into(),
                    error: RString::new(),
                };
            }
            Err(error) => {
                tracing::error!(process = %process.name, %error, "cannot store a received document; refusing it");
                return refused(&id, "the message store is unavailable; send again later");
            }
        }
        let document = Document {
            id: id.clone(),
            payload,
            properties,
        };
        // Its outcome is recorded with the answer, once the connector has given it (see
        // `conclude`): one write instead of two.
        let outcome = self.run(process, document).await;
        to_outcome(&id, outcome)
    }

    async fn run(&self, process: &ProcessDef, document: Document) -> RunOutcome {
        let id = document.id.clone();
        let outcome = self.runner.run(process, document).await;
        if let RunOutcome::Failed { step, reason } = &outcome {
            tracing::error!(process = %process.name, document = %id, %step, %reason, "document failed");
        }
        outcome
    }

    /// Run a document that is already stored and record how it ended (no answer is sent).
    async fn run_and_finish(&self, process: &ProcessDef, document: Document) -> RunOutcome {
        let id = document.id.clone();
        let outcome = self.run(process, document).await;
        if let Some(store) = &self.store {
            let finish = match &outcome {
                RunOutcome::Completed { .. } => Finish::Processed,
                RunOutcome::Failed { step, reason } => Finish::Failed {
                    error: format!("{step}: {reason}"),
                },
            };
            if let Err(error) = store.finish(&id, finish).await {
                tracing::error!(document = %id, %error, "cannot record the outcome");
            }
        }
        outcome
    }

    /// What `conclude` will record of `outcome`, taken before the outcome goes to the
    /// connector; `None` when nothing of the request was stored (no store, a duplicate, a
    /// refusal).
    pub fn fate(&self, outcome: &Outcome) -> Option<Fate> {
        self.store.as_ref()?;
        let finish = match outcome.kind {
            OutcomeKind::ACCEPTED => Finish::Processed,
            OutcomeKind::FAILED => Finish::Failed {
                error: outcome.error.to_string(),
            },
            _ => return None,
        };
        Some(Fate {
            id: outcome.document_id.to_string(),
            finish,
        })
    }

    /// Record a stored document's outcome and the answer its sender got (the MDN, or the HTTP
    /// status and body; `None` when the connector failed to answer), in one write.
    ///
    /// Not awaited by the request: the answer goes out at once, and a crash before the write
    /// commits leaves the document `received`, to run again at the next start (at least once,
    /// which is the promise); a resend meanwhile is then processed rather than answered with
    /// the recorded MDN.
    pub fn conclude(&self, fate: Option<Fate>, response: Option<&Response>) {
        let (Some(store), Some(Fate { id, finish })) = (&self.store, fate) else {
            return;
        };
        let answer = response.map(|response| Answer {
            summary: if response.summary.is_empty() {
                response.status.to_string()
            } else {
                response.summary.to_string()
            },
            bytes: match response.evidence.as_ref().into_option() {
                Some(evidence) => evidence.to_vec(),
                None => response.body.to_vec(),
            },
        });
        let store = store.clone();
        tokio::spawn(async move {
            if let Err(error) = store.conclude(&id, finish, answer).await {
                tracing::error!(document = %id, %error, "cannot record the outcome and answer");
            }
        });
    }

    /// Run again every stored document whose process had not finished (a crash, a kill).
    pub async fn recover(&self, processes: &HashMap<String, Arc<ProcessDef>>) {
        let Some(store) = &self.store else { return };
        let unfinished = match store.unfinished().await {
            Ok(unfinished) => unfinished,
            Err(error) => {
                tracing::error!(%error, "cannot read unfinished documents");
                return;
            }
        };
        if unfinished.is_empty() {
            return;
        }
        tracing::info!(
            documents = unfinished.len(),
            "running documents left unfinished by the last stop"
        );
        for stored in unfinished {
            let Some(process) = processes.get(&stored.process) else {
                let error = format!("process `{}` is not deployed", stored.process);
                tracing::error!(document = %stored.id, %error, "cannot recover a document");
                if let Err(e) = store.finish(&stored.id, Finish::Failed { error }).await {
                    tracing::error!(document = %stored.id, error = %e, "cannot record the outcome");
                }
                continue;
            };
            let payload = match crate::documents::payload_bytes(&stored).await {
                Ok(payload) => payload,
                Err(error) => {
                    // Left `received`: the next start tries again.
                    tracing::error!(document = %stored.id, %error, "cannot read a document to recover");
                    continue;
                }
            };
            let document = Document {
                id: stored.id,
                payload,
                properties: stored.properties.into_iter().collect(),
            };
            let outcome = self.run_and_finish(process, document).await;
            if let RunOutcome::Completed { .. } = outcome {
                tracing::info!(process = %process.name, "recovered document processed");
            }
        }
    }
}

/// A stored document's outcome, waiting for the connector's answer to be recorded with it.
pub struct Fate {
    id: String,
    finish: Finish,
}

fn refused(id: &str, error: &str) -> Outcome {
    Outcome {
        kind: OutcomeKind::REFUSED,
        document_id: id.into(),
        returned: ROption::RNone,
        stored_answer: ROption::RNone,
        error: error.into(),
    }
}

fn to_outcome(id: &str, outcome: RunOutcome) -> Outcome {
    match outcome {
        RunOutcome::Completed { returned, .. } => Outcome {
            kind: OutcomeKind::ACCEPTED,
            document_id: id.into(),
            returned: returned
                .map(|r| Returned {
                    status: r.status,
                    headers: r
                        .headers
                        .into_iter()
                        .map(|(name, value)| OwnedHeader::new(name, value))
                        .collect(),
                    body: r.body.to_vec().into(),
                })
                .into(),
            stored_answer: ROption::RNone,
            error: RString::new(),
        },
        RunOutcome::Failed { step, reason } => Outcome {
            kind: OutcomeKind::FAILED,
            document_id: id.into(),
            returned: ROption::RNone,
            stored_answer: ROption::RNone,
            error: format!("{step}: {reason}").into(),
        },
    }
}

/// The body in memory: a spooled one is read back (for connectors whose payload is the body),
/// from its offset, into a buffer of exactly its size.
async fn body_bytes(body: &Body) -> std::io::Result<Bytes> {
    use std::io::{Read, Seek, SeekFrom};
    match body {
        Body::Memory(bytes) => Ok(bytes.clone()),
        Body::Spooled(file) => {
            let (path, offset, len) = (file.path.clone(), file.body_offset, file.body_len);
            tokio::task::spawn_blocking(move || {
                let len = usize::try_from(len).map_err(std::io::Error::other)?;
                let mut file = std::fs::File::open(path)?;
                file.seek(SeekFrom::Start(offset))?;
                let mut bytes = vec![0; len];
                file.read_exact(&mut bytes)?;
                Ok(Bytes::from(bytes))
            })
            .await
            .map_err(std::io::Error::other)?
        }
    }
}

/// The request as evidence: request line and headers as received, then the body unless the
/// document's payload is the body itself (stored once, not twice).
pub fn raw_request(parts: &http::request::Parts, body: &Bytes, include_body: bool) -> Bytes {
    // Sized exactly: for a large message a guess too small doubles the buffer, and the peak.
    let head: usize = 64
        + parts.uri.path_and_query().map_or(1, |p| p.as_str().len())
        + parts
            .headers
            .iter()
            .map(|(n, v)| n.as_str().len() + v.len() + 4)
            .sum::<usize>();
    let mut raw = Vec::with_capacity(head + if include_body { body.len() } else { 0 });
    raw.extend_from_slice(parts.method.as_str().as_bytes());
    raw.push(b' ');
    raw.extend_from_slice(
        parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/")
            .as_bytes(),
    );
    raw.extend_from_slice(format!(" {:?}\r\n", parts.version).as_bytes());
    for (name, value) in &parts.headers {
        raw.extend_from_slice(name.as_str().as_bytes());
        raw.extend_from_slice(b": ");
        // Evidence of what was received, not a second copy of the partner's password.
        if name == http::header::AUTHORIZATION || name == http::header::PROXY_AUTHORIZATION {
            raw.extend_from_slice(b"(removed)");
        } else {
            raw.extend_from_slice(value.as_bytes());
        }
        raw.extend_from_slice(b"\r\n");
    }
    raw.extend_from_slice(b"\r\n");
    if include_body {
        raw.extend_from_slice(body);
    }
    Bytes::from(raw)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::SpoolFile;

    #[tokio::test]
    async fn a_spooled_body_reads_back_without_its_head() {
        let path =
            std::env::temp_dir().join(format!("berth-runtime-{}.request", std::process::id()));
        std::fs::write(&path, b"POST /x HTTP/1.1\r\n\r\nthe body").unwrap();
        let body = Body::Spooled(SpoolFile {
            path: path.clone(),
            body_offset: 20,
            body_len: 8,
        });
        assert_eq!(&body_bytes(&body).await.unwrap()[..], b"the body");
        drop(body);
        assert!(!path.exists(), "the spool file goes with its body");
        let memory = Body::Memory(Bytes::from_static(b"in memory"));
        assert_eq!(&body_bytes(&memory).await.unwrap()[..], b"in memory");
    }
}
