//! CMS operations over DER: decryption, signature verification and
//! signing, on top of openssl, plus the few facts openssl's Rust API
//! does not expose (content type, signer digest), read with our DER reader.

mod gcm;
pub(crate) mod sid;
mod sign;
mod verify;

use crate::certs::KeyPair;
use crate::der::{self, TAG_OID, TAG_SEQUENCE, TAG_SET};
use crate::micalg::MicAlg;
pub(crate) use gcm::{content_cipher, gcm_parameters};
use openssl::asn1::Asn1Time;
use openssl::cms::{CMSOptions, CmsContentInfo};
use openssl::error::ErrorStack;
use openssl::pkey::{PKeyRef, Private};
use openssl::stack::Stack;
use openssl::x509::{X509Ref, X509};
use thiserror::Error;

pub const OID_SIGNED_DATA: &str = "1.2.840.113549.1.7.2";
pub const OID_ENVELOPED_DATA: &str = "1.2.840.113549.1.7.3";
pub const OID_AUTH_ENVELOPED_DATA: &str = "1.2.840.113549.1.9.16.1.23";

#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum CmsError {
    #[error("malformed CMS structure: {0}")]
    Malformed(String),
    #[error("decryption failed: {0}")]
    Decryption(String),
    #[error("signature not made by a configured partner certificate: {0}")]
    UnknownSigner(String),
    #[error("signature verification failed: {0}")]
    BadSignature(String),
    #[error("signed content does not match its digest: {0}")]
    ContentMismatch(String),
    #[error("partner certificate {subject} expired at {not_after}")]
    CertificateExpired { subject: String, not_after: String },
    #[error("partner certificate {subject} is not valid before {not_before}")]
    CertificateNotYetValid { subject: String, not_before: String },
    #[error("signing failed: {0}")]
    Signing(String),
}

/// A signature that verified against a configured certificate.
#[derive(Debug, Clone)]
pub struct VerifiedSignature {
    /// Digest of the (first) signer, when recognised.
    pub alg: Option<MicAlg>,
    /// The configured certificate that verified the signature.
    pub signer: X509,
}

/// The top-level content type OID of a CMS ContentInfo.
pub fn content_type(der_bytes: &[u8]) -> Result<String, CmsError> {
    let malformed = |e: der::DerError| CmsError::Malformed(e.to_string());
    let ci = der::parse(der_bytes).map_err(malformed)?;
    if ci.tag != TAG_SEQUENCE {
        return Err(CmsError::Malformed("ContentInfo is not a SEQUENCE".into()));
    }
    ci.child(0, TAG_OID)
        .and_then(|o| o.oid())
        .map_err(malformed)
}

/// The SignerInfos of a SignedData ContentInfo; `None` when the structure does not parse.
pub(crate) fn signer_infos(der_bytes: &[u8]) -> Option<Vec<der::Element<'_>>> {
    let ci = der::parse(der_bytes).ok()?;
    let signed_data = ci
        .child(1, der::TAG_CONTEXT_0)
        .ok()?
        .child(0, TAG_SEQUENCE)
        .ok()?;
    let signer_infos = *signed_data.children().ok()?.last()?;
    if signer_infos.tag != TAG_SET {
        return None;
    }
    signer_infos.children().ok()
}

/// The digest algorithm of the first SignerInfo of a SignedData.
pub fn signer_digest(der_bytes: &[u8]) -> Option<MicAlg> {
    let first = *signer_infos(der_bytes)?.first()?;
    let alg = first.child(2, TAG_SEQUENCE).ok()?.child(0, TAG_OID).ok()?;
    MicAlg::from_oid(&alg.oid().ok()?)
}

/// Decrypts EnvelopedData or AuthEnvelopedData with the first key that fits.
///
/// AES-GCM inside plain EnvelopedData (the tag appended to the content) is
/// handed to OpenSSL as the AuthEnvelopedData it stands for, so the tag is
/// checked before any plaintext is returned.
pub fn decrypt(der_bytes: &[u8], keys: &[KeyPair]) -> Result<Vec<u8>, CmsError> {
    let converted = gcm::as_auth_enveloped(der_bytes)?;
    let der_bytes = converted.as_deref().unwrap_or(der_bytes);
    let cms = CmsContentInfo::from_der(der_bytes).map_err(|e| CmsError::Malformed(reason(&e)))?;
    if keys.is_empty() {
        return Err(CmsError::Decryption(
            "no decryption key is configured".into(),
        ));
    }
    let mut last = String::new();
    for key in keys {
        match cms.decrypt(&key.private_key, &key.certificate) {
            Ok(data) => return Ok(data),
            Err(e) => last = reason(&e),
        }
    }
    Err(CmsError::Decryption(last))
}

