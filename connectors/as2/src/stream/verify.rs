//! Signature verification from digests computed as the content streamed past: the
//! SignerInfo's messageDigest attribute is compared with the streamed digest, and the
//! signature over the signed attributes is checked by OpenSSL (`CMS_SignerInfo_verify`), so
//! the content is never handed to OpenSSL. Refusals are the ones `cms::verify` gives.

use std::os::raw::{c_int, c_void};

use foreign_types::ForeignTypeRef;
use openssl::cms::CmsContentInfo;
use openssl::error::ErrorStack;
use openssl::pkey_ctx::PkeyCtx;
use openssl::rsa::Padding;
use openssl::x509::{X509Ref, X509};
use openssl_sys as ffi;

use crate::cms::{self, CmsError, VerifiedSignature};
use crate::der::{self, Element, TAG_OCTET_STRING, TAG_OID, TAG_SEQUENCE};
use crate::micalg::MicAlg;

extern "C" {
    fn CMS_get0_SignerInfos(cms: *mut ffi::CMS_ContentInfo) -> *mut ffi::OPENSSL_STACK;
    fn CMS_SignerInfo_cert_cmp(si: *mut c_void, cert: *mut ffi::X509) -> c_int;
    fn CMS_SignerInfo_set1_signer_cert(si: *mut c_void, signer: *mut ffi::X509);
    fn CMS_SignerInfo_verify(si: *mut c_void) -> c_int;
}

const OID_MESSAGE_DIGEST: &str = "1.2.840.113549.1.9.4";
const OID_RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";

/// Digests of the signed content by algorithm.
pub(crate) type DigestSet = [(MicAlg, Vec<u8>)];

/// The outcome of a verification from digests.
pub(crate) enum Checked {
    /// Verified over the content as received, or over its canonical form.
    Verified {
        signature: VerifiedSignature,
        digest: Vec<u8>,
        alg: MicAlg,
    },
    Failed(CmsError),
    /// A digest this pass did not compute: by algorithm, and whether of the canonical form.
    Needs(MicAlg, bool),
}

enum Attempt {
    Cms(CmsError),
    Missing(MicAlg),
}

/// Verifies the SignedData `der` (its content detached or left out) against `certs`, from
/// the digests of the content as received (`raw`) and, when given, of its canonical form (a
/// sender may sign CRLF text sent with bare LFs, see `unwrap::verify_signed_entity`).
pub(crate) fn verify(
    der: &[u8],
    raw: &DigestSet,
    canonical: Option<&DigestSet>,
    certs: &[X509],
    allow_expired: bool,
) -> Checked {
    let verified = |digests: &DigestSet, alg: MicAlg, signature| Checked::Verified {
        signature,
        digest: lookup(digests, alg).unwrap_or_default().to_vec(),
        alg,
    };
    match attempt(der, raw, certs, allow_expired) {
        Ok((signature, alg)) => verified(raw, alg, signature),
        Err(Attempt::Missing(alg)) => Checked::Needs(alg, false),
        Err(Attempt::Cms(first @ CmsError::ContentMismatch(_))) => {
            let Some(canonical) = canonical else {
                return Checked::Failed(first);
            };
            let alg = first_alg(der).unwrap_or(MicAlg::Sha256);
            if lookup(canonical, alg).is_none() {
                return Checked::Needs(alg, true);
            }
            if lookup(canonical, alg) == lookup(raw, alg) {
                return Checked::Failed(first);
            }
            match attempt(der, canonical, certs, allow_expired) {
                Ok((signature, alg)) => verified(canonical, alg, signature),
                Err(Attempt::Missing(alg)) => Checked::Needs(alg, true),
                Err(Attempt::Cms(_)) => Checked::Failed(first),
            }
        }
        Err(Attempt::Cms(e)) => Checked::Failed(e),
    }
}

fn lookup(digests: &DigestSet, alg: MicAlg) -> Option<&[u8]> {
    digests
        .iter()
        .find(|(a, _)| *a == alg)
        .map(|(_, d)| d.as_slice())
}

