//! Certificate Exchange Messaging (CEM, draft-meadors-certificate-exchange-14), receiving side:
//! a partner's request, after the normal AS2 unwrapping, is a `multipart/related` whose root is
//! an `application/ediint-cert-exchange+xml` document and whose other parts carry the
//! certificates (usually `application/pkcs7-mime; smime-type=certs-only`), each found by the
//! `ContentID` the XML names. [`parse_request`] reads it, [`verify`] decides per certificate,
//! [`xml::build_response`] writes the answer the partner expects at its `ResponseURL`.

pub mod datetime;
pub mod response;
pub mod xml;

use crate::mime::MimePart;
use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::x509::X509;
use std::cmp::Ordering;
use xml::{CertStatus, TrustResponse};

/// Content type of the CEM request and response documents.
pub const CEM_XML_TYPE: &str = "application/ediint-cert-exchange+xml";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CemError {
    #[error("not a CEM request: {0}")]
    NotCem(String),
    #[error("malformed CEM XML: {0}")]
    Xml(String),
    #[error("malformed CEM MIME structure: {0}")]
    Mime(String),
}

/// What a certificate is offered for (the `CertUsage` values of the draft).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertUsage {
    DigitalSignature,
    KeyEncipherment,
    TlsClient,
    TlsServer,
}

impl CertUsage {
    fn parse(text: &str) -> Option<CertUsage> {
        match text {
            "digitalSignature" => Some(CertUsage::DigitalSignature),
            "keyEncipherment" => Some(CertUsage::KeyEncipherment),
            "tlsClient" => Some(CertUsage::TlsClient),
            "tlsServer" => Some(CertUsage::TlsServer),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CertUsage::DigitalSignature => "digitalSignature",
            CertUsage::KeyEncipherment => "keyEncipherment",
            CertUsage::TlsClient => "tlsClient",
            CertUsage::TlsServer => "tlsServer",
        }
    }
}

/// One certificate offered, with everything the request said about it.
#[derive(Debug, Clone)]
pub struct TrustRequest {
    pub response_url: String,
    /// The `RespondByDate` as Unix seconds: the partner switches to the new certificate then.
    pub respond_by: Option<i64>,
    pub respond_by_text: String,
    /// Usages as written; an unknown one is kept for the rejection reason.
    pub usages: Vec<String>,
    pub issuer_name: String,
    pub serial_number: String,
    pub content_id: String,
    /// The certificate found under `content_id` (matching the serial number when the part
    /// holds several), or `None` when the part is missing or unreadable.
    pub certificate: Option<X509>,
}

#[derive(Debug, Clone)]
pub struct CemRequest {
    pub request_id: String,
    pub trust: Vec<TrustRequest>,
}

/// Reads a CEM request from the unwrapped AS2 content (its MIME headers and body).
///
/// [`CemError::NotCem`] when the content is not one (not `multipart/related`, or no part of it
/// is CEM XML): the message is then an ordinary document. Products differ on whether they
/// declare the `type` parameter of the `multipart/related`, so the parts decide, not it.
pub fn parse_request(part: &MimePart) -> Result<CemRequest, CemError> {
    let ct = part
        .content_type()
        .ok_or_else(|| CemError::NotCem("no Content-Type".into()))?;
    if !ct.is("multipart/related") {
        return Err(CemError::NotCem(format!("content type {}", ct.mime_type)));
    }
    let parts = part
        .multipart_parts()
        .map_err(|e| CemError::Mime(e.to_string()))?;
    let is_xml = |p: &&MimePart| p.content_type().is_some_and(|c| c.is(CEM_XML_TYPE));
    let start = ct.param("start").map(strip_angle);
    let root = match &start {
        Some(id) => parts.iter().filter(is_xml).find(|p| {
            p.header_str("Content-ID")
                .is_some_and(|c| strip_angle(&c) == *id)
        }),
        None => parts.iter().find(is_xml),
    };
    let root = root.ok_or_else(|| {
        CemError::NotCem("no application/ediint-cert-exchange+xml root part".into())
    })?;
    let xml_bytes = root
        .decoded_body()
        .map_err(|e| CemError::Mime(e.to_string()))?;
    let doc = xml::parse_request(&xml_bytes)?;
    let trust = doc
        .trust
        .into_iter()
        .map(|t| {
            let certificate = parts
                .iter()
                .find(|p| {
                    p.header_str("Content-ID")
                        .is_some_and(|c| strip_angle(&c) == strip_angle(&t.content_id))
                })
                .and_then(|p| p.decoded_body().ok())
                .and_then(|body| crate::certs::load_certificates(&body, None).ok())
                .and_then(|certs| pick(certs, &t.serial_number));
            TrustRequest {
                respond_by: datetime::parse(&t.respond_by),
                respond_by_text: t.respond_by,
                response_url: t.response_url,
                usages: t.usages,
                issuer_name: t.issuer_name,
                serial_number: t.serial_number,
                content_id: t.content_id,
                certificate,
            }
        })
        .collect();
    Ok(CemRequest {
        request_id: doc.request_id,
        trust,
    })
}

