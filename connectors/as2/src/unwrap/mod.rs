//! Recursive removal of S/MIME layers (encryption, signature, compression)
//! in whatever order and nesting the sender used, within a depth limit.

use crate::certs::KeyPair;
use crate::cms::{self, CmsError};
use crate::compress::{self, CompressError};
use crate::disposition::ProcessingError;
use crate::envelope::{self, StreamDecryptError};
use crate::mic::canonical_entity;
use crate::micalg::MicAlg;
use crate::mime::{decode_base64, MimePart};
use bytes::Bytes;
use openssl::x509::X509;

/// Resource limits for one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Maximum number of nested S/MIME layers.
    pub max_depth: usize,
    /// Maximum size of any decompressed content, in bytes.
    pub max_decompressed_size: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 8,
            max_decompressed_size: 512 * 1024 * 1024,
        }
    }
}

/// What the unwrapper needs from the partner configuration.
#[derive(Debug, Clone, Copy)]
pub struct UnwrapKeys<'a> {
    /// Our certificates + keys; several are tried in order (key rollover).
    pub decryption_keys: &'a [KeyPair],
    /// The partner's signing certificates; a signature must verify against one.
    pub partner_certificates: &'a [X509],
    /// Accept signatures by expired / not-yet-valid partner certificates.
    pub allow_expired_certificates: bool,
}

/// One S/MIME layer that was removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    /// EnvelopedData, or AuthEnvelopedData (AES-GCM) when `authenticated`.
    Encrypted {
        authenticated: bool,
    },
    /// A verified signature: multipart/signed when `detached`, else opaque SignedData.
    Signed {
        alg: Option<MicAlg>,
        detached: bool,
    },
    Compressed,
}

/// The security found so far, outermost layer first.
#[derive(Debug, Clone, Default)]
pub struct Security {
    pub layers: Vec<Layer>,
    /// The MIME entity covered by the outermost signature, as verified.
    pub signed_entity: Option<Bytes>,
    /// Digest of the outermost signature.
    pub signature_alg: Option<MicAlg>,
    /// The MIME entity produced by the outermost decryption.
    pub decrypted_entity: Option<Bytes>,
    /// The partner certificate that verified the outermost signature.
    pub signer: Option<X509>,
}

impl Security {
    pub fn signed(&self) -> bool {
        self.layers
            .iter()
            .any(|l| matches!(l, Layer::Signed { .. }))
    }
    pub fn encrypted(&self) -> bool {
        self.layers
            .iter()
            .any(|l| matches!(l, Layer::Encrypted { .. }))
    }
    pub fn compressed(&self) -> bool {
        self.layers.contains(&Layer::Compressed)
    }
}

/// The innermost entity and the layers around it.
#[derive(Debug, Clone)]
pub struct Unwrapped {
    pub payload: MimePart,
    pub security: Security,
}

/// Why unwrapping stopped, with the security found before that point
/// (a verified signature still yields a MIC for the error MDN).
#[derive(Debug, Clone)]
pub struct UnwrapError {
    pub error: ProcessingError,
    pub detail: String,
    /// The underlying CMS error, e.g. to tell an expired certificate apart.
    pub cms_error: Option<CmsError>,
    pub security: Security,
    /// The Received-Content-MIC for the error MDN, from [`crate::stream::unwrap_to`], which
    /// keeps no entity bytes in `security` to compute it from; `None` from [`unwrap`].
    pub mic: Option<crate::mic::Mic>,
}

/// Removes every S/MIME layer from `entity`.
pub fn unwrap(
    entity: MimePart,
    keys: &UnwrapKeys<'_>,
    limits: &Limits,
) -> Result<Unwrapped, Box<UnwrapError>> {
    unwrap_within(entity, Security::default(), keys, limits)
}