fn first_alg(der: &[u8]) -> Option<MicAlg> {
    cms::signer_digest(der)
}

/// What one SignerInfo says, read with our DER reader.
struct Signer {
    alg: MicAlg,
    message_digest: Option<Vec<u8>>,
    signed_attrs: bool,
    rsa_pkcs1: bool,
    signature: Vec<u8>,
}

fn signers(der: &[u8]) -> Result<Vec<Signer>, CmsError> {
    let malformed = |what: &str| CmsError::Malformed(format!("SignerInfo: {what}"));
    let infos = cms::signer_infos(der).ok_or_else(|| malformed("unreadable"))?;
    infos
        .iter()
        .map(|si| {
            let fields = si.children().map_err(|e| malformed(e.0))?;
            let oid = |el: Option<&Element<'_>>| -> Result<String, CmsError> {
                el.ok_or_else(|| malformed("missing algorithm"))?
                    .child(0, TAG_OID)
                    .and_then(|o| o.oid())
                    .map_err(|e| malformed(e.0))
            };
            let digest_oid = oid(fields.get(2))?;
            let alg = MicAlg::from_oid(&digest_oid).ok_or_else(|| {
                CmsError::BadSignature(format!(
                    "digest algorithm {digest_oid} is not supported for a streamed message"
                ))
            })?;
            let attrs = fields.get(3).filter(|f| f.tag == der::TAG_CONTEXT_0);
            let rest = &fields[if attrs.is_some() { 4 } else { 3 }..];
            let signature = rest
                .get(1)
                .filter(|s| s.tag == TAG_OCTET_STRING)
                .ok_or_else(|| malformed("missing signature"))?;
            Ok(Signer {
                alg,
                message_digest: attrs.map(message_digest).transpose()?.flatten(),
                signed_attrs: attrs.is_some(),
                rsa_pkcs1: oid(rest.first())? == OID_RSA_ENCRYPTION,
                signature: signature.content.to_vec(),
            })
        })
        .collect()
}

fn message_digest(attrs: &Element<'_>) -> Result<Option<Vec<u8>>, CmsError> {
    let malformed = |e: der::DerError| CmsError::Malformed(format!("signed attributes: {}", e.0));
    for attr in attrs.children().map_err(malformed)? {
        if attr.tag != TAG_SEQUENCE {
            continue;
        }
        if attr
            .child(0, TAG_OID)
            .and_then(|o| o.oid())
            .map_err(malformed)?
            == OID_MESSAGE_DIGEST
        {
            let values = attr.child(1, der::TAG_SET).map_err(malformed)?;
            let value = values.child(0, TAG_OCTET_STRING).map_err(malformed)?;
            return Ok(Some(value.content.to_vec()));
        }
    }
    Ok(None)
}

/// `cms::verify` with the content replaced by its digests.
fn attempt(
    der: &[u8],
    digests: &DigestSet,
    certs: &[X509],
    allow_expired: bool,
) -> Result<(VerifiedSignature, MicAlg), Attempt> {
    let stripped = cms::without_embedded_certificates(der);
    let mut parsed = CmsContentInfo::from_der(stripped.as_deref().unwrap_or(der))
        .map_err(|e| Attempt::Cms(CmsError::Malformed(cms::reason(&e))))?;
    if certs.is_empty() {
        return Err(Attempt::Cms(CmsError::UnknownSigner(
            "no partner certificate is configured".into(),
        )));
    }
    let named = match crate::cms::sid::signer_ids(der) {
        Some(ids) if !ids.is_empty() => crate::cms::sid::select_named(&ids, certs)
            .map_err(|e| Attempt::Cms(CmsError::UnknownSigner(e)))?,
        _ => certs.to_vec(),
    };
    let signers = signers(der).map_err(Attempt::Cms)?;
    for s in &signers {
        if lookup(digests, s.alg).is_none() {
            return Err(Attempt::Missing(s.alg));
        }
    }
    let mut worst: Option<CmsError> = None;
    for cert in &named {
        match check_signers(&mut parsed, cert, &signers, digests) {
            Ok(()) => {
                cms::check_validity(cert, allow_expired).map_err(Attempt::Cms)?;
                let alg = signers.first().map_or(MicAlg::Sha256, |s| s.alg);
                let signature = VerifiedSignature {
                    alg: Some(alg),
                    signer: cert.clone(),
                };
                return Ok((signature, alg));
            }
            Err(err) => {
                if worst.is_none() || !matches!(err, CmsError::UnknownSigner(_)) {
                    worst = Some(err);
                }
            }
        }
    }
    Err(Attempt::Cms(worst.unwrap_or_else(|| {
        CmsError::UnknownSigner("no signer".into())
    })))
}

