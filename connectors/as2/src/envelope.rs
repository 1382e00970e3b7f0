//! Streaming decryption of CMS EnvelopedData and AuthEnvelopedData.
//!
//! [`crate::cms::decrypt`] needs the whole DER in memory and OpenSSL copies
//! it again; for a 200 MB message that is several times the content size.
//! [`decrypt_reader`] reads the message from any [`Read`], buffers only the
//! small fields before and after the encrypted content, and decrypts the
//! content in chunks into one output buffer, reserved once when the length
//! is known. DER and BER (indefinite lengths, segmented OCTET STRINGs) are
//! both accepted, since streaming CMS generators send BER.
//!
//! AES-GCM is read in AuthEnvelopedData (the tag in `mac`) and, as pkijs and
//! some BouncyCastle-based senders write it, in plain EnvelopedData with the
//! tag appended to the content: the last tag-length bytes are held back while
//! streaming and checked at the end. Either way nothing decrypted is returned
//! before the tag verified.
//!
//! [`StreamDecryptError::Unsupported`] is returned before any content is
//! decrypted, for structures and algorithms this path does not handle; the
//! caller then falls back to [`crate::cms::decrypt`] on the whole DER.

use crate::certs::KeyPair;
use crate::cms::{self, CmsError};
use crate::der::{self, TAG_INTEGER, TAG_OCTET_STRING, TAG_OID, TAG_SEQUENCE, TAG_SET};
use openssl::symm::Cipher;
use std::io::Read;
use thiserror::Error;

#[path = "envelope_ber.rs"]
mod ber;
#[path = "envelope_cipher.rs"]
mod cipher;
#[path = "envelope_keys.rs"]
mod keys;
use ber::{children, expect, malformed, octets, oid_of, parse, Frame, Header, Source};
use cipher::{Decryptor, Reserve};

/// Read and decryption chunk size.
const CHUNK: usize = 64 * 1024;
/// Cap on the fields buffered around the encrypted content (recipient infos,
/// originator certificates, attributes).
const MAX_BUFFERED: usize = 1 << 20;

#[derive(Debug, Error)]
pub enum StreamDecryptError {
    /// A structure or algorithm this path does not handle; nothing has been
    /// decrypted yet, and [`crate::cms::decrypt`] may still succeed.
    #[error("not handled by the streaming decryptor: {0}")]
    Unsupported(String),
    /// A real failure: `Malformed` for bad structure or truncation,
    /// `Decryption` for a wrong key, bad padding, a tag mismatch, no matching
    /// recipient, or content over [`Limits::max_content`].
    #[error(transparent)]
    Cms(#[from] CmsError),
    /// The reader failed (other than by ending early, which is `Malformed`):
    /// a local problem, not the sender's.
    #[error("reading the encrypted message failed: {0}")]
    Io(#[source] std::io::Error),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most decrypted bytes accepted. When the input size is known, passing
    /// at most that also caps the reservation a forged length could cause
    /// (the plaintext is never longer than the ciphertext).
    pub max_content: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_content: 512 * 1024 * 1024,
        }
    }
}

fn decryption(msg: impl Into<String>) -> StreamDecryptError {
    StreamDecryptError::Cms(CmsError::Decryption(msg.into()))
}

fn unsupported(msg: impl Into<String>) -> StreamDecryptError {
    StreamDecryptError::Unsupported(msg.into())
}

fn too_large(max: usize) -> StreamDecryptError {
    decryption(format!(
        "decrypted content exceeds the limit of {max} bytes"
    ))
}

