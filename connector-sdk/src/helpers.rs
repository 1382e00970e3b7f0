//! Small conveniences for building answers and documents.

use abi_stable::std_types::{ROption, RString, RVec};

use crate::abi::{Document, Outcome, OutcomeKind, OwnedHeader, PayloadFrom, Property, Response};

impl Response {
    /// A response with no body.
    pub fn empty(status: u16) -> Self {
        Self::new(status, Vec::new(), Vec::new())
    }

    /// A plain-text response; the text should say what went wrong in one line.
    pub fn text(status: u16, text: impl Into<String>) -> Self {
        let mut body: String = text.into();
        body.push('\n');
        Self::new(
            status,
            vec![OwnedHeader::new(
                "content-type",
                "text/plain; charset=utf-8",
            )],
            body.into_bytes(),
        )
    }

    pub fn new(status: u16, headers: Vec<OwnedHeader>, body: Vec<u8>) -> Self {
        Self {
            status,
            headers: headers.into(),
            body: body.into(),
            body_is_payload: false,
            evidence: ROption::RNone,
            deliveries: RVec::new(),
            summary: ROption::RNone,
            certificates: RVec::new(),
        }
    }

    /// The answer a simple connector gives once its document's fate is known (the default of
    /// [`crate::Listener::complete`]):
    /// - accepted: what the process's `return` step made, or an empty 200 without one;
    /// - a duplicate: 200 with the answer recorded the first time (empty when none was);
    /// - refused by the host (paused, shutting down, store unavailable): 503 with the reason
    ///   and `Retry-After: 30`, so the sender tries again;
    /// - failed: 500 with `process failed: ` and the reason.
    pub fn from_outcome(outcome: &Outcome) -> Self {
        let error = || outcome.error.as_ref().map_or("", |e| e.as_str());
        match outcome.kind {
            OutcomeKind::ACCEPTED => match outcome.returned.as_ref().into_option() {
                Some(returned) => Self {
                    body_is_payload: returned.body_is_payload,
                    ..Self::new(
                        returned.status,
                        returned.headers.to_vec(),
                        returned.body.to_vec(),
                    )
                },
                None => Self::empty(200),
            },
            OutcomeKind::DUPLICATE => match outcome.stored_answer.as_ref().into_option() {
                Some(answer) => Self::new(200, Vec::new(), answer.to_vec()),
                None => Self::empty(200),
            },
            OutcomeKind::REFUSED => Self::text(503, error()).with_header("retry-after", "30"),
            OutcomeKind::FAILED => Self::text(500, format!("process failed: {}", error())),
            OutcomeKind::KEY_TAKEN => Self::text(409, error()),
            other => Self::text(500, format!("unknown outcome kind {}", other.0)),
        }
    }

    /// Say what the answer said, for the record and the metrics (see [`Response::summary`]).
    pub fn with_summary(mut self, summary: impl Into<RString>) -> Self {
        self.summary = ROption::RSome(summary.into());
        self
    }

    /// Add a header.
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push(OwnedHeader::new(name, value));
        self
    }
}

impl Outcome {
    pub fn is_accepted(&self) -> bool {
        self.kind == OutcomeKind::ACCEPTED
    }
}

impl Property {
    pub fn new(name: impl Into<RString>, value: impl Into<RString>) -> Self {
        Self {
            name: name.into(),
            value: value.into(),
        }
    }
}

impl Document {
    /// A document whose payload is the request body, without copying it.
    pub fn from_request_body(properties: Vec<Property>) -> Self {
        Self {
            payload: RVec::new(),
            payload_from: PayloadFrom::REQUEST_BODY,
            properties: properties.into(),
        }
    }

    /// A document with its own payload (decrypted, decompressed, ...).
    pub fn with_payload(payload: Vec<u8>, properties: Vec<Property>) -> Self {
        Self {
            payload: payload.into(),
            payload_from: PayloadFrom::BYTES,
            properties: properties.into(),
        }
    }

