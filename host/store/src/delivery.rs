//! The outbox: requests the host sends after it has answered (asynchronous MDNs), kept in the
//! store so that a delivery outlives the process that promised it.
//!
//! A delivery is written in the same commit as the answer that promises it
//! ([`crate::Store::conclude_with`]), or on its own when no document outcome goes with it
//! ([`crate::Store::enqueue`]). A worker claims due deliveries for a while (a lease: its claimer's
//! name and a time), sends them, and records each attempt with what comes next: delivered,
//! another attempt at a later time, or given up. A claimer that dies holds nothing for longer
//! than its lease: any claimer takes the delivery once the lease has run out. The store decides
//! nothing about back-off; the worker does.

use std::fmt;

use crate::error::StoreError;

/// A request to send later, as the answer that promises it hands it over.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewDelivery {
    /// The listener whose answer promised it (for logs and listings).
    pub listener: String,
    /// `POST` or `PUT`.
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Check the server certificate's host name (HTTPS only).
    pub verify_hostname: bool,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryState {
    /// Not delivered yet; the next attempt is due at `next_attempt_at`.
    Pending,
    Delivered,
    /// Given up after its retry window.
    Failed,
}

impl DeliveryState {
    /// The spelling stored in the database and shown to operators.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Result<DeliveryState, StoreError> {
        match s {
            "pending" => Ok(DeliveryState::Pending),
            "delivered" => Ok(DeliveryState::Delivered),
            "failed" => Ok(DeliveryState::Failed),
            other => Err(StoreError::Corrupt(format!(
                "unknown delivery state {other:?}"
            ))),
        }
    }
}

impl fmt::Display for DeliveryState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One try at sending a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// Unix milliseconds.
    pub at: i64,
    /// What happened, in a few words: `200 OK`, `503 Service Unavailable`, `connection refused`.
    pub result: String,
}

/// A delivery as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The store's number for it.
    pub id: i64,
    /// The document whose answer promised it; None when the connector answered without
    /// submitting a document (an error MDN for a message that was never stored).
    pub document_id: Option<String>,
    pub request: NewDelivery,
    /// Unix milliseconds.
    pub created_at: i64,
    /// When the next attempt is due (unix milliseconds); kept as it was once delivered or failed.
    pub next_attempt_at: i64,
    pub state: DeliveryState,
    /// Oldest first.
    pub attempts: Vec<Attempt>,
}

/// What an attempt leads to, as the worker decided it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    Delivered,
    /// Try again at this unix millisecond.
    RetryAt(i64),
    /// The retry window is over: the delivery is failed for good.
    GiveUp,
}

/// Headers as one text column: `Name: value` lines. A header name holds no colon and a value no
/// line end (HTTP allows neither), so the text reads back exactly.
pub(crate) fn headers_text(headers: &[(String, String)]) -> String {
    let mut text = String::new();
    for (name, value) in headers {
        text.push_str(name);
        text.push_str(": ");
        text.push_str(value);
        text.push('\n');
    }
    text
}

pub(crate) fn headers_of(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| line.split_once(": "))
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_read_back_as_written() {
        let headers = vec![
            (
                "Content-Type".to_string(),
                "multipart/signed; a=\"b: c\"".to_string(),
            ),
            ("AS2-To".to_string(), "".to_string()),
        ];
        assert_eq!(headers_of(&headers_text(&headers)), headers);
        for state in [
            DeliveryState::Pending,
            DeliveryState::Delivered,
            DeliveryState::Failed,
        ] {
            assert_eq!(DeliveryState::parse(state.as_str()).unwrap(), state);
        }
    }
}
