//! MIME entity parsing (RFC 2045/2046) over raw bytes.
//!
//! Entities keep their exact received bytes (`raw`) because signatures and
//! MICs are computed over them; nothing here re-serialises an entity.

use base64::Engine;
use bytes::Bytes;
use thiserror::Error;

#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum MimeError {
    #[error("multipart entity has no boundary parameter")]
    MissingBoundary,
    #[error("multipart boundary {0:?} is invalid")]
    InvalidBoundary(String),
    #[error("multipart body has no opening delimiter for boundary {0:?}")]
    NoParts(String),
    #[error("multipart body is not terminated by the closing delimiter")]
    Unterminated,
    #[error("invalid base64 content: {0}")]
    Base64(String),
    #[error("unsupported Content-Transfer-Encoding {0:?}")]
    UnsupportedEncoding(String),
    /// Only from a streamed body, which keeps the parts after the first in memory.
    #[error("a multipart part after the first is larger than {0} bytes")]
    PartTooLarge(usize),
}

/// One header with its unfolded value (raw bytes: may be invalid UTF-8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub name: String,
    pub value: Vec<u8>,
}

/// A parsed MIME entity: headers plus body, with the raw bytes kept.
///
/// The bytes are shared, not copied: the parts of a multipart entity and the decoded body of an
/// identity-encoded one are views of their parent's buffer. A 200 MB message stays one buffer
/// from decryption to payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MimePart {
    /// The entity exactly as received (headers, blank line, body); for an entity whose headers
    /// travelled as HTTP headers ([`MimePart::with_headers`]), the body alone.
    pub raw: Bytes,
    pub headers: Vec<Header>,
    body_start: usize,
}

impl MimePart {
    /// Parses an entity: headers up to the first empty line (CRLF or bare LF),
    /// then the body. Input without an empty line is all headers.
    pub fn parse(raw: &[u8]) -> MimePart {
        MimePart::parse_bytes(Bytes::copy_from_slice(raw))
    }

    /// [`MimePart::parse`] without a copy.
    pub fn parse_bytes(raw: Bytes) -> MimePart {
        let (header_end, body_start) = find_header_end(&raw);
        MimePart {
            headers: parse_header_block(&raw[..header_end]),
            raw,
            body_start,
        }
    }

    /// An entity whose headers travelled separately (HTTP) from its body, without a copy.
    pub fn with_headers(headers: &[(String, Vec<u8>)], body: Bytes) -> MimePart {
        MimePart {
            raw: body,
            headers: transported_headers(headers),
            body_start: 0,
        }
    }

    /// Builds an entity from separately transported headers (HTTP) and a body.
    pub fn from_headers_and_body(headers: &[(String, Vec<u8>)], body: &[u8]) -> MimePart {
        let mut raw = Vec::with_capacity(body.len() + 256);
        for (name, value) in headers {
            raw.extend_from_slice(name.as_bytes());
            raw.extend_from_slice(b": ");
            raw.extend_from_slice(value);
            raw.extend_from_slice(b"\r\n");
        }
        raw.extend_from_slice(b"\r\n");
        let body_start = raw.len();
        raw.extend_from_slice(body);
        MimePart {
            raw: raw.into(),
            headers: transported_headers(headers),
            body_start,
        }
    }

    /// The (still transfer-encoded) body.
    pub fn body(&self) -> &[u8] {
        &self.raw[self.body_start..]
    }

    /// First value of a header, case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value.as_slice())
    }

    /// First value of a header as text (invalid UTF-8 replaced).
    pub fn header_str(&self, name: &str) -> Option<String> {
        self.header(name)
            .map(|v| String::from_utf8_lossy(v).into_owned())
    }

    pub fn content_type(&self) -> Option<ContentType> {
        self.header_str("content-type")
            .map(|v| ContentType::parse(&v))
    }

    /// The Content-Transfer-Encoding, lower-cased; absent means none.
    pub fn transfer_encoding(&self) -> Option<String> {
        self.header_str("content-transfer-encoding")
            .map(|v| v.trim().to_ascii_lowercase())
    }

    /// The body with its Content-Transfer-Encoding removed: a view of this entity's bytes for
    /// identity encodings, decoded bytes otherwise.
    pub fn decoded_body(&self) -> Result<Bytes, MimeError> {
        match self.transfer_encoding().as_deref() {
            None | Some("") | Some("7bit") | Some("8bit") | Some("binary") => {
                Ok(self.raw.slice(self.body_start..))
            }
            other => decode_transfer_encoding(other, self.body()).map(Bytes::from),
        }
    }

    /// Sub-parts of a multipart entity, as views of this entity's bytes.
    pub fn multipart_parts(&self) -> Result<Vec<MimePart>, MimeError> {
        let ct = self.content_type().unwrap_or_default();
        let boundary = ct.param("boundary").ok_or(MimeError::MissingBoundary)?;
        Ok(split_multipart(self.body(), boundary)?
            .into_iter()
            .map(|part| MimePart::parse_bytes(self.raw.slice_ref(part)))
            .collect())
    }
}