    /// A document whose payload the connector wrote into the request's
    /// [`crate::abi::Request::payload_file`] (a large one, unwrapped as it streamed).
    pub fn from_payload_file(properties: Vec<Property>) -> Self {
        Self {
            payload: RVec::new(),
            payload_from: PayloadFrom::PAYLOAD_FILE,
            properties: properties.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::abi::Request;

    fn outcome(kind: OutcomeKind) -> Outcome {
        Outcome {
            kind,
            document_id: "d1".into(),
            returned: ROption::RNone,
            stored_answer: ROption::RNone,
            error: ROption::RSome("steps[0]: disk full".into()),
        }
    }

    #[test]
    fn the_default_answer_follows_the_outcome() {
        let accepted = Response::from_outcome(&outcome(OutcomeKind::ACCEPTED));
        assert_eq!((accepted.status, accepted.body.len()), (200, 0));
        let mut returned = outcome(OutcomeKind::ACCEPTED);
        returned.returned = ROption::RSome(crate::abi::Returned {
            status: 201,
            headers: vec![OwnedHeader::new("x-a", "b")].into(),
            body: b"made".to_vec().into(),
            body_is_payload: false,
        });
        let made = Response::from_outcome(&returned);
        assert_eq!((made.status, made.body.as_slice()), (201, &b"made"[..]));
        assert!(!made.body_is_payload);
        let mut large = outcome(OutcomeKind::ACCEPTED);
        large.returned = ROption::RSome(crate::abi::Returned {
            status: 200,
            headers: RVec::new(),
            body: RVec::new(),
            body_is_payload: true,
        });
        let streamed = Response::from_outcome(&large);
        assert!(streamed.body_is_payload && streamed.body.is_empty());
        assert_eq!(made.headers[0].name.as_str(), "x-a");
        let mut duplicate = outcome(OutcomeKind::DUPLICATE);
        duplicate.stored_answer = ROption::RSome(b"first".to_vec().into());
        let again = Response::from_outcome(&duplicate);
        assert_eq!((again.status, again.body.as_slice()), (200, &b"first"[..]));
        let failed = Response::from_outcome(&outcome(OutcomeKind::FAILED));
        assert_eq!(failed.status, 500);
        assert_eq!(
            failed.body.as_slice(),
            b"process failed: steps[0]: disk full\n"
        );
        let refused = Response::from_outcome(&outcome(OutcomeKind::REFUSED));
        assert_eq!(refused.status, 503);
        assert!(refused
            .headers
            .iter()
            .any(|h| h.name.as_str() == "retry-after" && h.value.as_str() == "30"));
        assert_eq!(
            Response::from_outcome(&outcome(OutcomeKind(99))).status,
            500
        );
    }

    #[test]
    fn a_spooled_body_reads_from_its_offset() {
        use std::io::Read;
        let path = std::env::temp_dir().join(format!("berth-sdk-spool-{}", std::process::id()));
        std::fs::write(&path, b"POST /x HTTP/1.1\r\n\r\nthe body").unwrap();
        let request = Request {
            method: "POST".into(),
            path: "/x".into(),
            query: ROption::RNone,
            headers: (&[][..]).into(),
            body: (&[][..]).into(),
            body_file: ROption::RSome(path.to_str().unwrap().into()),
            body_offset: 20,
            body_len: 8,
            payload_file: ROption::RNone,
            remote_addr: "127.0.0.1:1".into(),
            client_certificate: ROption::RNone,
            secure: false,
        };
        assert!(request.body_is_spooled());
        let mut read = Vec::new();
        request
            .body_reader()
            .unwrap()
            .read_to_end(&mut read)
            .unwrap();
        assert_eq!(read, b"the body");
        assert_eq!(&*request.body_bytes().unwrap(), b"the body");
        std::fs::remove_file(&path).unwrap();
    }
}
