//! From an MDN to the answer the host gives: in the HTTP response (synchronous), or as a
//! delivery the host sends after answering (asynchronous); with the MDN kept as evidence in a
//! form that can be replayed to a partner who resends the same message.

use std::path::Path;
use std::time::SystemTime;

use berth_connector_sdk::prelude::*;

use crate::mdn::Mdn;

/// Where the MDN goes.
#[derive(Debug, Clone)]
pub enum Route {
    /// No receipt was asked for.
    None,
    /// In the HTTP response.
    Sync,
    /// POSTed to the Receipt-Delivery-Option URL once the request is answered.
    Async { url: String, verify_hostname: bool },
}

/// An MDN as sent: header lines and body. The evidence format is exactly the MDN as an HTTP
/// message would carry it: `Name: value` lines ending in CRLF, an empty line, the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentMdn {
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl SentMdn {
    /// The built MDN with a `Date` header (RFC 4130 MDNs are dated like the messages).
    pub fn from_mdn(mdn: Mdn) -> Self {
        let mut headers = mdn.headers;
        headers.push(("Date".into(), httpdate::fmt_http_date(SystemTime::now())));
        Self {
            headers,
            body: mdn.body,
        }
    }

    pub fn to_evidence(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.body.len() + 512);
        for (name, value) in &self.headers {
            out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&self.body);
        out
    }

    /// Read back what [`SentMdn::to_evidence`] wrote; `None` when it is not such a record.
    pub fn from_evidence(evidence: &[u8]) -> Option<Self> {
        let split = evidence.windows(4).position(|w| w == b"\r\n\r\n")?;
        let head = std::str::from_utf8(&evidence[..split]).ok()?;
        let headers = head
            .split("\r\n")
            .map(|line| {
                let (name, value) = line.split_once(':')?;
                Some((name.trim().to_string(), value.trim().to_string()))
            })
            .collect::<Option<Vec<_>>>()?;
        if headers.is_empty() {
            return None;
        }
        Some(Self {
            headers,
            body: evidence[split + 4..].to_vec(),
        })
    }

    /// The same MDN with a fresh Date, for a replay.
    pub fn redated(mut self) -> Self {
        self.headers
            .retain(|(n, _)| !n.eq_ignore_ascii_case("date"));
        self.headers
            .push(("Date".into(), httpdate::fmt_http_date(SystemTime::now())));
        self
    }
}

/// The HTTP answer for an MDN sent along `route`; `fallback` is the status and text used when
/// no receipt was asked for.
pub fn respond(mdn: Option<SentMdn>, route: &Route, fallback: (u16, &str)) -> Response {
    let Some(mdn) = mdn else {
        return match fallback {
            (200, _) => Response::empty(200),
            (status, text) => Response::text(status, text),
        };
    };
    let evidence = mdn.to_evidence();
    let mut response = match route {
        Route::Async {
            url,
            verify_hostname,
        } => {
            let mut response = Response::empty(200);
            response.deliveries.push(Delivery {
                url: url.as_str().into(),
                method: "POST".into(),
                headers: owned(&mdn.headers).into(),
                body: mdn.body.into(),
                verify_hostname: *verify_hostname,
            });
            response
        }
        // A synchronous MDN is always HTTP 200, whatever its disposition (RFC 4130 §7.5.3).
        Route::Sync | Route::None => Response::new(200, owned(&mdn.headers), mdn.body),
    };
    response.evidence = Some(evidence.into()).into();
    response
}

fn owned(headers: &[(String, String)]) -> Vec<OwnedHeader> {
    headers
        .iter()
        .map(|(n, v)| OwnedHeader::new(n.as_str(), v.as_str()))
        .collect()
}

/// Write one evidence file; a failure is logged, never fails the message: the partner's receipt
/// must not depend on an archive folder.
pub fn archive(dir: &Path, name: &str, data: &[u8], log: &Logger, process: &str) {
    let result = std::fs::create_dir_all(dir).and_then(|_| std::fs::write(dir.join(name), data));
    if let Err(e) = result {
        log.error(
            process,
            &format!("cannot archive {name} in {}: {e}", dir.display()),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evidence_round_trips() {
        let mdn = SentMdn {
            headers: vec![
                ("AS2-From".into(), "\"us two\"".into()),
                (
                    "Content-Type".into(),
                    "multipart/report; boundary=\"b\"".into(),
                ),
            ],
            body: b"--b\r\n\r\nx\r\n\r\n--b--\r\n".to_vec(),
        };
        let back = SentMdn::from_evidence(&mdn.to_evidence()).unwrap();
        assert_eq!(back, mdn);
        assert!(SentMdn::from_evidence(b"no header block").is_none());
        let redated = back.redated();
        assert_eq!(redated.headers.last().unwrap().0, "Date");
    }

    #[test]
    fn async_mdn_is_a_delivery_after_an_empty_200() {
        let mdn = SentMdn {
            headers: vec![("Content-Type".into(), "multipart/report".into())],
            body: b"mdn".to_vec(),
        };
        let route = Route::Async {
            url: "http://127.0.0.1:1/mdn".into(),
            verify_hostname: false,
        };
        let response = respond(Some(mdn), &route, (400, "x"));
        assert_eq!(response.status, 200);
        assert!(response.body.is_empty());
        assert_eq!(response.deliveries.len(), 1);
        assert_eq!(response.deliveries[0].body.as_slice(), b"mdn");
        assert!(response.evidence.is_some());
    }
}
