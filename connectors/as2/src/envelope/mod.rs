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

pub(crate) mod ber;
mod cipher;
mod keys;
use ber::{children, expect, malformed, octets, oid_of, parse, Frame, Header, Octets, Source};
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
    // The content is at most `max_content`, the input hardly more: a small message reads
    // through a small buffer (see the Decryptor's).
    let buffer = CHUNK.min(limits.max_content.max(1024));
    let mut src = Source::new(input, buffer, MAX_BUFFERED);
    let head = Head::read(&mut src)?;
    let key = keys::content_key(&head.recipient_infos, keys, head.alg.cipher.key_len())?;
    let h = head.content_header(&mut src)?;
    let enclosing = head.enclosing(src.pos());
    let reserve = match (h.tag, h.len) {
        (0x80, Some(len)) => Reserve::Exact(len),
        (_, Some(len)) => Reserve::AtMost(len),
        (_, None) => enclosing.map_or(Reserve::Unknown, Reserve::AtMost),
    };
    let mut dec = Decryptor::new(&head.alg, &key, limits, reserve)?;
    let mut content = Octets::new(&src, &h, 0x80, 0xA0, "encrypted content")?;
    while content.next(&mut src, |piece| dec.update(piece))? {}
    let trailer = head.finish(&mut src)?;
    dec.finish(trailer)
}

/// Everything before the encrypted content, and the frames it leaves open.
struct Head {
    auth: bool,
    name: &'static str,
    ci: Frame,
    explicit: Frame,
    body: Frame,
    eci: Frame,
    recipient_infos: Vec<u8>,
    alg: ContentAlg,
}

impl Head {
    /// Reads up to the content encryption algorithm.
    fn read<R: Read>(src: &mut Source<R>) -> Result<Head, StreamDecryptError> {
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
        Ok(Head {
            auth,
            name,
            ci,
            explicit,
            body,
            eci,
            recipient_infos,
            alg,
        })
    }

    /// The header of the encrypted content, which must be present.
    fn content_header<R: Read>(&self, src: &mut Source<R>) -> Result<Header, StreamDecryptError> {
        src.next(self.eci, "encryptedContent")?
            .ok_or_else(|| unsupported("the encrypted content is detached"))
    }

    /// The least room left in the frames around the content, when one has a definite length.
    fn enclosing(&self, pos: u64) -> Option<u64> {
        [self.ci, self.explicit, self.body, self.eci]
            .iter()
            .filter_map(|f| f.remaining(pos))
            .min()
    }

    /// Reads what follows the content, up to the end of the ContentInfo.
    fn finish<R: Read>(&self, src: &mut Source<R>) -> Result<Trailer, StreamDecryptError> {
        src.close(self.eci, "EncryptedContentInfo")?;
        let trailer = trailer(src, self.body, self.auth, self.name)?;
        src.close(self.explicit, "ContentInfo content")?;
        src.close(self.ci, "ContentInfo")?;
        Ok(trailer)
    }
}

/// Opens the same encrypted structure again from its start, for a GCM tag that must be
/// checked over the ciphertext (see [`DecryptStream`]).
pub(crate) type Reopen<'a> = &'a dyn Fn() -> std::io::Result<Box<dyn Read + 'a>>;

/// The plaintext of an EnvelopedData or AuthEnvelopedData as a reader, decrypted as the
/// ciphertext streams in: memory stays at a few chunks whatever the size. The plaintext is
/// handed on before the padding or the tag is known to be right: the last `read` fails if
/// either is not, and everything read before must then be thrown away. Errors of the
/// structure or the decryption are [`CmsIo`] inside the `io::Error`; errors of the input pass
/// through as they came.
pub(crate) struct DecryptStream<'a, R> {
    src: Source<R>,
    head: Head,
    content: Octets,
    dec: Option<Decryptor>,
    /// The decrypted bytes not yet read, from `pos`.
    out: Vec<u8>,
    pos: usize,
    reopen: Option<Reopen<'a>>,
    done: bool,
}

/// A CMS failure carried through `std::io::Read`.
#[derive(Debug, Error)]
#[error(transparent)]
pub(crate) struct CmsIo(pub CmsError);