/// What `CMS_verify` does for each SignerInfo, in its order: the signer certificate, the
/// signature over the signed attributes, then the content digest.
fn check_signers(
    parsed: &mut CmsContentInfo,
    cert: &X509Ref,
    signers: &[Signer],
    digests: &DigestSet,
) -> Result<(), CmsError> {
    let infos = signer_info_pointers(parsed);
    if infos.is_empty() {
        return Err(CmsError::BadSignature("no signers".into()));
    }
    if infos.len() != signers.len() {
        return Err(CmsError::Malformed(
            "SignerInfos differ from OpenSSL's".into(),
        ));
    }
    for &si in &infos {
        // SAFETY: `si` is a live SignerInfo of `parsed`, `cert` a live certificate.
        if unsafe { CMS_SignerInfo_cert_cmp(si, cert.as_ptr()) } != 0 {
            return Err(CmsError::UnknownSigner(
                "signer certificate not found".into(),
            ));
        }
    }
    for (&si, signer) in infos.iter().zip(signers) {
        if !signer.signed_attrs {
            continue;
        }
        // SAFETY: as above; set1 takes its own reference to the certificate, released with
        // `parsed`.
        let ok = unsafe {
            CMS_SignerInfo_set1_signer_cert(si, cert.as_ptr());
            CMS_SignerInfo_verify(si)
        };
        if ok != 1 {
            return Err(CmsError::BadSignature(cms::reason(&ErrorStack::get())));
        }
    }
    for signer in signers {
        let digest = lookup(digests, signer.alg).unwrap_or_default();
        let matches = if signer.signed_attrs {
            signer.message_digest.as_deref() == Some(digest)
        } else {
            verify_digest_signature(cert, signer, digest)
        };
        if !matches {
            return Err(CmsError::ContentMismatch(
                "verification failure; content verify error".into(),
            ));
        }
    }
    Ok(())
}

/// A signature made directly over the content digest (no signed attributes).
fn verify_digest_signature(cert: &X509Ref, signer: &Signer, digest: &[u8]) -> bool {
    let check = || -> Result<bool, ErrorStack> {
        let key = cert.public_key()?;
        let mut ctx = PkeyCtx::new(&key)?;
        ctx.verify_init()?;
        if signer.rsa_pkcs1 {
            ctx.set_rsa_padding(Padding::PKCS1)?;
        }
        ctx.set_signature_md(
            openssl::md::Md::from_nid(signer.alg.message_digest().type_())
                .ok_or_else(ErrorStack::get)?,
        )?;
        ctx.verify(digest, &signer.signature)
    };
    let ok = check().unwrap_or(false);
    // Leave no error behind for the next OpenSSL call to misreport.
    let _ = ErrorStack::get();
    ok
}

fn signer_info_pointers(parsed: &mut CmsContentInfo) -> Vec<*mut c_void> {
    // SAFETY: the stack belongs to `parsed`, which outlives the returned pointers' use.
    unsafe {
        let stack = CMS_get0_SignerInfos(parsed.as_ptr());
        if stack.is_null() {
            return Vec::new();
        }
        let n = ffi::OPENSSL_sk_num(stack);
        (0..n).map(|i| ffi::OPENSSL_sk_value(stack, i)).collect()
    }
}
