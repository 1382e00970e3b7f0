//! The `return` step: sets the response a synchronous listener sends back, and ends the run.

use std::collections::BTreeMap;

use berth_store::StoredPayload;
use bytes::Bytes;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Flow, Loader, Run, StepType};
use crate::pointer;
use crate::properties::Properties;
use crate::run::Returned;
use crate::template::Template;

/// The response for a synchronous listener.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReturnSpec {
    /// HTTP status code of the response.
    #[serde(default = "default_status")]
    #[schemars(range(min = 100, max = 599))]
    pub status: u16,
    /// Response headers: name -> template.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Response body (a template). Without it, the body is the document's payload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub body: Option<String>,
}

fn default_status() -> u16 {
    200
}

/// A loaded `return` step.
#[derive(Debug, Clone)]
pub(crate) struct Return {
    status: u16,
    headers: Vec<(String, Template)>,
    body: Option<Template>,
}

impl StepType for Return {
    const DESCRIPTION: &'static str =
        "Set the response that a synchronous listener sends back, and end the processing of\n\
        this document. `return:` alone answers 200 with the payload.";

    type Spec = Option<ReturnSpec>;

    fn load(load: &mut Loader<'_>, at: &str, value: &Value) -> Option<Self> {
        // `return:` with nothing after it means "200 with the payload", like `return: {}`.
        let spec: ReturnSpec = if value.is_null() {
            load.settings(at, &Value::Object(Default::default()))?
        } else {
            load.settings(at, value)?
        };
        if !(100..=599).contains(&spec.status) {
            load.problem(
                &pointer::join(at, "status"),
                format!(
                    "expected an HTTP status from 100 to 599, found {}",
                    spec.status
                ),
            );
        }
        let headers = load.header_map(&pointer::join(at, "headers"), spec.headers);
        let body = match &spec.body {
            Some(text) => Some(load.template(&pointer::join(at, "body"), text)?),
            None => None,
        };
        Some(Return {
            status: spec.status,
            headers,
            body,
        })
    }

    async fn run<'s>(&'s self, run: &mut Run<'_>) -> Result<Flow<'s>, String> {
        // The run ends here, so the payload is handed over rather than shared.
        let payload = std::mem::take(&mut run.payload);
        Ok(Flow::End(Some(self.response(payload, &run.properties)?)))
    }
}

impl Return {
    /// The response. With no headers and no body template this allocates nothing: the payload
    /// is handed over as is (this is the hot path of an echo-style process).
    fn response(
        &self,
        payload: StoredPayload,
        properties: &Properties,
    ) -> Result<Returned, String> {
        let mut headers = Vec::new();
        if !self.headers.is_empty() {
            headers.reserve_exact(self.headers.len());
            for (name, template) in &self.headers {
                let value = template.render(properties)?;
                if reqwest::header::HeaderValue::from_str(&value).is_err() {
                    return Err(format!(
                        "header `{name}`: {value:?} is not a valid header value"
                    ));
                }
                headers.push((name.clone(), value.into_owned()));
            }
        }
        // A payload the store keeps outside memory is not loaded: the caller streams it.
        let (body, body_is_payload) = match &self.body {
            Some(template) => (Bytes::from(template.render(properties)?.into_owned()), false),
            None => match payload.into_memory() {
                Ok(bytes) => (bytes, false),
                Err(_stored) => (Bytes::new(), true),
            },
        };
        Ok(Returned {
            status: self.status,
            headers,
            body,
            body_is_payload,
        })
    }
}