fn strip_angle(id: &str) -> String {
    id.trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_string()
}

/// The certificate whose serial matches the XML's (decimal, as XML-DSig writes it); a part
/// with a single certificate and a serial written otherwise (hex) still yields that one.
fn pick(certs: Vec<X509>, serial: &str) -> Option<X509> {
    let wanted = BigNum::from_dec_str(serial.trim()).ok();
    let matches = |c: &X509| {
        let Some(w) = &wanted else { return false };
        c.serial_number()
            .to_bn()
            .is_ok_and(|bn| bn.ucmp(w) == Ordering::Equal)
    };
    match certs.iter().position(matches) {
        Some(i) => certs.into_iter().nth(i),
        None if certs.len() == 1 => certs.into_iter().next(),
        None => None,
    }
}

/// A trust request that passed [`verify`]: what to record as the partner's pending certificate.
#[derive(Debug, Clone)]
pub struct Accepted {
    pub certificate: X509,
    pub usages: Vec<CertUsage>,
    /// From when the partner uses it (its `RespondByDate`).
    pub active_from: i64,
}

/// Decides each trust request at `now` (Unix seconds): accepted with what to record, or
/// rejected with the reason the response carries. Also returns the response entries.
pub fn verify(request: &CemRequest, now: i64) -> Vec<(Result<Accepted, String>, TrustResponse)> {
    request
        .trust
        .iter()
        .map(|t| {
            let outcome = verify_one(t, now);
            let status = match &outcome {
                Ok(_) => CertStatus::Accepted,
                Err(reason) => CertStatus::Rejected(reason.clone()),
            };
            let response = TrustResponse {
                issuer_name: t.issuer_name.clone(),
                serial_number: t.serial_number.clone(),
                status,
            };
            (outcome, response)
        })
        .collect()
}

fn verify_one(t: &TrustRequest, now: i64) -> Result<Accepted, String> {
    let lower = t.response_url.to_ascii_lowercase();
    if !(lower.starts_with("http://") || lower.starts_with("https://")) {
        return Err(format!(
            "ResponseURL {} is not an HTTP(S) URL",
            t.response_url
        ));
    }
    let active_from = t
        .respond_by
        .ok_or_else(|| format!("RespondByDate {} is not an xsd:dateTime", t.respond_by_text))?;
    let mut usages = Vec::new();
    for u in &t.usages {
        match CertUsage::parse(u) {
            // berth's AS2 listener has no TLS client-certificate or outbound TLS use for a
            // partner certificate, so accepting one would be a promise it cannot keep.
            Some(CertUsage::TlsClient | CertUsage::TlsServer) => {
                return Err(format!(
                    "certificate usage {u} is not used by this receiver"
                ))
            }
            Some(usage) => usages.push(usage),
            None => return Err(format!("unknown certificate usage {u}")),
        }
    }
    let cert = t
        .certificate
        .clone()
        .ok_or_else(|| format!("no readable certificate under Content-ID {}", t.content_id))?;
    let as_time = |secs: i64| Asn1Time::from_unix(secs).map_err(|e| e.to_string());
    if cert.not_after() <= as_time(now)? {
        return Err("certificate has expired".into());
    }
    if cert.not_after() <= as_time(active_from)? {
        return Err("certificate expires before its RespondByDate".into());
    }
    if cert.not_before() > as_time(active_from.max(now))? {
        return Err("certificate is not yet valid on its RespondByDate".into());
    }
    let bits = key_usage(&cert);
    for usage in &usages {
        let needed = match usage {
            CertUsage::DigitalSignature => KU_DIGITAL_SIGNATURE,
            _ => KU_KEY_ENCIPHERMENT,
        };
        if bits & needed == 0 {
            return Err(format!(
                "certificate key usage does not allow {}",
                usage.as_str()
            ));
        }
    }
    Ok(Accepted {
        certificate: cert,
        usages,
        active_from,
    })
}

const KU_DIGITAL_SIGNATURE: u32 = 0x80;
const KU_KEY_ENCIPHERMENT: u32 = 0x20;

/// The certificate's keyUsage bits; all bits when it has no keyUsage extension (RFC 5280:
/// absent means unrestricted).
fn key_usage(cert: &X509) -> u32 {
    use foreign_types::ForeignType;
    // SAFETY: `cert` is a live X509; X509_get_key_usage only reads it (it may cache the
    // parsed extensions inside, which OpenSSL does under its own lock).
    unsafe { openssl_sys::X509_get_key_usage(cert.as_ptr()) }
}

#[cfg(test)]
mod tests;
