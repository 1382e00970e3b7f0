//! A submitted document through its process, and its fate as the connector needs to hear it.

use berth_connector_sdk::abi::{Outcome, OutcomeKind, OwnedHeader, Returned, Submission};
use berth_connector_sdk::abi_stable::std_types::{ROption, RString};
use berth_process::{Document, ProcessDef, Properties, RunOutcome, Runner};
use bytes::Bytes;

use crate::ids::new_document_id;

/// Run `submission` through `process`. `request_body` is the body the connector received, used
/// without a copy when the connector says the payload is the body itself.
pub async fn run_submission(
    runner: &Runner,
    process: &ProcessDef,
    submission: Submission,
    request_body: &Bytes,
) -> Outcome {
    let document_id = new_document_id();
    let Submission { document, .. } = submission;
    let payload = if document.payload_is_request_body {
        request_body.clone()
    } else {
        Bytes::from(document.payload.into_vec())
    };
    let mut properties = Properties::default();
    for property in document.properties.into_iter() {
        properties.set(property.name.into_string(), property.value.into_string());
    }
    let doc = Document {
        id: document_id.clone(),
        payload,
        properties,
    };
    match runner.run(process, doc).await {
        RunOutcome::Completed { returned, .. } => Outcome {
            kind: OutcomeKind::ACCEPTED,
            document_id: document_id.into(),
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
        RunOutcome::Failed { step, reason } => {
            tracing::error!(
                process = %process.name,
                document = %document_id,
                %step,
                %reason,
                "document failed"
            );
            Outcome {
                kind: OutcomeKind::FAILED,
                document_id: document_id.into(),
                returned: ROption::RNone,
                stored_answer: ROption::RNone,
                error: format!("{step}: {reason}").into(),
            }
        }
    }
}
