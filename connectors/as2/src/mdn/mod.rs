//! Building and parsing MDNs (RFC 3798 as profiled by RFC 4130 §7).

use crate::certs::KeyPair;
use crate::cms::{self, CmsError};
use crate::disposition::Disposition;
use crate::mic::Mic;
use crate::micalg::MicAlg;
use crate::mime::{parse_header_block, MimeError, MimePart};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use openssl::x509::X509;
use std::time::{SystemTime, UNIX_EPOCH};
use thiserror::Error;

#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum MdnError {
    #[error("MDN signing failed: {0}")]
    Signing(CmsError),
    #[error("MDN signature invalid: {0}")]
    Signature(CmsError),
    #[error("malformed MDN: {0}")]
    Mime(#[from] MimeError),
    #[error("malformed MDN: {0}")]
    Structure(String),
}

/// What an MDN says. Build it from `receive::Received::mdn_content` or
/// `receive::Failed::mdn_content`, or fill it by hand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MdnContent {
    /// Message-ID of the original message, echoed unchanged.
    pub original_message_id: Option<String>,
    /// AS2-From of the original message (the partner): becomes our AS2-To.
    pub original_as2_from: String,
    /// AS2-To of the original message (us): becomes our AS2-From.
    pub original_as2_to: String,
    pub original_subject: Option<String>,
    pub disposition: Disposition,
    pub mic: Option<Mic>,
    /// Reporting-UA field, e.g. `berth AS2`.
    pub reporting_ua: String,
    /// Extra sentence for the human-readable part (error details).
    pub detail: Option<String>,
    /// Emit `sha256`-style algorithm names for RFC 3851 partners.
    pub legacy_smime: bool,
    /// Right-hand side of our Message-ID.
    pub message_id_domain: String,
}

/// Key and digest to sign an MDN with.
#[derive(Debug, Clone, Copy)]
pub struct MdnSigner<'a> {
    pub key: &'a KeyPair,
    pub alg: MicAlg,
}

/// A built MDN: HTTP headers and body, ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mdn {
    pub message_id: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Builds an MDN, signed (multipart/signed, detached pkcs7-signature) when
/// a signer is given.
pub fn build_mdn(content: &MdnContent, signer: Option<&MdnSigner<'_>>) -> Result<Mdn, MdnError> {
    let message_id = new_message_id(&content.message_id_domain);
    let report_boundary = new_boundary();
    let report_ct = format!(
        "multipart/report; report-type=disposition-notification; boundary=\"{report_boundary}\""
    );
    let report_body = report_body(content, &report_boundary);
    let mut headers = vec![
        (
            "AS2-Version".to_string(),
            crate::ediint::AS2_VERSION.to_string(),
        ),
        // RFC 6017 §3: the features of the answering side, in its answers too.
        (
            "EDIINT-Features".to_string(),
            crate::ediint::features_header(),
        ),
        (
            "AS2-From".to_string(),
            quote_as2_name(&content.original_as2_to),
        ),
        (
            "AS2-To".to_string(),
            quote_as2_name(&content.original_as2_from),
        ),
        ("Message-ID".to_string(), message_id.clone()),
        ("Subject".to_string(), subject(content)),
        ("Mime-Version".to_string(), "1.0".to_string()),
    ];
    let body = match signer {
        None => {
            headers.push(("Content-Type".to_string(), report_ct));
            report_body
        }
        Some(signer) => {
            let mut entity = format!("Content-Type: {report_ct}\r\n\r\n").into_bytes();
            entity.extend_from_slice(&report_body);
            let sig = cms::sign_detached(
                &entity,
                &signer.key.certificate,
                &signer.key.private_key,
                signer.alg,
            )
            .map_err(MdnError::Signing)?;
            let boundary = new_boundary();
            headers.push((
                "Content-Type".to_string(),
                format!(
                    "multipart/signed; protocol=\"application/pkcs7-signature\"; micalg={}; boundary=\"{boundary}\"",
                    signer.alg.name(content.legacy_smime)
                ),
            ));
            signed_body(&entity, &sig, &boundary)
        }
    };
    Ok(Mdn {
        message_id,
        headers,
        body,
    })
}

fn subject(content: &MdnContent) -> String {
    match &content.original_subject {
        Some(s) if !s.is_empty() => format!("Message Disposition Notification: {s}"),
        _ => "Message Disposition Notification".to_string(),
    }
}

fn report_body(content: &MdnContent, boundary: &str) -> Vec<u8> {
    let mut text = format!(
        "The AS2 message{} sent to {} was received.\r\n{}\r\n",
        content
            .original_message_id
            .as_deref()
            .map(|id| format!(" {id}"))
            .unwrap_or_default(),
        content.original_as2_to,
        content.disposition.explanation()
    );
    if let Some(detail) = &content.detail {
        text.push_str(&format!("Details: {}\r\n", single_line(detail)));
    }
    let recipient = format!("rfc822; {}", quote_as2_name(&content.original_as2_to));
    let mut fields = format!(
        "Reporting-UA: {}\r\nOriginal-Recipient: {recipient}\r\nFinal-Recipient: {recipient}\r\n",
        single_line(&content.reporting_ua)
    );
    if let Some(id) = &content.original_message_id {
        fields.push_str(&format!("Original-Message-ID: {}\r\n", single_line(id)));
    }
    fields.push_str(&format!(
        "Disposition: {}\r\n",
        content.disposition.field_value()
    ));
    if let Some(mic) = &content.mic {
        fields.push_str(&format!(
            "Received-Content-MIC: {}\r\n",
            mic.field_value(content.legacy_smime)
        ));
    }
    format!(
        "--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{text}\r\n\
         --{boundary}\r\nContent-Type: message/disposition-notification\r\nContent-Transfer-Encoding: 7bit\r\n\r\n{fields}\r\n\
         --{boundary}--\r\n"
    )
    .into_bytes()
}