/// Verifies a detached signature over `content` against each partner
/// certificate in turn (no CA chain is required: the partner certificate is
/// the trust anchor), then checks that certificate's validity period.
pub fn verify_detached(
    signature: &[u8],
    content: &[u8],
    partner_certs: &[X509],
    allow_expired: bool,
) -> Result<VerifiedSignature, CmsError> {
    verify(signature, Some(content), partner_certs, allow_expired).map(|(v, _)| v)
}

/// Verifies an opaque (encapsulated) SignedData and returns its content.
pub fn verify_opaque(
    der_bytes: &[u8],
    partner_certs: &[X509],
    allow_expired: bool,
) -> Result<(VerifiedSignature, Vec<u8>), CmsError> {
    verify(der_bytes, None, partner_certs, allow_expired)
}

fn verify(
    der_bytes: &[u8],
    detached: Option<&[u8]>,
    partner_certs: &[X509],
    allow_expired: bool,
) -> Result<(VerifiedSignature, Vec<u8>), CmsError> {
    // Parsed once for the first certificate (the usual case: one partner certificate). The
    // certificates the sender embedded are dropped first: NOINTERN never uses them, and
    // OpenSSL 3.0 decoding their public keys costs as much as the RSA verification itself.
    let stripped = without_embedded_certificates(der_bytes);
    let parse_input = stripped.as_deref().unwrap_or(der_bytes);
    let parse =
        || CmsContentInfo::from_der(parse_input).map_err(|e| CmsError::Malformed(reason(&e)));
    let mut parsed = Some(parse()?);
    if partner_certs.is_empty() {
        return Err(CmsError::UnknownSigner(
            "no partner certificate is configured".into(),
        ));
    }
    // During a renewal overlap several certificates are configured: the SignerInfo says which
    // one signed. One it does not name is never tried, and a refusal says what it asked for.
    let named = match sid::signer_ids(der_bytes) {
        Some(ids) if !ids.is_empty() => {
            sid::select_named(&ids, partner_certs).map_err(CmsError::UnknownSigner)?
        }
        _ => partner_certs.to_vec(),
    };
    // NOINTERN: the signer must be one of the certificates we pass, never one
    // the sender embedded. BINARY: the bytes are verified exactly as given.
    let flags = CMSOptions::NOINTERN | CMSOptions::NO_SIGNER_CERT_VERIFY | CMSOptions::BINARY;
    let mut worst: Option<CmsError> = None;
    for cert in &named {
        let mut cms = match parsed.take() {
            Some(cms) => cms,
            None => parse()?,
        };
        let mut stack = Stack::new().map_err(|e| CmsError::Malformed(reason(&e)))?;
        stack
            .push(cert.clone())
            .map_err(|e| CmsError::Malformed(reason(&e)))?;
        let mut out = Vec::new();
        // A detached signature's content is already in hand: OpenSSL must not copy it out.
        let verified = match detached {
            Some(content) => verify::verify_detached(&mut cms, &stack, content, flags),
            None => cms.verify(Some(&stack), None, None, Some(&mut out), flags),
        };
        match verified {
            Ok(()) => {
                check_validity(cert, allow_expired)?;
                let verified = VerifiedSignature {
                    alg: signer_digest(der_bytes),
                    signer: cert.clone(),
                };
                return Ok((verified, out));
            }
            Err(e) => {
                let err = classify_verify_error(&e);
                // A failure that found our signer says more than "not found".
                if worst.is_none() || !matches!(err, CmsError::UnknownSigner(_)) {
                    worst = Some(err);
                }
            }
        }
    }
    Err(worst.unwrap_or_else(|| CmsError::UnknownSigner("no signer".into())))
}

