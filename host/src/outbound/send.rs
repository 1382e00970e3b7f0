//! One attempt at a delivery: the HTTP request, and its result in a few words for the record.

use std::time::Duration;

use berth_store::NewDelivery;

/// The HTTP clients deliveries go through: one that checks the partner's certificate host name
/// and one that does not (a partner may ask for that), each keeping its connections.
pub struct Sender {
    verifying: reqwest::Client,
    lenient: reqwest::Client,
}

/// An attempt's result as recorded is cut to this many characters.
const RESULT_LIMIT: usize = 300;

impl Sender {
    pub fn new(timeout: Duration) -> Result<Sender, reqwest::Error> {
        let client = |verify: bool| {
            reqwest::Client::builder()
                .danger_accept_invalid_hostnames(!verify)
                .timeout(timeout)
                .build()
        };
        Ok(Sender {
            verifying: client(true)?,
            lenient: client(false)?,
        })
    }

    /// Sends the delivery once: Ok with the status (`200 OK`) when the partner took it (2xx),
    /// otherwise Err with the status or the failure (`connection refused`).
    pub async fn attempt(&self, delivery: &NewDelivery) -> Result<String, String> {
        let client = match delivery.verify_hostname {
            true => &self.verifying,
            false => &self.lenient,
        };
        let method = reqwest::Method::from_bytes(delivery.method.as_bytes())
            .unwrap_or(reqwest::Method::POST);
        let mut request = client.request(method, delivery.url.as_str());
        for (name, value) in &delivery.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        match request.body(delivery.body.clone()).send().await {
            Ok(response) if response.status().is_success() => Ok(response.status().to_string()),
            Ok(response) => Err(response.status().to_string()),
            Err(e) => Err(describe(&e)),
        }
    }
}

/// An error's causes: reqwest's own message repeats the URL, which the record already shows;
/// the causes say what went wrong (refused, timed out, a certificate).
fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return "timed out".to_string();
    }
    let Some(first) = std::error::Error::source(e) else {
        return e.to_string();
    };
    let mut text = first.to_string();
    let mut source = first.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    if text.len() > RESULT_LIMIT {
        let mut end = RESULT_LIMIT;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}
