//! AES-GCM content encryption as some senders put it in plain EnvelopedData
//! (pkijs, some BouncyCastle-based products): `aes*-GCM` with GCMParameters
//! as the content-encryption algorithm and the tag appended to the encrypted
//! content, where RFC 5083 would have an AuthEnvelopedData with a `mac`.
//!
//! OpenSSL's CMS layer refuses that ("cipher parameter initialisation
//! error"): [`as_auth_enveloped`] rewrites such a message into the
//! AuthEnvelopedData it stands for, which OpenSSL decrypts and whose tag it
//! checks before releasing anything. The streaming decryptor
//! ([`crate::envelope`]) reads the same form directly.

use crate::cms::{CmsError, OID_AUTH_ENVELOPED_DATA, OID_ENVELOPED_DATA};
use crate::der::{self, Element, TAG_INTEGER, TAG_OCTET_STRING, TAG_SEQUENCE, TAG_SET};
use openssl::symm::Cipher;

/// The cipher of a content-encryption algorithm OID, and whether it is GCM.
pub(crate) fn content_cipher(oid: &str) -> Option<(Cipher, bool)> {
    Some(match oid {
        "1.2.840.113549.3.7" => (Cipher::des_ede3_cbc(), false),
        "2.16.840.1.101.3.4.1.2" => (Cipher::aes_128_cbc(), false),
        "2.16.840.1.101.3.4.1.22" => (Cipher::aes_192_cbc(), false),
        "2.16.840.1.101.3.4.1.42" => (Cipher::aes_256_cbc(), false),
        "2.16.840.1.101.3.4.1.6" => (Cipher::aes_128_gcm(), true),
        "2.16.840.1.101.3.4.1.26" => (Cipher::aes_192_gcm(), true),
        "2.16.840.1.101.3.4.1.46" => (Cipher::aes_256_gcm(), true),
        _ => return None,
    })
}

/// GCMParameters (RFC 5084): the nonce and the ICV length (default 12).
pub(crate) fn gcm_parameters(params: &Element<'_>) -> Result<(Vec<u8>, usize), CmsError> {
    let malformed = |m: &str| CmsError::Malformed(m.to_string());
    let fields = params
        .children()
        .map_err(|e| malformed(&format!("GCM parameters: {e}")))?;
    let nonce = fields
        .first()
        .ok_or_else(|| malformed("GCM parameters without a nonce"))?
        .octets()
        .map_err(|e| malformed(&format!("GCM nonce: {e}")))?;
    if nonce.is_empty() || nonce.len() > 64 {
        return Err(CmsError::Malformed(format!(
            "GCM nonce of {} bytes",
            nonce.len()
        )));
    }
    let icv_len = match fields.get(1) {
        None => 12,
        Some(el) if el.tag == TAG_INTEGER && el.content.len() == 1 => {
            el.content.first().map_or(0, |&b| usize::from(b))
        }
        Some(_) => 0,
    };
    // RFC 5084 allows these ICV lengths only.
    if !matches!(icv_len, 4 | 8 | 12..=16) {
        return Err(malformed("GCM ICV length out of range"));
    }
    Ok((nonce, icv_len))
}