/// Largest SignedData re-encoded without its certificates: detached signatures are a few KB, and
/// an opaque one of many megabytes gains nothing worth a copy of its content.
const STRIP_LIMIT: usize = 1 << 20;

/// The SignedData in `der_bytes` re-encoded without its `certificates` and `crls` fields, or
/// `None` when it has neither, is too large, or does not parse (OpenSSL then reports on the
/// original). Only the ContentInfo, its explicit wrapper and the SignedData get new lengths;
/// every other element is copied as received, so what was signed is untouched.
pub(crate) fn without_embedded_certificates(der_bytes: &[u8]) -> Option<Vec<u8>> {
    const TAG_CERTIFICATES: u8 = 0xA0;
    const TAG_CRLS: u8 = 0xA1;
    if der_bytes.len() > STRIP_LIMIT {
        return None;
    }
    let ci = der::parse(der_bytes).ok()?;
    let ci_parts = ci.children().ok()?;
    let [content_type, explicit] = ci_parts.as_slice() else {
        return None;
    };
    if content_type.tag != TAG_OID || explicit.tag != der::TAG_CONTEXT_0 {
        return None;
    }
    let signed_data = explicit.child(0, TAG_SEQUENCE).ok()?;
    let fields = signed_data.children().ok()?;
    let embedded = |tag: u8| tag == TAG_CERTIFICATES || tag == TAG_CRLS;
    if !fields.iter().any(|f| embedded(f.tag)) {
        return None;
    }
    let kept: Vec<u8> = fields
        .iter()
        .filter(|f| !embedded(f.tag))
        .flat_map(|f| der::write_tlv(f.tag, f.content))
        .collect();
    let explicit = der::write_tlv(der::TAG_CONTEXT_0, &der::write_tlv(TAG_SEQUENCE, &kept));
    let mut ci_content = der::write_tlv(content_type.tag, content_type.content);
    ci_content.extend_from_slice(&explicit);
    Some(der::write_tlv(TAG_SEQUENCE, &ci_content))
}

fn classify_verify_error(e: &ErrorStack) -> CmsError {
    let text = reason(e);
    if text.contains("signer certificate not found") {
        CmsError::UnknownSigner(text)
    } else if text.contains("content verify error") || text.contains("digest") {
        CmsError::ContentMismatch(text)
    } else {
        CmsError::BadSignature(text)
    }
}

pub(crate) fn check_validity(cert: &X509Ref, allow_expired: bool) -> Result<(), CmsError> {
    if allow_expired {
        return Ok(());
    }
    let now = Asn1Time::days_from_now(0).map_err(|e| CmsError::Malformed(reason(&e)))?;
    let subject = subject_text(cert);
    if cert.not_before() > now {
        return Err(CmsError::CertificateNotYetValid {
            subject,
            not_before: cert.not_before().to_string(),
        });
    }
    if cert.not_after() < now {
        return Err(CmsError::CertificateExpired {
            subject,
            not_after: cert.not_after().to_string(),
        });
    }
    Ok(())
}

/// A one-line subject for messages, e.g. `CN=partner`.
pub fn subject_text(cert: &X509Ref) -> String {
    cert.subject_name()
        .entries()
        .map(|e| {
            let key = e.object().nid().short_name().unwrap_or("?");
            let value = e.data().to_string().unwrap_or_default();
            format!("{key}={value}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The openssl error reasons, joined, for messages and classification.
pub(crate) fn reason(e: &ErrorStack) -> String {
    let reasons: Vec<String> = e
        .errors()
        .iter()
        .map(|err| err.reason().unwrap_or("unknown error").to_string())
        .collect();
    if reasons.is_empty() {
        "unknown openssl error".into()
    } else {
        reasons.join("; ")
    }
}

/// Signs `content` with a detached SignedData using the given digest
/// (openssl's `CMS_sign` alone always uses its default digest).
pub fn sign_detached(
    content: &[u8],
    cert: &X509Ref,
    key: &PKeyRef<Private>,
    alg: MicAlg,
) -> Result<Vec<u8>, CmsError> {
    sign::sign_detached(content, cert, key, alg).map_err(|e| CmsError::Signing(reason(&e)))
}

#[cfg(test)]
mod tests;