/// A parsed Content-Type (or Content-Disposition) value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContentType {
    /// `type/subtype` (or disposition type), lower-cased.
    pub mime_type: String,
    /// Parameters with lower-cased names and unquoted values.
    pub params: Vec<(String, String)>,
}

impl ContentType {
    pub fn parse(value: &str) -> ContentType {
        let mut parts = split_params(value).into_iter();
        let mime_type = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        let params = parts
            .filter_map(|p| {
                let (name, value) = p.split_once('=')?;
                Some((name.trim().to_ascii_lowercase(), unquote(value.trim())))
            })
            .collect();
        ContentType { mime_type, params }
    }

    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn is(&self, mime_type: &str) -> bool {
        self.mime_type.eq_ignore_ascii_case(mime_type)
    }
}

/// Splits on `;` outside quoted strings.
fn split_params(value: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut in_quotes = false;
    let mut escaped = false;
    for c in value.chars() {
        let current = out.last_mut().expect("never empty");
        if escaped {
            escaped = false;
            current.push(c);
            continue;
        }
        match c {
            '\\' if in_quotes => {
                escaped = true;
                current.push(c);
            }
            '"' => {
                in_quotes = !in_quotes;
                current.push(c);
            }
            ';' if !in_quotes => out.push(String::new()),
            _ => current.push(c),
        }
    }
    out
}

/// Removes surrounding double quotes and backslash escapes (RFC 5322 quoted-string).
pub fn unquote(value: &str) -> String {
    let v = value.trim();
    if v.len() >= 2 && v.starts_with('"') && v.ends_with('"') {
        let mut out = String::with_capacity(v.len());
        let mut chars = v[1..v.len() - 1].chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                if let Some(next) = chars.next() {
                    out.push(next);
                }
            } else {
                out.push(c);
            }
        }
        out
    } else {
        v.to_string()
    }
}

/// Headers that travelled as HTTP headers, as MIME headers.
fn transported_headers(headers: &[(String, Vec<u8>)]) -> Vec<Header> {
    headers
        .iter()
        .map(|(n, v)| Header {
            name: n.clone(),
            value: trim(v).to_vec(),
        })
        .collect()
}

/// Returns (end of header block, start of body).
fn find_header_end(raw: &[u8]) -> (usize, usize) {
    if raw.starts_with(b"\r\n") {
        return (0, 2);
    }
    if raw.starts_with(b"\n") {
        return (0, 1);
    }
    let mut i = 0;
    while let Some(off) = raw[i..].iter().position(|&b| b == b'\n') {
        let nl = i + off;
        let rest = &raw[nl + 1..];
        if rest.starts_with(b"\r\n") {
            return (nl + 1, nl + 3);
        }
        if rest.starts_with(b"\n") {
            return (nl + 1, nl + 2);
        }
        i = nl + 1;
    }
    (raw.len(), raw.len())
}

fn trim(v: &[u8]) -> &[u8] {
    let start = v
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(v.len());
    let end = v
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |p| p + 1);
    &v[start..end]
}

/// Parses a header block, unfolding continuation lines. Lines without a colon
/// are skipped rather than failing the whole message.
pub fn parse_header_block(block: &[u8]) -> Vec<Header> {
    let mut headers: Vec<Header> = Vec::new();
    for line in block.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        if line[0] == b' ' || line[0] == b'\t' {
            if let Some(last) = headers.last_mut() {
                // Unfolding removes the line break only; the whitespace stays.
                last.value.extend_from_slice(line);
                last.value = trim(&last.value).to_vec();
            }
            continue;
        }
        if let Some(colon) = line.iter().position(|&b| b == b':') {
            let name = String::from_utf8_lossy(trim(&line[..colon])).into_owned();
            if name.is_empty() {
                continue;
            }
            headers.push(Header {
                name,
                value: trim(&line[colon + 1..]).to_vec(),
            });
        }
    }
    headers
}

