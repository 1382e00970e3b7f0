//! The high-level entry point: one AS2 request in, payload or rejection out,
//! with everything needed to answer with an MDN either way.

pub(crate) mod stream;

use crate::certs::KeyPair;
use crate::cms::CmsError;
use crate::disposition::{Disposition, Failure, ProcessingError};
use crate::ediint;
use crate::headers::{As2Headers, HeaderError, MicAlgChoice, ReceiptRequest};
use crate::mdn::{build_mdn, Mdn, MdnContent, MdnError, MdnSigner};
use crate::mic::{canonical_entity, Mic};
use crate::micalg::MicAlg;
use crate::mime::MimePart;
use crate::unwrap::{unwrap, Limits, Security, UnwrapError, UnwrapKeys, Unwrapped};
use bytes::Bytes;
use openssl::x509::X509;
pub use stream::OpenBody;
use stream::{unwrap_stream, Streamed};

/// The partner/operation configuration, keys already loaded.
#[derive(Debug, Clone, Default)]
pub struct PartnerSettings {
    /// Our certificates and private keys for decryption (tried in order).
    pub decryption_keys: Vec<KeyPair>,
    /// The partner's signing certificates (no CA chain needed).
    pub partner_certificates: Vec<X509>,
    /// Reject unsigned messages with insufficient-message-security.
    pub require_signed: bool,
    /// Reject unencrypted messages with insufficient-message-security.
    pub require_encrypted: bool,
    /// Accept signatures from expired or not-yet-valid partner certificates.
    pub allow_expired_certificates: bool,
}

/// The document properties a process can see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackedProperties {
    pub as2_from: String,
    pub as2_to: String,
    pub subject: Option<String>,
    /// Message-ID exactly as received: the duplicate key with the AS2 names.
    pub message_id: Option<String>,
    /// Safe file name from the payload's (else the request's) Content-Disposition.
    pub file_name: Option<String>,
    /// MIME type of the unwrapped payload, lower-cased.
    pub mime_type: String,
    /// The payload's boundary when it carries several attachments (RFC 6362: a
    /// multipart/related or multipart/mixed payload), for the listener to split it.
    pub attachments_boundary: Option<String>,
}

/// The receipt the sender asked for, negotiated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub request: ReceiptRequest,
    /// Digest for signing the MDN: the sender's first supported choice,
    /// else SHA-256.
    pub micalg: MicAlg,
}

impl Receipt {
    pub fn is_async(&self) -> bool {
        self.request.async_url.is_some()
    }
}

/// Fixed MDN settings of the receiving side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MdnOptions {
    pub reporting_ua: String,
    pub message_id_domain: String,
    /// RFC 3851 algorithm names (`sha256`) for old partners.
    pub legacy_smime: bool,
}

/// What an MDN about one message needs, whatever its outcome.
#[derive(Debug, Clone)]
pub struct MdnContext {
    pub headers: As2Headers,
    /// `None` when the sender asked for no receipt.
    pub receipt: Option<Receipt>,
    pub mic: Option<Mic>,
}

impl MdnContext {
    /// Context for parsed headers, before (or without) any unwrapping; e.g.
    /// to answer `unknown-trading-partner`.
    pub fn for_headers(headers: As2Headers) -> MdnContext {
        let receipt = headers.receipt_request().map(|request| {
            let micalg = match request.options.micalg() {
                MicAlgChoice::Chosen(alg) => alg,
                MicAlgChoice::Default | MicAlgChoice::Unsupported => MicAlg::Sha256,
            };
            Receipt { request, micalg }
        });
        MdnContext {
            headers,
            receipt,
            mic: None,
        }
    }

    /// The MDN's content for a disposition.
    pub fn content(
        &self,
        disposition: Disposition,
        detail: Option<&str>,
        opts: &MdnOptions,
    ) -> MdnContent {
        MdnContent {
            original_message_id: self.headers.message_id.clone(),
            original_as2_from: self.headers.as2_from.clone(),
            original_as2_to: self.headers.as2_to.clone(),
            original_subject: self.headers.subject.clone(),
            disposition,
            mic: self.mic.clone(),
            reporting_ua: opts.reporting_ua.clone(),
            detail: detail.map(str::to_string),
            legacy_smime: opts.legacy_smime,
            message_id_domain: opts.message_id_domain.clone(),
        }
    }