/// The AuthEnvelopedData equivalent of an EnvelopedData whose content is
/// AES-GCM with the tag appended, or `None` for any other message (left to
/// OpenSSL as it is). Unprotected attributes are dropped: nothing reads them,
/// and OpenSSL's decoder has RFC 5083's attribute tags swapped.
pub(crate) fn as_auth_enveloped(der_bytes: &[u8]) -> Result<Option<Vec<u8>>, CmsError> {
    // Anything that does not read as EnvelopedData with GCM is OpenSSL's to judge.
    let Some(found) = enveloped_gcm(der_bytes) else {
        return Ok(None);
    };
    let EnvelopedGcm {
        originator,
        recipients,
        inner_type,
        alg,
        content,
    } = found;
    let malformed = |e: der::DerError| CmsError::Malformed(e.to_string());
    let alg_parts = alg.children().map_err(malformed)?;
    let alg_oid = alg_parts
        .first()
        .ok_or_else(|| CmsError::Malformed("empty contentEncryptionAlgorithm".into()))?
        .oid()
        .map_err(malformed)?;
    let params = alg_parts
        .get(1)
        .ok_or_else(|| CmsError::Malformed("missing GCM parameters".into()))?;
    let (nonce, icv_len) = gcm_parameters(params)?;
    // OpenSSL requires the ICV length that DER leaves out when it is the default 12: the
    // parameters are written out in full.
    let icv_byte =
        u8::try_from(icv_len).map_err(|_| CmsError::Malformed("GCM ICV length".into()))?;
    let mut full_params = der::write_tlv(TAG_OCTET_STRING, &nonce);
    full_params.extend(der::write_tlv(TAG_INTEGER, &[icv_byte]));
    let mut alg_content = der::write_oid(&alg_oid);
    alg_content.extend(der::write_tlv(TAG_SEQUENCE, &full_params));
    let encrypted = match content.tag {
        0x80 => content.content.to_vec(),
        // Constructed [0]: segments, read as a constructed OCTET STRING.
        0xA0 => Element {
            tag: 0x24,
            content: content.content,
        }
        .octets()
        .map_err(malformed)?,
        _ => {
            return Err(CmsError::Malformed(
                "unexpected encryptedContent tag".into(),
            ))
        }
    };
    let Some(split) = encrypted.len().checked_sub(icv_len) else {
        return Err(CmsError::Decryption(format!(
            "encrypted content shorter than its {icv_len}-byte authentication tag"
        )));
    };
    let (ciphertext, tag) = encrypted.split_at(split);
    let tlv = |el: &Element<'_>| der::write_tlv(el.tag, el.content);
    let mut new_eci = tlv(&inner_type);
    new_eci.extend(der::write_tlv(TAG_SEQUENCE, &alg_content));
    new_eci.extend(der::write_tlv(0x80, ciphertext));
    let mut auth = der::write_tlv(TAG_INTEGER, &[0]);
    if let Some(originator) = originator {
        auth.extend(tlv(&originator));
    }
    auth.extend(tlv(&recipients));
    auth.extend(der::write_tlv(TAG_SEQUENCE, &new_eci));
    auth.extend(der::write_tlv(TAG_OCTET_STRING, tag));
    let mut out = der::write_oid(OID_AUTH_ENVELOPED_DATA);
    out.extend(der::write_tlv(
        der::TAG_CONTEXT_0,
        &der::write_tlv(TAG_SEQUENCE, &auth),
    ));
    Ok(Some(der::write_tlv(TAG_SEQUENCE, &out)))
}

/// The parts of an EnvelopedData whose content-encryption algorithm is GCM.
struct EnvelopedGcm<'a> {
    originator: Option<Element<'a>>,
    recipients: Element<'a>,
    inner_type: Element<'a>,
    alg: Element<'a>,
    content: Element<'a>,
}

fn enveloped_gcm(der_bytes: &[u8]) -> Option<EnvelopedGcm<'_>> {
    let ci = der::parse(der_bytes).ok()?;
    let parts = ci.children().ok()?;
    let [content_type, explicit] = parts.as_slice() else {
        return None;
    };
    if content_type.oid().ok()? != OID_ENVELOPED_DATA || explicit.tag != der::TAG_CONTEXT_0 {
        return None;
    }
    let body = explicit.child(0, TAG_SEQUENCE).ok()?;
    let fields = body.children().ok()?;
    let mut fields = fields.into_iter().skip(1); // version
    let mut recipients = fields.next()?;
    let mut originator = None;
    if recipients.tag == der::TAG_CONTEXT_0 {
        originator = Some(recipients);
        recipients = fields.next()?;
    }
    let eci = fields.next()?;
    if recipients.tag != TAG_SET || eci.tag != TAG_SEQUENCE {
        return None;
    }
    // Without content (detached) there is nothing to convert.
    let [inner_type, alg, content] = <[Element<'_>; 3]>::try_from(eci.children().ok()?).ok()?;
    let alg_oid = alg.children().ok()?.first()?.oid().ok()?;
    matches!(content_cipher(&alg_oid), Some((_, true))).then_some(EnvelopedGcm {
        originator,
        recipients,
        inner_type,
        alg,
        content,
    })
}
