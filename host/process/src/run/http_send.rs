//! The `http_send` step.

use bytes::Bytes;
use reqwest::header::HeaderValue;

use crate::properties::Properties;
use crate::step::HttpSend;

/// Builds the one HTTP client a runner shares. Redirects are not followed: a 3xx to an
/// unexpected place must fail the delivery rather than quietly send the document elsewhere
/// (or, for 301/302, turn a POST into a GET without the document).
pub(crate) fn build_client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| format!("cannot set up the HTTP client: {}", chain(&e)))
}

/// Sends the payload; returns the (2xx) status.
pub(crate) async fn send(
    client: &reqwest::Client,
    step: &HttpSend,
    payload: Bytes,
    properties: &Properties,
) -> Result<u16, String> {
    let url = step.url.render(properties)?;
    let parsed = reqwest::Url::parse(&url).map_err(|e| format!("bad URL {url:?}: {e}"))?;
    if parsed.scheme() != "http" && parsed.scheme() != "https" {
        return Err(format!("URL {url:?} is not http:// or https://"));
    }
    let mut request = client
        .request(step.method.clone(), parsed)
        .timeout(step.timeout)
        .body(payload);
    for (name, template) in &step.headers {
        let value = template.render(properties)?;
        let value = HeaderValue::from_str(&value)
            .map_err(|_| format!("header `{name}`: {value:?} is not a valid header value"))?;
        request = request.header(name.clone(), value);
    }
    let method = &step.method;
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
