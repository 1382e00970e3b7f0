//! What the store records of a run, and what the connector is told of it: the one mapping from a
//! process run's outcome to the store's `Finish` and to the ABI's `Outcome`.

use berth_connector_sdk::abi::{Delivery, Outcome, OutcomeKind, OwnedHeader, Response, Returned};
use berth_connector_sdk::abi_stable::std_types::ROption;
use berth_process::RunOutcome;
use std::time::{Duration, Instant};

use berth_store::{Answer, Finish, NewDelivery, Store, StoreError};

/// A stored document's outcome, waiting for the connector's answer to be recorded with it.
pub struct Stored {
    pub id: String,
    pub finish: Finish,
}

impl Stored {
    pub fn new(id: &str, finish: Finish) -> Stored {
        Stored {
            id: id.to_string(),
            finish,
        }
    }
}

/// How a run ended, as the store records it.
pub fn finish(outcome: &RunOutcome) -> Finish {
    match outcome {
        RunOutcome::Completed { .. } => Finish::Processed,
        RunOutcome::Failed { step, reason } => Finish::Failed {
            error: failure(step, reason),
        },
    }
}

/// How a failed run is described, in the store and to the connector.
fn failure(step: &str, reason: &str) -> String {
    format!("{step}: {reason}")
}

/// A run's outcome as the connector is told it, and as the store records it.
pub fn to_outcome(id: &str, outcome: RunOutcome) -> (Outcome, Finish) {
    let finish = finish(&outcome);
    let outcome = match outcome {
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
                    body_is_payload: r.body_is_payload,
                })
                .into(),
            stored_answer: ROption::RNone,
            error: ROption::RNone,
        },
        RunOutcome::Failed { .. } => Outcome {
            kind: OutcomeKind::FAILED,
            document_id: id.into(),
            returned: ROption::RNone,
            stored_answer: ROption::RNone,
            error: match &finish {
                Finish::Failed { error } => ROption::RSome(error.as_str().into()),
                Finish::Processed => ROption::RNone,
            },
        },
    };
    (outcome, finish)
}

/// The host refused the document before its process ran (the store failed, the body could
/// not be read back): the sender should send again.
pub fn refused(id: &str, error: &str) -> Outcome {
    Outcome {
        kind: OutcomeKind::REFUSED,
        document_id: id.into(),
        returned: ROption::RNone,
        stored_answer: ROption::RNone,
        error: ROption::RSome(error.into()),
    }
}

/// The document's unique key was received before, by `holder_id`: nothing stored, nothing run.
pub fn key_taken(holder_id: &str) -> Outcome {
    Outcome {
        kind: OutcomeKind::KEY_TAKEN,
        document_id: holder_id.into(),
        returned: ROption::RNone,
        stored_answer: ROption::RNone,
        error: ROption::RSome("this key was received before".into()),
    }
}

/// The answer as the store keeps it: the connector's summary (an MDN's disposition) or the
/// HTTP status, and the evidence the connector names (the MDN) or else the body sent.
pub fn answer(response: &Response) -> Answer {
    Answer {
        summary: match response.summary.as_ref().into_option() {
            Some(summary) => summary.to_string(),
            None => response.status.to_string(),
        },
        bytes: match response.evidence.as_ref().into_option() {
            Some(evidence) => evidence.to_vec(),
            None => response.body.to_vec(),
        },
    }
}

/// How long an outcome waits for an unreachable database to come back before it is given up
/// (the document then stays `received`, and runs again at the next start or take-over).
const CONCLUDE_PATIENCE: Duration = Duration::from_secs(15 * 60);

/// Records a document's outcome and answer; while the database is unreachable, tries again
/// with growing pauses, so that a database restarted under load leaves no document `received`
/// that was in fact answered (a resend would then run it again instead of getting its MDN).
pub async fn conclude(store: &Store, id: &str, finish: Finish, answer: Option<Answer>) {
    let started = Instant::now();
    let mut pause = Duration::from_millis(500);
    let mut retried = false;
    loop {
        match store.conclude(id, finish.clone(), answer.clone()).await {
            Ok(()) => return,
            Err(StoreError::Unavailable(_)) if started.elapsed() < CONCLUDE_PATIENCE => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(10));
                retried = true;
            }
            // An earlier attempt committed, but its acknowledgement was lost with the
            // connection: the outcome is recorded.
            Err(StoreError::WrongState { .. }) if retried => return,
            Err(error) => {
                tracing::error!(document = %id, %error, "cannot record the outcome and answer");
                return;
            }
        }
    }
}

/// The requests an answer promises, as the store keeps them.
pub fn take_deliveries(listener: &str, response: &mut Response) -> Vec<NewDelivery> {
    std::mem::take(&mut response.deliveries)
        .into_iter()
        .map(|delivery| {
            let Delivery {
                url,
                method,
                headers,
                body,
                verify_hostname,
            } = delivery;
            NewDelivery {
                listener: listener.to_string(),
                method: method.into_string(),
                url: url.into_string(),
                headers: headers
                    .iter()
                    .map(|h| (h.name.to_string(), h.value.to_string()))
                    .collect(),
                body: body.into_vec(),
                verify_hostname,
            }
        })
        .collect()
}