/// Decrypts the EnvelopedData or AuthEnvelopedData read from `input` with
/// the first of `keys` that a recipient info admits.
pub fn decrypt_reader<R: Read>(
    input: R,
    keys: &[KeyPair],
    limits: &Limits,
) -> Result<Vec<u8>, StreamDecryptError> {
    let mut src = Source::new(input, CHUNK, MAX_BUFFERED);
    let h = src.header("ContentInfo")?;
    expect(&h, TAG_SEQUENCE, "ContentInfo")?;
    let ci = src.enter(&h, "ContentInfo")?;
    let h = src.require(ci, "ContentInfo contentType")?;
    expect(&h, TAG_OID, "ContentInfo contentType")?;
    let raw = src.element(&h, "ContentInfo contentType")?;
    let content_type = oid_of(
        Some(&parse(&raw, "ContentInfo contentType")?),
        "contentType",
    )?;
    let (auth, name) = match content_type.as_str() {
        cms::OID_ENVELOPED_DATA => (false, "EnvelopedData"),
        cms::OID_AUTH_ENVELOPED_DATA => (true, "AuthEnvelopedData"),
        other => {
            return Err(unsupported(format!(
                "content type {other} is not encrypted"
            )))
        }
    };
    let h = src.require(ci, "ContentInfo content")?;
    expect(&h, der::TAG_CONTEXT_0, "ContentInfo content")?;
    let explicit = src.enter(&h, "ContentInfo content")?;
    let h = src.require(explicit, name)?;
    expect(&h, TAG_SEQUENCE, name)?;
    let body = src.enter(&h, name)?;
    let h = src.require(body, "version")?;
    expect(&h, TAG_INTEGER, "version")?;
    src.element(&h, "version")?;
    let mut h = src.require(body, "recipientInfos")?;
    if h.tag == der::TAG_CONTEXT_0 {
        src.element(&h, "originatorInfo")?;
        h = src.require(body, "recipientInfos")?;
    }
    expect(&h, TAG_SET, "recipientInfos")?;
    let recipient_infos = src.element(&h, "recipientInfos")?;
    let h = src.require(body, "EncryptedContentInfo")?;
    expect(&h, TAG_SEQUENCE, "EncryptedContentInfo")?;
    let eci = src.enter(&h, "EncryptedContentInfo")?;
    let h = src.require(eci, "encrypted content type")?;
    expect(&h, TAG_OID, "encrypted content type")?;
    src.element(&h, "encrypted content type")?;
    let h = src.require(eci, "contentEncryptionAlgorithm")?;
    expect(&h, TAG_SEQUENCE, "contentEncryptionAlgorithm")?;
    let alg = ContentAlg::parse(&src.element(&h, "contentEncryptionAlgorithm")?, auth)?;
    let key = keys::content_key(&recipient_infos, keys, alg.cipher.key_len())?;

    let h = src
        .next(eci, "encryptedContent")?
        .ok_or_else(|| unsupported("the encrypted content is detached"))?;
    let enclosing = [ci, explicit, body, eci]
        .iter()
        .filter_map(|f| f.remaining(src.pos()))
        .min();
    let reserve = match (h.tag, h.len) {
        (0x80, Some(len)) => Reserve::Exact(len),
        (_, Some(len)) => Reserve::AtMost(len),
        (_, None) => enclosing.map_or(Reserve::Unknown, Reserve::AtMost),
    };
    let mut dec = Decryptor::new(&alg, &key, limits, reserve)?;
    match h.tag {
        0x80 => stream_segment(&mut src, &h, &mut dec)?,
        0xA0 => {
            let frame = src.enter(&h, "encryptedContent")?;
            stream_segments(&mut src, frame, &mut dec, 0)?;
        }
        _ => return Err(malformed("unexpected tag for encryptedContent")),
    }
    src.close(eci, "EncryptedContentInfo")?;

    let trailer = trailer(&mut src, body, auth, name)?;
    src.close(explicit, "ContentInfo content")?;
    src.close(ci, "ContentInfo")?;
    dec.finish(trailer)
}

/// The fields after the content that finishing the decryption needs.
struct Trailer {
    /// authAttrs, re-tagged as the AAD.
    aad: Option<Vec<u8>>,
    mac: Option<Vec<u8>>,
}

