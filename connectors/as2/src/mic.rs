//! The Received-Content-MIC (RFC 4130 §7.3.1, RFC 5402 §4).
//!
//! What is hashed is decided by the unwrapping (see `unwrap::Unwrapped::mic_input`);
//! this module hashes, formats and canonicalises. Canonicalisation is where
//! AS2 implementations disagree most, so the rules are explicit:
//! - header lines always end in CRLF;
//! - a body is converted to CRLF line ends only when it is text: a
//!   line-oriented transfer encoding (base64, quoted-printable, 7bit), or
//!   8bit/absent encoding with a `text/*` (or absent) Content-Type;
//! - `binary` bodies and non-text 8bit/absent bodies are hashed byte for byte.

use crate::micalg::MicAlg;
use crate::mime::MimePart;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use std::fmt;

/// A MIC value with its algorithm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mic {
    pub alg: MicAlg,
    pub digest: Vec<u8>,
}

impl Mic {
    pub fn compute(alg: MicAlg, data: &[u8]) -> Mic {
        Mic {
            alg,
            digest: alg.digest(data),
        }
    }

    pub fn base64(&self) -> String {
        STANDARD.encode(&self.digest)
    }

    /// `base64, sha-256` (or `base64, sha256` for legacy S/MIME names).
    pub fn field_value(&self, legacy_smime: bool) -> String {
        format!("{}, {}", self.base64(), self.alg.name(legacy_smime))
    }

    /// Parses a Received-Content-MIC field value.
    pub fn parse(value: &str) -> Option<Mic> {
        let (b64, alg) = value.split_once(',')?;
        let digest = STANDARD.decode(b64.trim()).ok()?;
        let alg = MicAlg::from_name(alg)?;
        Some(Mic { alg, digest })
    }
}

impl fmt::Display for Mic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.field_value(false))
    }
}

/// Converts bare LF (and bare CR) line ends to CRLF; existing CRLFs stay.
pub fn to_crlf(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + data.len() / 32);
    let mut i = 0;
    while i < data.len() {
        match data[i] {
            b'\r' if data.get(i + 1) == Some(&b'\n') => {
                out.extend_from_slice(b"\r\n");
                i += 2;
                continue;
            }
            b'\r' | b'\n' => out.extend_from_slice(b"\r\n"),
            b => out.push(b),
        }
        i += 1;
    }
    out
}

/// Whether an entity's body is line-oriented text (see module docs).
pub fn is_text_body(part: &MimePart) -> bool {
    match part.transfer_encoding().as_deref() {
        Some("binary") => false,
        Some("base64") | Some("quoted-printable") | Some("7bit") => true,
        _ => part
            .content_type()
            .is_none_or(|ct| ct.mime_type.is_empty() || ct.mime_type.starts_with("text/")),
    }
}

/// The canonical form of a MIME entity (headers + body) for a MIC.
pub fn canonical_entity(raw: &[u8]) -> Vec<u8> {
    let part = MimePart::parse(raw);
    let body = part.body();
    let header_len = raw.len() - body.len();
    let mut out = to_crlf(&raw[..header_len]);
    if is_text_body(&part) {
        out.extend_from_slice(&to_crlf(body));
    } else {
        out.extend_from_slice(body);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses_field_values() {
        let mic = Mic::compute(MicAlg::Sha256, b"abc");
        assert_eq!(
            mic.field_value(false),
            "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=, sha-256"
        );
        assert_eq!(
            mic.field_value(true),
            "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=, sha256"
        );
        assert_eq!(Mic::parse(&mic.field_value(true)), Some(mic.clone()));
        assert_eq!(
            Mic::parse(" ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0= ,SHA-256"),
            Some(mic)
        );
        assert_eq!(Mic::parse("zz, sha-256"), None);
        assert_eq!(Mic::parse("abc="), None);
        let sha1 = Mic::compute(MicAlg::Sha1, b"abc");
        assert_eq!(sha1.to_string(), "qZk+NkcGgWq6PiVxeFDCbJzQ2J0=, sha-1");
    }

    #[test]
    fn crlf_conversion() {
        assert_eq!(to_crlf(b"a\nb\r\nc\rd"), b"a\r\nb\r\nc\r\nd");
        assert_eq!(to_crlf(b"\r\n\r\n"), b"\r\n\r\n");
        assert_eq!(to_crlf(b""), b"");
    }

    #[test]
    fn text_bodies_are_canonicalised_with_bare_lf() {
        let lf = b"Content-Type: text/plain\nContent-Transfer-Encoding: 7bit\n\nline1\nline2\n";
        let crlf = b"Content-Type: text/plain\r\nContent-Transfer-Encoding: 7bit\r\n\r\nline1\r\nline2\r\n";
        assert_eq!(canonical_entity(lf), crlf.to_vec());
        assert_eq!(canonical_entity(crlf), crlf.to_vec());
    }

    #[test]
    fn binary_bodies_are_hashed_as_is() {
        let raw = b"Content-Type: application/octet-stream\nContent-Transfer-Encoding: binary\n\n\x00\n\r\xff";
        let canon = canonical_entity(raw);
        assert_eq!(
            canon,
            b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n\x00\n\r\xff"
        );
    }

    #[test]
    fn missing_transfer_encoding_depends_on_content_type() {
        // No CTE, EDI content type: bytes kept (EDI segment terminators may be bare LF).
        let edi = b"Content-Type: application/edi-x12\r\n\r\nISA*00~\nGS*~\n";
        assert_eq!(canonical_entity(edi), edi.to_vec());
        // No CTE, text type: line ends canonicalised.
        let text = b"Content-Type: text/plain\r\n\r\na\nb";
        assert_eq!(
            canonical_entity(text),
            b"Content-Type: text/plain\r\n\r\na\r\nb"
        );
        // No CTE and no Content-Type: RFC 2045 default text/plain.
        assert_eq!(canonical_entity(b"X-A: 1\n\na\n"), b"X-A: 1\r\n\r\na\r\n");
        // base64 bodies are line-oriented text whatever the content type.
        let b64 = b"Content-Type: application/pkcs7-mime\r\nContent-Transfer-Encoding: base64\r\n\r\nAAAA\nAAAA\n";
        assert!(canonical_entity(b64).ends_with(b"AAAA\r\nAAAA\r\n"));
    }
}