pub(crate) fn signed_body(entity: &[u8], sig: &[u8], boundary: &str) -> Vec<u8> {
    let encoded = STANDARD.encode(sig);
    let mut body = format!("--{boundary}\r\n").into_bytes();
    body.extend_from_slice(entity);
    body.extend_from_slice(
        format!(
            "\r\n--{boundary}\r\nContent-Type: application/pkcs7-signature; name=smime.p7s\r\n\
             Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=smime.p7s\r\n\r\n"
        )
        .as_bytes(),
    );
    for line in encoded.as_bytes().chunks(76) {
        body.extend_from_slice(line);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    body
}

/// Header injection guard: values we echo must stay on one line.
fn single_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Quotes an AS2 name when it is not a plain token (RFC 4130 §6.2).
pub fn quote_as2_name(name: &str) -> String {
    let plain = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?=".contains(&b));
    if plain {
        name.to_string()
    } else {
        let escaped: String = single_line(name)
            .chars()
            .flat_map(|c| match c {
                '"' | '\\' => vec!['\\', c],
                _ => vec![c],
            })
            .collect();
        format!("\"{escaped}\"")
    }
}

fn random_hex(n: usize) -> String {
    let mut buf = vec![0u8; n];
    // rand_bytes only fails if the CSPRNG is unusable; the time part below
    // still keeps identifiers unique in that case.
    let _ = openssl::rand::rand_bytes(&mut buf);
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn new_boundary() -> String {
    format!("----=_berth_{}", random_hex(12))
}

/// A new unique Message-ID: `<time.random@domain>`.
pub fn new_message_id(domain: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let domain: String = domain
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        .collect();
    let domain = if domain.is_empty() {
        "berth".into()
    } else {
        domain
    };
    format!("<{nanos:x}.{}@{domain}>", random_hex(8))
}

/// An MDN as read back.
#[derive(Debug, Clone)]
pub struct ParsedMdn {
    pub signed: bool,
    /// Set when the signature was checked against the given certificates.
    pub verified_by: Option<X509>,
    /// The micalg parameter of a signed MDN.
    pub micalg: Option<MicAlg>,
    pub reporting_ua: Option<String>,
    pub original_recipient: Option<String>,
    pub final_recipient: Option<String>,
    pub original_message_id: Option<String>,
    /// The Disposition field as sent.
    pub disposition_field: String,
    /// The disposition, when it is one this crate knows.
    pub disposition: Option<Disposition>,
    pub received_content_mic: Option<Mic>,
    /// The human-readable part.
    pub text: String,
}

/// Parses an MDN from its HTTP headers and body. With `partner_certificates`,
/// a signed MDN's signature must verify against one of them.
pub fn parse_mdn(
    headers: &[(String, Vec<u8>)],
    body: &[u8],
    partner_certificates: Option<&[X509]>,
) -> Result<ParsedMdn, MdnError> {
    let content_headers: Vec<(String, Vec<u8>)> = headers
        .iter()
        .filter(|(n, _)| n.to_ascii_lowercase().starts_with("content-"))
        .cloned()
        .collect();
    let outer = MimePart::from_headers_and_body(&content_headers, body);
    let outer_ct = outer.content_type().unwrap_or_default();
    let (report, signed, verified_by, micalg) = if outer_ct.is("multipart/signed") {
        let parts = outer.multipart_parts()?;
        let [report, signature] = parts.as_slice() else {
            return Err(MdnError::Structure("multipart/signed needs 2 parts".into()));
        };
        let verified_by = match partner_certificates {
            Some(certs) => {
                let sig = signature.decoded_body()?;
                let v = cms::verify_detached(&sig, &report.raw, certs, false)
                    .map_err(MdnError::Signature)?;
                Some(v.signer)
            }
            None => None,
        };
        let micalg = outer_ct.param("micalg").and_then(MicAlg::from_name);
        (report.clone(), true, verified_by, micalg)
    } else {
        (outer, false, None, None)
    };
    if !report
        .content_type()
        .unwrap_or_default()
        .is("multipart/report")
    {
        return Err(MdnError::Structure("not a multipart/report".into()));
    }
    let parts = report.multipart_parts()?;
    let notification = parts
        .iter()
        .find(|p| {
            p.content_type()
                .unwrap_or_default()
                .is("message/disposition-notification")
        })
        .ok_or_else(|| MdnError::Structure("no message/disposition-notification part".into()))?;
    let text = parts
        .iter()
        .find(|p| p.content_type().is_none_or(|ct| ct.is("text/plain")))
        .and_then(|p| p.decoded_body().ok())
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let fields = parse_header_block(&notification.decoded_body()?);
    let field = |name: &str| {
        fields
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| String::from_utf8_lossy(&h.value).into_owned())
    };
    let disposition_field =
        field("disposition").ok_or_else(|| MdnError::Structure("no Disposition field".into()))?;
    Ok(ParsedMdn {
        signed,
        verified_by,
        micalg,
        reporting_ua: field("reporting-ua"),
        original_recipient: field("original-recipient"),
        final_recipient: field("final-recipient"),
        original_message_id: field("original-message-id"),
        disposition: Disposition::parse(&disposition_field),
        disposition_field,
        received_content_mic: field("received-content-mic").and_then(|v| Mic::parse(&v)),
        text,
    })
}

#[cfg(test)]
mod tests;
