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
use openssl::symm::{Cipher, Crypter, Mode};
use std::io::Read;
use thiserror::Error;

#[path = "envelope_ber.rs"]
mod ber;
#[path = "envelope_keys.rs"]
mod keys;
use ber::{children, expect, malformed, octets, oid_of, parse, Frame, Header, Source};

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

enum Reserve {
    /// The ciphertext length.
    Exact(u64),
    /// An upper bound on the ciphertext length (segment headers included).
    AtMost(u64),
    Unknown,
}

struct Decryptor {
    crypter: Crypter,
    out: Vec<u8>,
    scratch: Vec<u8>,
    max: usize,
    /// Cipher, key and nonce kept for a GCM tag check over the output, needed
    /// when authAttrs (which come after the content) are the AAD.
    gcm: Option<(Cipher, Vec<u8>, Vec<u8>, usize)>,
    /// For a tag appended to the content: the last ciphertext bytes seen so
    /// far, held back until the end shows whether they are the tag.
    held: Option<Vec<u8>>,
    /// Why padding or tag checks fail: the key may be wrong or the content
    /// altered.
    failure: &'static str,
}

impl Decryptor {
    fn new(
        alg: &ContentAlg,
        key: &keys::ContentKey,
        limits: &Limits,
        reserve: Reserve,
    ) -> Result<Decryptor, StreamDecryptError> {
        let failure = match (key.named, alg.icv_len) {
            (false, _) => keys::NO_RECIPIENT,
            (true, None) => "bad padding after decryption (wrong key or altered content)",
            (true, Some(_)) => "authentication tag mismatch (wrong key or altered content)",
        };
        let key = &key.key;
        if key.len() != alg.cipher.key_len() {
            return Err(decryption(format!(
                "content-encryption key of {} bytes for a cipher with {}-byte keys",
                key.len(),
                alg.cipher.key_len()
            )));
        }
        let crypter = Crypter::new(alg.cipher, Mode::Decrypt, key, Some(&alg.iv))
            .map_err(|e| decryption(cms::reason(&e)))?;
        let max = limits.max_content;
        // CBC padding is at most one block, so a longer ciphertext cannot fit.
        // An appended tag is not content either.
        let overhead = match alg.icv_len {
            None => alg.cipher.block_size(),
            Some(icv) if alg.tag_appended => icv,
            Some(_) => 0,
        };
        let reserve = match reserve {
            Reserve::Exact(len) => {
                if len.saturating_sub(overhead as u64) > max as u64 {
                    return Err(too_large(max));
                }
                len
            }
            Reserve::AtMost(len) => len,
            Reserve::Unknown => 0,
        };
        let reserve = usize::try_from(reserve).unwrap_or(usize::MAX).min(max);
        let mut out = Vec::new();
        out.try_reserve_exact(reserve)
            .map_err(|_| decryption(format!("cannot reserve {reserve} bytes for the content")))?;
        Ok(Decryptor {
            crypter,
            out,
            // Crypter::update wants room for one block more than its input.
            scratch: vec![0; CHUNK + 32],
            max,
            gcm: alg
                .icv_len
                .map(|icv| (alg.cipher, key.clone(), alg.iv.clone(), icv)),
            held: alg
                .tag_appended
                .then(|| Vec::with_capacity(2 * alg.icv_len.unwrap_or(0))),
            failure,
        })
    }

    fn update(&mut self, data: &[u8]) -> Result<(), StreamDecryptError> {
        let Some(mut held) = self.held.take() else {
            return self.decrypt(data);
        };
        let keep = self.gcm.as_ref().map_or(0, |g| g.3);
        // Decrypt all but the last `keep` bytes of what was held plus `data`.
        let result = match data.len().checked_sub(keep) {
            Some(body) => {
                let (body, tail) = data.split_at(body);
                let r = self.decrypt(&held).and_then(|()| self.decrypt(body));
                held.clear();
                held.extend_from_slice(tail);
                r
            }
            None => {
                held.extend_from_slice(data);
                let excess = held.len().saturating_sub(keep);
                let r = self.decrypt(held.get(..excess).unwrap_or(&[]));
                held.drain(..excess);
                r
            }
        };
        self.held = Some(held);
        result
    }