/// Splits a multipart body into its parts' raw bytes (RFC 2046 §5.1.1): the
/// line break before a delimiter belongs to the delimiter.
pub fn split_multipart<'a>(body: &'a [u8], boundary: &str) -> Result<Vec<&'a [u8]>, MimeError> {
    if boundary.is_empty()
        || boundary.len() > 70
        || boundary
            .bytes()
            .any(|b| b.is_ascii_control() || !b.is_ascii())
    {
        return Err(MimeError::InvalidBoundary(boundary.to_string()));
    }
    let delim = format!("--{boundary}");
    let delim = delim.as_bytes();
    let mut parts = Vec::new();
    let mut part_start: Option<usize> = None;
    let mut line_start = 0;
    while line_start <= body.len() {
        let line_end = body[line_start..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(body.len(), |p| line_start + p);
        let line = &body[line_start..line_end];
        if let Some(kind) = delimiter_kind(line, delim) {
            if let Some(start) = part_start {
                let mut end = line_start;
                if end > start && body[end - 1] == b'\n' {
                    end -= 1;
                    if end > start && body[end - 1] == b'\r' {
                        end -= 1;
                    }
                }
                parts.push(&body[start..end.max(start)]);
            }
            if kind == Delimiter::Close {
                if part_start.is_none() {
                    return Err(MimeError::NoParts(boundary.to_string()));
                }
                return Ok(parts);
            }
            part_start = Some((line_end + 1).min(body.len()));
        }
        line_start = line_end + 1;
    }
    match part_start {
        None => Err(MimeError::NoParts(boundary.to_string())),
        Some(_) => Err(MimeError::Unterminated),
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Delimiter {
    Part,
    Close,
}

fn delimiter_kind(line: &[u8], delim: &[u8]) -> Option<Delimiter> {
    let rest = line.strip_prefix(delim)?;
    let (kind, rest) = match rest.strip_prefix(b"--") {
        Some(r) => (Delimiter::Close, r),
        None => (Delimiter::Part, rest),
    };
    // Only transport padding may follow; anything else means a longer boundary.
    rest.iter()
        .all(|&b| matches!(b, b' ' | b'\t' | b'\r'))
        .then_some(kind)
}

/// Removes a Content-Transfer-Encoding. `None` (absent), 7bit, 8bit and
/// binary are identity encodings.
pub fn decode_transfer_encoding(encoding: Option<&str>, body: &[u8]) -> Result<Vec<u8>, MimeError> {
    match encoding.map(|e| e.trim().to_ascii_lowercase()).as_deref() {
        None | Some("") | Some("7bit") | Some("8bit") | Some("binary") => Ok(body.to_vec()),
        Some("base64") => decode_base64(body),
        Some("quoted-printable") => Ok(decode_quoted_printable(body)),
        Some(other) => Err(MimeError::UnsupportedEncoding(other.to_string())),
    }
}

/// Base64 tolerant of line breaks, whitespace and missing padding.
pub fn decode_base64(body: &[u8]) -> Result<Vec<u8>, MimeError> {
    let compact: Vec<u8> = body
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    LENIENT_BASE64
        .decode(compact)
        .map_err(|e| MimeError::Base64(e.to_string()))
}

/// Base64 as senders write it: missing padding and trailing bits are tolerated.
pub(crate) const LENIENT_BASE64: base64::engine::GeneralPurpose =
    base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    );

/// Quoted-printable (RFC 2045 §6.7). Malformed escapes are kept literally,
/// as the RFC recommends for robustness.
pub fn decode_quoted_printable(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let mut lines = body.split(|&b| b == b'\n').peekable();
    while let Some(line) = lines.next() {
        let has_newline = lines.peek().is_some();
        let had_cr = line.ends_with(b"\r");
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        // Trailing whitespace was added in transport and is not part of the data.
        let end = line
            .iter()
            .rposition(|&b| b != b' ' && b != b'\t')
            .map_or(0, |p| p + 1);
        let line = &line[..end];
        let (line, soft_break) = match line.strip_suffix(b"=") {
            Some(l) => (l, true),
            None => (line, false),
        };
        let mut i = 0;
        while i < line.len() {
            if line[i] == b'=' {
                if let (Some(h), Some(l)) = (
                    line.get(i + 1).and_then(|&c| hex_val(c)),
                    line.get(i + 2).and_then(|&c| hex_val(c)),
                ) {
                    out.push(h << 4 | l);
                    i += 3;
                    continue;
                }
            }
            out.push(line[i]);
            i += 1;
        }
        if has_newline && !soft_break {
            if had_cr {
                out.push(b'\r');
            }
            out.push(b'\n');
        }
    }
    out
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