/// [`unwrap`] for an entity found inside layers already removed (`security` says which): a
/// large message's outer encryption is removed while it streams from a file.
pub fn unwrap_within(
    entity: MimePart,
    mut security: Security,
    keys: &UnwrapKeys<'_>,
    limits: &Limits,
) -> Result<Unwrapped, Box<UnwrapError>> {
    let mut current = entity;
    for _ in 0..=limits.max_depth {
        match step(&current, keys, limits, &mut security) {
            Ok(Some(inner)) => current = inner,
            Ok(None) => {
                return Ok(Unwrapped {
                    payload: current,
                    security,
                })
            }
            Err(e) => {
                let (error, detail, cms_error) = *e;
                return Err(Box::new(UnwrapError {
                    error,
                    detail,
                    cms_error,
                    security,
                    mic: None,
                }));
            }
        }
    }
    Err(Box::new(UnwrapError {
        error: ProcessingError::UnexpectedProcessingError,
        detail: format!("more than {} nested S/MIME layers", limits.max_depth),
        cms_error: None,
        security,
        mic: None,
    }))
}

/// Boxed: the error is large and the success path is the hot one.
pub(crate) type StepError = Box<(ProcessingError, String, Option<CmsError>)>;

fn step_error(error: ProcessingError, detail: String, cms_error: Option<CmsError>) -> StepError {
    Box::new((error, detail, cms_error))
}

/// Removes one layer; `None` when `entity` is the payload.
fn step(
    entity: &MimePart,
    keys: &UnwrapKeys<'_>,
    limits: &Limits,
    security: &mut Security,
) -> Result<Option<MimePart>, StepError> {
    let ct = entity.content_type().unwrap_or_default();
    if ct.is("multipart/signed") {
        return unwrap_multipart_signed(entity, keys, security).map(Some);
    }
    if !(ct.is("application/pkcs7-mime") || ct.is("application/x-pkcs7-mime")) {
        return Ok(None);
    }
    let smime_type = ct.param("smime-type").unwrap_or("").to_ascii_lowercase();
    // When the structure is unreadable, the declared smime-type says which
    // layer failed.
    let hinted = match smime_type.as_str() {
        "enveloped-data" | "authenveloped-data" => ProcessingError::DecryptionFailed,
        "signed-data" => ProcessingError::AuthenticationFailed,
        "compressed-data" => ProcessingError::DecompressionFailed,
        _ => ProcessingError::UnexpectedProcessingError,
    };
    let der = cms_bytes(entity).map_err(|d| step_error(hinted, d, None))?;
    let oid = cms::content_type(&der).map_err(|e| step_error(hinted, e.to_string(), Some(e)))?;
    let inner = match oid.as_str() {
        cms::OID_ENVELOPED_DATA | cms::OID_AUTH_ENVELOPED_DATA => {
            let data = Bytes::from(decrypt(&der, keys).map_err(|e| {
                step_error(ProcessingError::DecryptionFailed, e.to_string(), Some(e))
            })?);
            record_decryption(security, oid == cms::OID_AUTH_ENVELOPED_DATA, &data);
            data
        }
        cms::OID_SIGNED_DATA => {
            let (verified, content) = cms::verify_opaque(
                &der,
                keys.partner_certificates,
                keys.allow_expired_certificates,
            )
            .map_err(signature_error)?;
            security.layers.push(Layer::Signed {
                alg: verified.alg,
                detached: false,
            });
            let content = Bytes::from(content);
            record_signature(security, &content, verified);
            content
        }
        compress::OID_COMPRESSED_DATA => {
            let data = compress::decompress(&der, limits.max_decompressed_size)
                .map_err(decompression_error)?;
            security.layers.push(Layer::Compressed);
            Bytes::from(data)
        }
        other => {
            return Err(step_error(
                ProcessingError::UnexpectedProcessingError,
                format!("unsupported CMS content type {other}"),
                None,
            ))
        }
    };
    Ok(Some(MimePart::parse_bytes(inner)))
}

fn unwrap_multipart_signed(
    entity: &MimePart,
    keys: &UnwrapKeys<'_>,
    security: &mut Security,
) -> Result<MimePart, StepError> {
    let integrity = |d: String| step_error(ProcessingError::IntegrityCheckFailed, d, None);
    let parts = entity
        .multipart_parts()
        .map_err(|e| integrity(format!("malformed multipart/signed: {e}")))?;
    let [signed, signature] = parts.as_slice() else {
        return Err(integrity(format!(
            "multipart/signed has {} parts instead of 2",
            parts.len()
        )));
    };
    let sig_ct = signature.content_type().unwrap_or_default();
    if !(sig_ct.is("application/pkcs7-signature") || sig_ct.is("application/x-pkcs7-signature")) {
        return Err(step_error(
            ProcessingError::AuthenticationFailed,
            format!("unsupported signature type {:?}", sig_ct.mime_type),
            None,
        ));
    }
    let sig = cms_bytes(signature)
        .map_err(|d| step_error(ProcessingError::AuthenticationFailed, d, None))?;
    let (verified, covered) = verify_signed_entity(&sig, &signed.raw, keys)?;
    security.layers.push(Layer::Signed {
        alg: verified.alg,
        detached: true,
    });
    record_signature(security, &covered, verified);
    Ok(signed.clone())
}

