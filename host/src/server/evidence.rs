//! The request as the store keeps it for evidence: what the partner sent, as received.

use bytes::Bytes;

/// The request as evidence: request line and headers as received, then the body unless the
/// document's payload is the body itself (stored once, not twice).
pub fn raw_request(parts: &http::request::Parts, body: &Bytes, include_body: bool) -> Bytes {
    // Sized exactly: for a large message a guess too small doubles the buffer, and the peak.
    let head: usize = 64
        + parts.uri.path_and_query().map_or(1, |p| p.as_str().len())
        + parts
            .headers
            .iter()
            .map(|(n, v)| n.as_str().len() + v.len() + 4)
            .sum::<usize>();
    let mut raw = Vec::with_capacity(head + if include_body { body.len() } else { 0 });
    raw.extend_from_slice(parts.method.as_str().as_bytes());
    raw.push(b' ');
    raw.extend_from_slice(
        parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/")
            .as_bytes(),
    );
    raw.extend_from_slice(format!(" {:?}\r\n", parts.version).as_bytes());
    for (name, value) in &parts.headers {
        raw.extend_from_slice(name.as_str().as_bytes());
        raw.extend_from_slice(b": ");
        // Evidence of what was received, not a second copy of the partner's password.
        if name == http::header::AUTHORIZATION || name == http::header::PROXY_AUTHORIZATION {
            raw.extend_from_slice(b"(removed)");
        } else {
            raw.extend_from_slice(value.as_bytes());
        }
        raw.extend_from_slice(b"\r\n");
    }
    raw.extend_from_slice(b"\r\n");
    if include_body {
        raw.extend_from_slice(body);
    }
    Bytes::from(raw)
}
