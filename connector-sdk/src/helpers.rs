//! Small conveniences for building answers and documents.

use abi_stable::std_types::{ROption, RString, RVec};

use crate::abi::{Document, Outcome, OutcomeKind, OwnedHeader, Property, Request, Response};

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
            evidence: ROption::RNone,
            deliveries: RVec::new(),
            summary: RString::new(),
        }
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
            payload_is_request_body: true,
            properties: properties.into(),
        }
    }

    /// A document with its own payload (decrypted, decompressed, ...).
    pub fn with_payload(payload: Vec<u8>, properties: Vec<Property>) -> Self {
        Self {
            payload: payload.into(),
            payload_is_request_body: false,
            properties: properties.into(),
        }
    }
}

/// Does the request carry HTTP basic credentials equal to `user` and `password`?
///
/// Compares in time independent of where the first difference is, so that a peer cannot guess a
/// password byte by byte from response times.
pub fn basic_auth_matches(request: &Request<'_>, user: &str, password: &str) -> bool {
    request
        .header("authorization")
        .is_some_and(|value| basic_credentials_match(value, user, password))
}

/// Does an `Authorization` header value carry basic credentials equal to `user` and
/// `password`? The host uses it for its shared web server; connectors use
/// [`basic_auth_matches`].
pub fn basic_credentials_match(value: &[u8], user: &str, password: &str) -> bool {
    let Ok(value) = std::str::from_utf8(value) else {
        return false;
    };
    let Some((scheme, encoded)) = value.trim().split_once(' ') else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return false;
    }
    let Some(decoded) = decode_base64(encoded.trim()) else {
        return false;
    };
    let expected = format!("{user}:{password}");
    constant_time_eq(&decoded, expected.as_bytes())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Standard base64 with padding, as RFC 7617 uses; `None` on anything else.
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    fn value(c: u8) -> Option<u32> {
        match c {
            b'A'..=b'Z' => Some(u32::from(c - b'A')),
            b'a'..=b'z' => Some(u32::from(c - b'a') + 26),
            b'0'..=b'9' => Some(u32::from(c - b'0') + 52),
            b'+' => Some(62),
            b'/' => Some(63),
            _ => None,
        }
    }
    let bytes = text.as_bytes();
    if bytes.len() % 4 != 0 {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    for chunk in bytes.chunks(4) {
        let pad = chunk.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 {
            return None;
        }
        let mut n = 0u32;
        for &c in &chunk[..4 - pad] {
            n = (n << 6) | value(c)?;
        }
        n <<= 6 * pad as u32;
        let produced = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&produced[..3 - pad]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::abi::Header;

    fn request_with(headers: &[Header<'_>], f: impl FnOnce(&Request<'_>)) {
        let request = Request {
            method: "GET".into(),
            path: "/".into(),
            query: "".into(),
            headers: headers.into(),
            body: (&[][..]).into(),
            body_file: "".into(),
            body_offset: 0,
            body_len: 0,
            remote_addr: "127.0.0.1:1".into(),
            client_certificate: (&[][..]).into(),
            secure: false,
        };
        f(&request)
    }

    #[test]
    fn basic_auth_accepts_exact_credentials_only() {
        // "partner:s3cret"
        let good = [Header {
            name: "authorization".into(),
            value: b"Basic cGFydG5lcjpzM2NyZXQ="[..].into(),
        }];
        request_with(&good, |r| {
            assert!(basic_auth_matches(r, "partner", "s3cret"))
        });
        request_with(&good, |r| {
            assert!(!basic_auth_matches(r, "partner", "s3cre"))
        });
        let garbage = [Header {
            name: "authorization".into(),
            value: b"Basic ###"[..].into(),
        }];
        request_with(&garbage, |r| {
            assert!(!basic_auth_matches(r, "partner", "s3cret"))
        });
        request_with(&[], |r| {
            assert!(!basic_auth_matches(r, "partner", "s3cret"))
        });
    }

    #[test]
    fn base64_round_trips_padding() {
        assert_eq!(decode_base64("YQ==").unwrap(), b"a");
        assert_eq!(decode_base64("YWI=").unwrap(), b"ab");
        assert_eq!(decode_base64("YWJj").unwrap(), b"abc");
        assert!(decode_base64("YWJ").is_none());
    }

    #[test]
    fn a_spooled_body_reads_from_its_offset() {
        use std::io::Read;
        let path = std::env::temp_dir().join(format!("berth-sdk-spool-{}", std::process::id()));
        std::fs::write(&path, b"POST /x HTTP/1.1\r\n\r\nthe body").unwrap();
        let request = Request {
            method: "POST".into(),
            path: "/x".into(),
            query: "".into(),
            headers: (&[][..]).into(),
            body: (&[][..]).into(),
            body_file: path.to_str().unwrap().into(),
            body_offset: 20,
            body_len: 8,
            remote_addr: "127.0.0.1:1".into(),
            client_certificate: (&[][..]).into(),
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