/// Verifies over the bytes as received; a sender that signed the canonical
/// (CRLF) form but transmitted bare LFs is accepted by retrying over the
/// canonical form. Returns the bytes that verified: the MIC covers those.
fn verify_signed_entity(
    sig: &[u8],
    raw: &Bytes,
    keys: &UnwrapKeys<'_>,
) -> Result<(cms::VerifiedSignature, Bytes), StepError> {
    let verify = |content: &[u8]| {
        cms::verify_detached(
            sig,
            content,
            keys.partner_certificates,
            keys.allow_expired_certificates,
        )
    };
    match verify(raw) {
        Ok(v) => Ok((v, raw.clone())),
        Err(first @ CmsError::ContentMismatch(_)) => {
            let canonical = canonical_entity(raw);
            if canonical != raw[..] {
                if let Ok(v) = verify(&canonical) {
                    return Ok((v, Bytes::from(canonical)));
                }
            }
            Err(signature_error(first))
        }
        Err(e) => Err(signature_error(e)),
    }
}

/// Our own EnvelopedData reader first: OpenSSL's CMS layer parses, copies and re-checks more
/// than a message needs, which costs a fifth of a small message's time. OpenSSL still handles
/// what ours does not (other recipient kinds, RC2 and the like).
fn decrypt(der: &[u8], keys: &UnwrapKeys<'_>) -> Result<Vec<u8>, CmsError> {
    let limits = envelope::Limits {
        max_content: der.len(),
    };
    match envelope::decrypt_reader(der, keys.decryption_keys, &limits) {
        Ok(data) => Ok(data),
        Err(StreamDecryptError::Cms(e)) => Err(e),
        Err(StreamDecryptError::Unsupported(_)) => cms::decrypt(der, keys.decryption_keys),
        Err(StreamDecryptError::Io(e)) => Err(CmsError::Malformed(e.to_string())),
    }
}

/// Notes a removed encryption layer; the outermost decrypted entity is what an unsigned
/// message's MIC covers.
pub(crate) fn record_decryption(security: &mut Security, authenticated: bool, data: &Bytes) {
    security.layers.push(Layer::Encrypted { authenticated });
    if security.decrypted_entity.is_none() {
        security.decrypted_entity = Some(data.clone());
    }
}

fn record_signature(security: &mut Security, covered: &Bytes, verified: cms::VerifiedSignature) {
    if security.signed_entity.is_none() {
        security.signed_entity = Some(covered.clone());
        security.signature_alg = verified.alg;
        security.signer = Some(verified.signer);
    }
}

pub(crate) fn signature_error(e: CmsError) -> StepError {
    let error = match e {
        CmsError::ContentMismatch(_) => ProcessingError::IntegrityCheckFailed,
        _ => ProcessingError::AuthenticationFailed,
    };
    step_error(error, e.to_string(), Some(e))
}

fn decompression_error(e: CompressError) -> StepError {
    step_error(ProcessingError::DecompressionFailed, e.to_string(), None)
}

/// The DER of a CMS entity. Some senders omit Content-Transfer-Encoding on
/// base64 bodies, so base64 text is decoded even when undeclared.
pub(crate) fn cms_bytes(entity: &MimePart) -> Result<Bytes, String> {
    let decoded = entity.decoded_body().map_err(|e| e.to_string())?;
    if decoded.first() == Some(&0x30) {
        return Ok(decoded);
    }
    match decode_base64(&decoded) {
        Ok(der) if der.first() == Some(&0x30) => Ok(Bytes::from(der)),
        _ => Err("content is not a CMS structure".into()),
    }
}

#[cfg(test)]
mod tests;