    fn decrypt(&mut self, data: &[u8]) -> Result<(), StreamDecryptError> {
        for piece in data.chunks(CHUNK) {
            let n = self
                .crypter
                .update(piece, &mut self.scratch)
                .map_err(|e| decryption(cms::reason(&e)))?;
            self.push(n)?;
        }
        Ok(())
    }

    fn push(&mut self, n: usize) -> Result<(), StreamDecryptError> {
        let produced = self
            .scratch
            .get(..n)
            .ok_or_else(|| decryption("cipher output larger than its buffer"))?;
        let needed = self
            .out
            .len()
            .checked_add(n)
            .filter(|&t| t <= self.max)
            .ok_or_else(|| too_large(self.max))?;
        if needed > self.out.capacity() {
            // Doubling like Vec would, but never past the limit.
            let target = needed
                .max(self.out.capacity().saturating_mul(2))
                .min(self.max);
            self.out
                .try_reserve_exact(target - self.out.len())
                .map_err(|_| {
                    decryption(format!("cannot reserve {target} bytes for the content"))
                })?;
        }
        self.out.extend_from_slice(produced);
        Ok(())
    }

    fn finish(mut self, trailer: Trailer) -> Result<Vec<u8>, StreamDecryptError> {
        let failure = self.failure;
        let Some((cipher, key, nonce, icv_len)) = self.gcm.take() else {
            let n = self
                .crypter
                .finalize(&mut self.scratch)
                .map_err(|_| decryption(failure))?;
            self.push(n)?;
            return Ok(self.out);
        };
        let mac = match self.held.take() {
            Some(tag) if tag.len() < icv_len => {
                return Err(decryption(format!(
                    "encrypted content shorter than its {icv_len}-byte authentication tag"
                )))
            }
            Some(tag) => tag,
            None => trailer.mac.ok_or_else(|| malformed("missing mac"))?,
        };
        if mac.len() != icv_len {
            return Err(decryption(format!(
                "authentication tag of {} bytes where {icv_len} are declared",
                mac.len()
            )));
        }
        let Some(aad) = trailer.aad else {
            self.crypter
                .set_tag(&mac)
                .map_err(|e| decryption(cms::reason(&e)))?;
            let n = self
                .crypter
                .finalize(&mut self.scratch)
                .map_err(|_| decryption(failure))?;
            self.push(n)?;
            return Ok(self.out);
        };
        // GCM takes the AAD before the ciphertext, but authAttrs follow it:
        // the content was decrypted unauthenticated (CTR does not depend on
        // the AAD) and the tag is now recomputed by encrypting the output
        // again with the AAD first.
        let mut check = Crypter::new(cipher, Mode::Encrypt, &key, Some(&nonce))
            .map_err(|e| decryption(cms::reason(&e)))?;
        let reason = |e: openssl::error::ErrorStack| decryption(cms::reason(&e));
        check.aad_update(&aad).map_err(reason)?;
        for piece in self.out.chunks(CHUNK) {
            check.update(piece, &mut self.scratch).map_err(reason)?;
        }
        check.finalize(&mut self.scratch).map_err(reason)?;
        let mut tag = vec![0; icv_len];
        check.get_tag(&mut tag).map_err(reason)?;
        if !openssl::memcmp::eq(&tag, &mac) {
            return Err(decryption(failure));
        }
        Ok(self.out)
    }
}

#[cfg(test)]
#[path = "envelope_fixtures.rs"]
mod fixtures;

#[cfg(test)]
#[path = "envelope_tests.rs"]
mod tests;