/// The fields after the EncryptedContentInfo, up to the end of the body:
/// for AuthEnvelopedData the AAD (from authAttrs) and the mac.
fn trailer<R: Read>(
    src: &mut Source<R>,
    body: Frame,
    auth: bool,
    name: &str,
) -> Result<Trailer, StreamDecryptError> {
    let (mut aad, mut mac) = (None, None);
    let mut h = src.next(body, name)?;
    if auth {
        let mut mac_h = h.ok_or_else(|| malformed("missing mac"))?;
        if mac_h.tag == 0xA1 {
            let mut attrs = src.element(&mac_h, "authAttrs")?;
            // RFC 5083: the AAD is the DER of authAttrs with the SET OF tag.
            if let Some(tag) = attrs.first_mut() {
                *tag = TAG_SET;
            }
            aad = Some(attrs);
            mac_h = src.require(body, "mac")?;
        }
        expect(&mac_h, TAG_OCTET_STRING, "mac")?;
        let raw = src.element(&mac_h, "mac")?;
        mac = Some(octets(Some(&parse(&raw, "mac")?), "mac")?);
        h = src.next(body, name)?;
    }
    // `next` consumed the end of the body if it returned None.
    if let Some(h) = h {
        let trailing = if auth { 0xA2 } else { 0xA1 };
        expect(&h, trailing, "unprotected attributes")?;
        src.element(&h, "unprotected attributes")?;
        src.close(body, name)?;
    }
    Ok(Trailer { aad, mac })
}

fn stream_segment<R: Read>(
    src: &mut Source<R>,
    h: &Header,
    dec: &mut Decryptor,
) -> Result<(), StreamDecryptError> {
    let mut left = h
        .len
        .ok_or_else(|| malformed("encrypted content segment without a length"))?;
    while left > 0 {
        let avail = src.fill()?;
        if avail.is_empty() {
            return Err(malformed(
                "truncated input while reading the encrypted content",
            ));
        }
        let n = avail.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        dec.update(avail.get(..n).unwrap_or(&[]))?;
        src.consume(n);
        left -= n as u64;
    }
    Ok(())
}

fn stream_segments<R: Read>(
    src: &mut Source<R>,
    frame: Frame,
    dec: &mut Decryptor,
    depth: usize,
) -> Result<(), StreamDecryptError> {
    while let Some(h) = src.next(frame, "encrypted content segment")? {
        match h.tag {
            TAG_OCTET_STRING => stream_segment(src, &h, dec)?,
            0x24 if depth < ber::MAX_DEPTH => {
                let inner = src.enter(&h, "encrypted content segment")?;
                stream_segments(src, inner, dec, depth + 1)?;
            }
            0x24 => return Err(malformed("encrypted content is nested too deeply")),
            _ => return Err(malformed("unexpected element inside the encrypted content")),
        }
    }
    Ok(())
}

struct ContentAlg {
    cipher: Cipher,
    iv: Vec<u8>,
    /// The ICV length, for the GCM ciphers.
    icv_len: Option<usize>,
    /// GCM inside plain EnvelopedData (pkijs and some BouncyCastle-based
    /// senders): no mac field, the tag is the last `icv_len` bytes of the
    /// encrypted content.
    tag_appended: bool,
}

impl ContentAlg {
    fn parse(raw: &[u8], auth: bool) -> Result<ContentAlg, StreamDecryptError> {
        let what = "contentEncryptionAlgorithm";
        let parts = children(&parse(raw, what)?, what)?;
        let oid = oid_of(parts.first(), what)?;
        let Some((cipher, gcm)) = cms::content_cipher(&oid) else {
            return Err(unsupported(format!("content encryption algorithm {oid}")));
        };
        if auth && !gcm {
            return Err(unsupported(format!(
                "content encryption algorithm {oid} in AuthEnvelopedData"
            )));
        }
        if !gcm {
            let iv = octets(parts.get(1), "content encryption IV")?;
            if Some(iv.len()) != cipher.iv_len() {
                return Err(malformed(format!(
                    "content encryption IV of {} bytes",
                    iv.len()
                )));
            }
            return Ok(ContentAlg {
                cipher,
                iv,
                icv_len: None,
                tag_appended: false,
            });
        }
        let params = parts
            .get(1)
            .ok_or_else(|| malformed("missing GCM parameters"))?;
        let (nonce, icv_len) = cms::gcm_parameters(params).map_err(|e| match e {
            CmsError::Malformed(m) => malformed(m),
            other => StreamDecryptError::Cms(other),
        })?;
        Ok(ContentAlg {
            cipher,
            iv: nonce,
            icv_len: Some(icv_len),
            tag_appended: !auth,
        })
    }
}

#[cfg(test)]
#[path = "envelope_fixtures.rs"]
mod fixtures;

#[cfg(test)]
#[path = "envelope_tests.rs"]
mod tests;