    /// Builds the MDN when one was requested (`None` otherwise), signed when
    /// the sender asked for a signed receipt and `signing_key` is given.
    pub fn build_mdn(
        &self,
        disposition: Disposition,
        detail: Option<&str>,
        opts: &MdnOptions,
        signing_key: Option<&KeyPair>,
    ) -> Result<Option<Mdn>, MdnError> {
        let Some(receipt) = &self.receipt else {
            return Ok(None);
        };
        let signer = signing_key
            .filter(|_| receipt.request.signed)
            .map(|key| MdnSigner {
                key,
                alg: receipt.micalg,
            });
        build_mdn(&self.content(disposition, detail, opts), signer.as_ref()).map(Some)
    }
}

/// A message that was unwrapped and passed the security policy.
#[derive(Debug, Clone)]
pub struct Received {
    /// The payload with its transfer encoding removed: a view of the decrypted (or received)
    /// buffer, see [`payload_vec`].
    pub payload: Bytes,
    pub properties: TrackedProperties,
    pub security: Security,
    pub context: MdnContext,
    /// The unwrapped entity when it is `multipart/related` (a certificate exchange request
    /// may be one, see `cem`); `None` otherwise, so that no MIME view holds the payload's
    /// buffer for the others.
    pub related: Option<MimePart>,
}

impl Received {
    /// The Received-Content-MIC (always computed for accepted messages).
    pub fn mic(&self) -> Option<&Mic> {
        self.context.mic.as_ref()
    }
}

/// A message that must be answered with an error disposition.
#[derive(Debug, Clone)]
pub struct Failed {
    pub disposition: Disposition,
    pub detail: String,
    /// The CMS error behind the disposition (e.g. an expired certificate).
    pub cms_error: Option<CmsError>,
    /// Layers removed before the failure.
    pub security: Security,
    pub context: MdnContext,
}

impl Failed {
    /// A rejection decided by the caller, e.g. `unknown-trading-partner`.
    pub fn new(headers: As2Headers, disposition: Disposition, detail: impl Into<String>) -> Failed {
        Failed {
            disposition,
            detail: detail.into(),
            cms_error: None,
            security: Security::default(),
            context: MdnContext::for_headers(headers),
        }
    }

    /// The error MDN, when the sender asked for one.
    pub fn build_mdn(
        &self,
        opts: &MdnOptions,
        signing_key: Option<&KeyPair>,
    ) -> Result<Option<Mdn>, MdnError> {
        self.context
            .build_mdn(self.disposition, Some(&self.detail), opts, signing_key)
    }
}

/// Why a request was not accepted.
#[derive(Debug, Clone)]
pub enum Rejection {
    /// The AS2 headers are unusable: answer HTTP 400, no MDN is possible.
    BadRequest(HeaderError),
    /// Answer with an MDN carrying the disposition.
    Failed(Box<Failed>),
}

/// Processes one AS2 request: headers (names with raw values) and body.
pub fn receive(
    headers: &[(String, Vec<u8>)],
    body: &[u8],
    settings: &PartnerSettings,
    limits: &Limits,
) -> Result<Received, Rejection> {
    let parsed = As2Headers::parse(headers).map_err(Rejection::BadRequest)?;
    receive_parsed(parsed, Bytes::copy_from_slice(body), settings, limits)
}

/// Like [`receive`], for headers already parsed (e.g. to pick the partner).
pub fn receive_parsed(
    headers: As2Headers,
    body: Bytes,
    settings: &PartnerSettings,
    limits: &Limits,
) -> Result<Received, Rejection> {
    receive_body(headers, Body::Memory(body), settings, limits)
}

/// A request body: in memory, or in a file it is read from as a stream.
pub enum Body<'a> {
    Memory(Bytes),
    /// `open` gives the body from its start (a fallback may read it twice); `len` is its size.
    Stream {
        open: OpenBody<'a>,
        len: u64,
    },
}