impl<'a, R: Read> DecryptStream<'a, R> {
    /// Reads up to the encrypted content and finds the content key.
    /// [`StreamDecryptError::Unsupported`] comes from here only, before any plaintext.
    pub(crate) fn open(
        input: R,
        keys: &[KeyPair],
        limits: &Limits,
        reopen: Option<Reopen<'a>>,
    ) -> Result<Self, StreamDecryptError> {
        let mut src = Source::new(input, CHUNK, MAX_BUFFERED);
        let head = Head::read(&mut src)?;
        let key = keys::content_key(&head.recipient_infos, keys, head.alg.cipher.key_len())?;
        let h = head.content_header(&mut src)?;
        let reserve = match (h.tag, h.len) {
            // Only for the size check: nothing is collected.
            (0x80, Some(len)) => cipher::Reserve::ExactUnreserved(len),
            _ => Reserve::Unknown,
        };
        let dec = Decryptor::new(&head.alg, &key, limits, reserve)?;
        let content = Octets::new(&src, &h, 0x80, 0xA0, "encrypted content")?;
        Ok(DecryptStream {
            src,
            head,
            content,
            dec: Some(dec),
            out: Vec::new(),
            pos: 0,
            reopen,
            done: false,
        })
    }

    /// Whether the structure is AuthEnvelopedData.
    pub(crate) fn authenticated(&self) -> bool {
        self.head.auth
    }

    /// Decrypts the next piece into `out`; at the end, checks the padding or tag.
    fn step(&mut self) -> Result<(), StreamDecryptError> {
        let Some(dec) = self.dec.as_mut() else {
            self.done = true;
            return Ok(());
        };
        if self
            .content
            .next(&mut self.src, |piece| dec.update(piece))?
        {
            std::mem::swap(&mut self.out, dec.output());
            return Ok(());
        }
        let trailer = self.head.finish(&mut self.src)?;
        let dec = self
            .dec
            .take()
            .ok_or_else(|| malformed("decryption ended twice"))?;
        let (last, check) = dec.finish_stream(trailer)?;
        if let Some(check) = check {
            self.check_tag(check)?;
        }
        self.out = last;
        Ok(())
    }

    /// The GCM tag over the ciphertext read a second time, the AAD now known.
    fn check_tag(&self, check: cipher::TagCheck) -> Result<(), StreamDecryptError> {
        let reopen = self.reopen.ok_or_else(|| {
            decryption("authenticated attributes of a nested AuthEnvelopedData cannot be checked while streaming")
        })?;
        let input = reopen().map_err(StreamDecryptError::Io)?;
        let mut src = Source::new(input, CHUNK, MAX_BUFFERED);
        let head = Head::read(&mut src)?;
        let h = head.content_header(&mut src)?;
        let mut content = Octets::new(&src, &h, 0x80, 0xA0, "encrypted content")?;
        let mut checker = check.start()?;
        while content.next(&mut src, |piece| checker.update(piece))? {}
        head.finish(&mut src)?;
        checker.finish()
    }
}

impl<R: Read> Read for DecryptStream<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            if self.pos < self.out.len() {
                let n = buf.len().min(self.out.len() - self.pos);
                buf[..n].copy_from_slice(&self.out[self.pos..self.pos + n]);
                self.pos += n;
                return Ok(n);
            }
            self.out.clear();
            self.pos = 0;
            if self.done || buf.is_empty() {
                return Ok(0);
            }
            if let Err(e) = self.step() {
                // Nothing more comes out of a failed decryption.
                self.done = true;
                self.dec = None;
                return Err(match e {
                    StreamDecryptError::Io(e) => e,
                    StreamDecryptError::Cms(e) => std::io::Error::other(CmsIo(e)),
                    StreamDecryptError::Unsupported(m) => {
                        std::io::Error::other(CmsIo(CmsError::Malformed(m)))
                    }
                });
            }
        }
    }
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
pub(crate) mod fixtures;

#[cfg(test)]
mod tests;

#[cfg(test)]
pub(crate) mod auth_tests;
