//! The `http_send` step: sends the document's payload over HTTP.

use std::collections::BTreeMap;
use std::time::Duration;

use berth_store::StoredPayload;
use reqwest::header::{HeaderName, HeaderValue};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Flow, Loader, Run, StepType};
use crate::payload_body::PayloadBody;
use crate::pointer;
use crate::template::Template;

/// Sends the payload over HTTP.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpSendSpec {
    /// URL to send to (a template), `http://` or `https://`.
    pub url: String,
    /// HTTP method.
    #[serde(default)]
    pub method: HttpMethod,
    /// Request headers: name -> template.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Seconds to wait for the whole exchange before failing the document.
    #[serde(default = "default_timeout")]
    #[schemars(range(min = 1))]
    pub timeout_seconds: u64,
}

fn default_timeout() -> u64 {
    30
}

/// Method of an `http_send` request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum HttpMethod {
    #[default]
    POST,
    PUT,
}

/// A loaded `http_send` step.
#[derive(Debug, Clone)]
pub(crate) struct HttpSend {
    url: Template,
    method: reqwest::Method,
    headers: Vec<(HeaderName, Template)>,
    timeout: Duration,
}

impl StepType for HttpSend {
    const DESCRIPTION: &'static str =
        "Send the document's payload over HTTP. A status other than 2xx, or a transport error,\n\
        fails the document. Sets the property `http_send.status`.";

    type Spec = HttpSendSpec;

    fn load(load: &mut Loader<'_>, at: &str, value: &Value) -> Option<Self> {
        let spec: HttpSendSpec = load.settings(at, value)?;
        let url_at = pointer::join(at, "url");
        let url = load.template(&url_at, &spec.url);
        // A URL without properties can be checked now rather than on the first document.
        if let Some(t) = &url {
            if t.property_names().next().is_none() {
                match reqwest::Url::parse(&spec.url) {
                    Ok(u) if u.scheme() == "http" || u.scheme() == "https" => {}
                    Ok(u) => load.problem(
                        &url_at,
                        format!(
                            "expected an http:// or https:// URL, found scheme `{}`",
                            u.scheme()
                        ),
                    ),
                    Err(e) => load.problem(&url_at, format!("bad URL: {e}")),
                }
            }
        }
        if spec.timeout_seconds == 0 {
            load.problem(
                &pointer::join(at, "timeout_seconds"),
                "expected at least 1 second",
            );
        }
        let headers = load.header_map(&pointer::join(at, "headers"), spec.headers);
        let headers = headers
            .into_iter()
            .filter_map(|(n, t)| HeaderName::from_bytes(n.as_bytes()).ok().map(|n| (n, t)))
            .collect();
        Some(HttpSend {
            url: url?,
            method: match spec.method {
                HttpMethod::POST => reqwest::Method::POST,
                HttpMethod::PUT => reqwest::Method::PUT,
            },
            headers,
            timeout: Duration::from_secs(spec.timeout_seconds),
        })
    }

    async fn run<'s>(&'s self, run: &mut Run<'_>) -> Result<Flow<'s>, String> {
        let status = self.send(run).await?;
        run.properties.set("http_send.status", status.to_string());
        Ok(Flow::Next)
    }
}

impl HttpSend {
    /// Sends the payload; returns the (2xx) status.
    async fn send(&self, run: &Run<'_>) -> Result<u16, String> {
        let client = run.runner.http_client()?;
        let properties = &run.properties;
        let url = self.url.render(properties)?;
        let parsed = reqwest::Url::parse(&url).map_err(|e| format!("bad URL {url:?}: {e}"))?;
        if parsed.scheme() != "http" && parsed.scheme() != "https" {
            return Err(format!("URL {url:?} is not http:// or https://"));
        }
        let mut request = client
            .request(self.method.clone(), parsed)
            .timeout(self.timeout)
            .body(body(&run.payload));
        for (name, template) in &self.headers {
            let value = template.render(properties)?;
            let value = HeaderValue::from_str(&value)
                .map_err(|_| format!("header `{name}`: {value:?} is not a valid header value"))?;
            request = request.header(name.clone(), value);
        }
        let method = &self.method;
        let response = request
            .send()
            .await
            .map_err(|e| format!("{method} {url}: {}", chain(&e)))?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("{method} {url}: HTTP {status}"));
        }
        Ok(status.as_u16())
    }
}

/// The payload as a request body: in memory as it is, otherwise streamed from the store with
/// its exact length.
fn body(payload: &StoredPayload) -> reqwest::Body {
    match payload.in_memory() {
        Some(bytes) => reqwest::Body::from(bytes.clone()),
        None => reqwest::Body::wrap(PayloadBody::new(payload.clone())),
    }
}

/// Builds the one HTTP client a runner shares. Redirects are not followed: a 3xx to an
/// unexpected place must fail the delivery rather than quietly send the document elsewhere
/// (or, for 301/302, turn a POST into a GET without the document).
pub(crate) fn build_client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| format!("cannot set up the HTTP client: {}", chain(&e)))
}

/// An error with its causes: reqwest's top-level message alone ("error sending request")
/// does not say whether the connection was refused or timed out.
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