/// Like [`receive_parsed`], for a body that may be too large to hold twice: an encrypted
/// message streams through its decryption (see `receive_stream`).
pub fn receive_body(
    headers: As2Headers,
    body: Body<'_>,
    settings: &PartnerSettings,
    limits: &Limits,
) -> Result<Received, Rejection> {
    let mut context = precheck(MdnContext::for_headers(headers))?;
    let fail = |context: MdnContext, disposition, detail: String, security, cms_error| {
        Rejection::Failed(Box::new(Failed {
            disposition,
            detail,
            cms_error,
            security,
            context,
        }))
    };
    let keys = UnwrapKeys {
        decryption_keys: &settings.decryption_keys,
        partner_certificates: &settings.partner_certificates,
        allow_expired_certificates: settings.allow_expired_certificates,
    };
    // The body as received, when it is in memory: an unsigned, unencrypted message's MIC is
    // computed over it. A streamed body is never needed again once decrypted.
    let (result, body) = match body {
        Body::Memory(body) => (unwrap_entity(&context.headers, &body, &keys, limits), body),
        Body::Stream { open, len } => {
            match unwrap_stream(&context.headers, open, len, &keys, limits) {
                Ok(Streamed::Unwrapped(result)) => (result, Bytes::new()),
                Ok(Streamed::InMemory(body)) => {
                    (unwrap_entity(&context.headers, &body, &keys, limits), body)
                }
                Err(e) => (Err(e), Bytes::new()),
            }
        }
    };
    let unwrapped = match result {
        Ok(u) => u,
        Err(e) => {
            // Nothing meaningful can be hashed when the outer layer did not decrypt.
            if e.error != ProcessingError::DecryptionFailed || e.security.signed_entity.is_some() {
                context.mic = mic_for(&context, &e.security, &body);
            }
            return Err(fail(
                context,
                Disposition::Error(e.error),
                e.detail,
                e.security,
                e.cms_error,
            ));
        }
    };
    let security = unwrapped.security;
    context.mic = mic_for(&context, &security, &body);
    drop(body);

    if let Some(detail) = insufficient_security(settings, &security) {
        let d = Disposition::Error(ProcessingError::InsufficientMessageSecurity);
        return Err(fail(context, d, detail, security, None));
    }

    let payload = match unwrapped.payload.decoded_body() {
        Ok(p) => p,
        Err(e) => {
            let d = Disposition::Error(ProcessingError::UnexpectedProcessingError);
            return Err(fail(context, d, format!("payload: {e}"), security, None));
        }
    };
    let properties = tracked_properties(&context.headers, &unwrapped.payload);
    let related = unwrapped
        .payload
        .content_type()
        .is_some_and(|ct| ct.is("multipart/related"))
        .then(|| unwrapped.payload.clone());
    Ok(Received {
        payload,
        properties,
        security,
        context,
        related,
    })
}

/// The checks made before any unwrapping: AS2-Version, Message-ID and the receipt options.
pub(crate) fn precheck(context: MdnContext) -> Result<MdnContext, Rejection> {
    let fail = |context: MdnContext, disposition, detail: String| {
        Rejection::Failed(Box::new(Failed {
            disposition,
            detail,
            cms_error: None,
            security: Security::default(),
            context,
        }))
    };
    if let Some(detail) = header_problem(&context) {
        let d = Disposition::Error(ProcessingError::UnexpectedProcessingError);
        return Err(fail(context, d, detail));
    }
    if let Some(receipt) = &context.receipt {
        let opts = &receipt.request.options;
        let failure = if opts.requires_unsupported_protocol() {
            Some(Failure::UnsupportedFormat)
        } else if opts.micalg() == MicAlgChoice::Unsupported {
            Some(Failure::UnsupportedMicAlgorithms)
        } else {
            None
        };
        if let Some(f) = failure {
            let detail = format!(
                "Disposition-Notification-Options not supported: {}",
                f.as_str()
            );
            return Err(fail(context, Disposition::Failed(f), detail));
        }
    }
    Ok(context)
}

/// What the partner's policy requires that the message lacks, as the refusal's detail.
pub(crate) fn insufficient_security(
    settings: &PartnerSettings,
    security: &Security,
) -> Option<String> {
    let mut missing = Vec::new();
    if settings.require_signed && !security.signed() {
        missing.push("signed");
    }
    if settings.require_encrypted && !security.encrypted() {
        missing.push("encrypted");
    }
    (!missing.is_empty()).then(|| format!("the message must be {}", missing.join(" and ")))
}

/// The properties of a message whose innermost entity is `payload` (its headers suffice).
pub(crate) fn tracked_properties(headers: &As2Headers, payload: &MimePart) -> TrackedProperties {
    TrackedProperties {
        as2_from: headers.as2_from.clone(),
        as2_to: headers.as2_to.clone(),
        subject: headers.subject.clone(),
        message_id: headers.message_id.clone(),
        file_name: payload
            .header_str("content-disposition")
            .and_then(|v| crate::headers::filename_from_disposition(&v))
            .or_else(|| headers.filename()),
        mime_type: payload
            .content_type()
            .map(|ct| ct.mime_type)
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| "application/octet-stream".into()),
        attachments_boundary: payload
            .content_type()
            .filter(|ct| crate::attachments::is_multiple_type(&ct.mime_type))
            .map(|ct| ct.param("boundary").unwrap_or_default().to_string()),
    }
}

/// Why the message's AS2-Version or Message-ID cannot be accepted (see `ediint`): answered
/// with `processed/error: unexpected-processing-error` and this sentence, RFC 4130 having no
/// disposition of its own for either. An over-long Message-ID is still echoed in the MDN's
/// Original-Message-ID: without it the partner cannot match the refusal to its message (pyas2lib,
/// for one, cannot read such an MDN at all), and the partner's own software wrote that line.
fn header_problem(context: &MdnContext) -> Option<String> {
    ediint::message_id_problem(context.headers.message_id.as_deref())
        .or_else(|| ediint::version_problem(context.headers.as2_version.as_deref()))
}

/// The payload as an owned vector, without a copy when it is the last view of its buffer (once
/// the MIME parts and the security record are gone): the bytes are moved to the front of the
/// decrypted buffer in place, so a 200 MB payload never exists twice.
pub fn payload_vec(payload: Bytes) -> Vec<u8> {
    match payload.try_into_mut() {
        Ok(unique) => Vec::from(unique),
        Err(shared) => shared.to_vec(),
    }
}

fn unwrap_entity(
    headers: &As2Headers,
    body: &Bytes,
    keys: &UnwrapKeys<'_>,
    limits: &Limits,
) -> Result<Unwrapped, Box<UnwrapError>> {
    let entity = MimePart::with_headers(&content_headers(headers), body.clone());
    unwrap(entity, keys, limits)
}

/// The MIME headers that travel as HTTP headers in AS2.
pub(crate) fn content_headers(h: &As2Headers) -> Vec<(String, Vec<u8>)> {
    let mut out = vec![(
        "Content-Type".to_string(),
        h.content_type.clone().into_bytes(),
    )];
    if let Some(cte) = &h.content_transfer_encoding {
        out.push(("Content-Transfer-Encoding".into(), cte.clone().into_bytes()));
    }
    if let Some(cd) = &h.content_disposition {
        out.push(("Content-Disposition".into(), cd.clone().into_bytes()));
    }
    out
}

/// The Received-Content-MIC (RFC 4130 §7.3.1):
/// - signed: over the signed entity exactly as verified, with the signature's digest;
/// - encrypted, unsigned: over the canonical decrypted entity (headers + body);
/// - otherwise: over the message content as received, without headers.
///
/// Unsigned messages use the digest requested in signed-receipt-micalg, else SHA-256.
pub(crate) fn mic_for(context: &MdnContext, security: &Security, body: &[u8]) -> Option<Mic> {
    let requested = context
        .receipt
        .as_ref()
        .map_or(MicAlg::Sha256, |r| r.micalg);
    if let Some(signed) = &security.signed_entity {
        return Some(Mic::compute(
            security.signature_alg.unwrap_or(requested),
            signed,
        ));
    }
    if let Some(decrypted) = &security.decrypted_entity {
        return Some(Mic::compute(requested, &canonical_entity(decrypted)));
    }
    Some(Mic::compute(requested, body))
}

#[cfg(test)]
mod tests;
