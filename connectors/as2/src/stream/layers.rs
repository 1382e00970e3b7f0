//! The S/MIME structures (application/pkcs7-mime) of a streamed message: EnvelopedData and
//! AuthEnvelopedData decrypted, SignedData verified, CompressedData inflated, each as a
//! reader the entity inside is read from. Dispositions are those of `unwrap::step`.

use std::io::{self, BufRead, BufReader, Cursor, Read};

use flate2::read::ZlibDecoder;

use crate::cms::{self, CmsError};
use crate::compress::{CompressError, OID_COMPRESSED_DATA};
use crate::disposition::ProcessingError;
use crate::envelope::{self, CmsIo, DecryptStream, StreamDecryptError};
use crate::mic::Mic;
use crate::mime::MimePart;
use crate::unwrap::{signature_error, Layer};

use super::cms_read::{CompressedStart, Encap};
use super::cte;
use super::cx::{Cx, SignatureFacts};
use super::entity::entity;
use super::fail::{drain, Fail, Owned};
use super::hash::Canonical;
use super::verify::{self, Checked};

/// The DER under an entity's transfer encoding, as `unwrap::cms_bytes` finds it: base64 is
/// decoded even when undeclared if the content does not start like DER. `Err` says why it
/// is not a CMS structure.
pub(crate) fn der_stream<'a>(
    encoding: Option<&str>,
    input: Box<dyn Read + 'a>,
) -> io::Result<Result<Box<dyn Read + 'a>, String>> {
    let decoded = match cte::decoder(encoding, input) {
        Ok(d) => d,
        Err(e) => return Ok(Err(e.to_string())),
    };
    let mut decoded = BufReader::with_capacity(64 * 1024, decoded);
    if first_byte(&mut decoded)? == Some(0x30) {
        return Ok(Ok(Box::new(decoded)));
    }
    let mut text = BufReader::with_capacity(64 * 1024, cte::base64(Box::new(decoded)));
    match first_byte(&mut text) {
        Ok(Some(0x30)) => Ok(Ok(Box::new(text))),
        Ok(_) => Ok(Err("content is not a CMS structure".into())),
        Err(e) if Fail::carried(&e).is_some() => Err(e),
        Err(_) => Ok(Err("content is not a CMS structure".into())),
    }
}

fn first_byte(r: &mut dyn BufRead) -> io::Result<Option<u8>> {
    loop {
        match r.fill_buf() {
            Ok(b) => return Ok(b.first().copied()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// The ContentInfo's header and content type OID, read byte by byte (they are the start of
/// the stream the layer then reads again): the bytes and the OID, or why they are malformed.
/// Only a failure around this layer is an `Err`.
fn content_type(r: &mut dyn Read) -> io::Result<Result<(Vec<u8>, String), String>> {
    let mut prefix = Vec::new();
    let mut byte = |prefix: &mut Vec<u8>| -> io::Result<Option<u8>> {
        let mut b = [0u8];
        match r.read_exact(&mut b) {
            Ok(()) => {
                prefix.push(b[0]);
                Ok(Some(b[0]))
            }
            Err(e) if Fail::carried(&e).is_some() => Err(e),
            Err(_) => Ok(None),
        }
    };
    let truncated = || Ok(Err("truncated ContentInfo".to_string()));
    let Some(tag) = byte(&mut prefix)? else {
        return truncated();
    };
    if tag != 0x30 {
        return Ok(Err("ContentInfo is not a SEQUENCE".into()));
    }
    let Some(len0) = byte(&mut prefix)? else {
        return truncated();
    };
    if len0 & 0x80 != 0 && len0 != 0x80 {
        for _ in 0..(len0 & 0x7F).min(8) {
            if byte(&mut prefix)?.is_none() {
                return truncated();
            }
        }
    }
    if byte(&mut prefix)? != Some(0x06) {
        return Ok(Err("malformed ASN.1: unexpected tag".into()));
    }
    let start = prefix.len() - 1;
    let Some(len) = byte(&mut prefix)? else {
        return truncated();
    };
    if len & 0x80 != 0 {
        return Ok(Err("malformed ASN.1: content type OID too long".into()));
    }
    for _ in 0..len {
        if byte(&mut prefix)?.is_none() {
            return truncated();
        }
    }
    let oid = crate::der::read_element(&prefix[start..], 0).and_then(|(el, _)| el.oid());
    Ok(oid.map(|oid| (prefix, oid)).map_err(|e| e.to_string()))
}

/// An application/pkcs7-mime entity.
pub(crate) fn cms(cx: &mut Cx<'_>, input: &mut dyn Read, part: &MimePart) -> Result<(), Fail> {
    let id = cx.id();
    let reopen = cx.reopen.take();
    let ct = part.content_type().unwrap_or_default();
    let smime_type = ct.param("smime-type").unwrap_or("").to_ascii_lowercase();
    let hinted = match smime_type.as_str() {
        "enveloped-data" | "authenveloped-data" => ProcessingError::DecryptionFailed,
        "signed-data" => ProcessingError::AuthenticationFailed,
        "compressed-data" => ProcessingError::DecompressionFailed,
        _ => ProcessingError::UnexpectedProcessingError,
    };
    let malformed = |d: String| Fail::cms(id, hinted, CmsError::Malformed(d));
    let encoding = part.transfer_encoding();
    let result = match der_stream(encoding.as_deref(), Box::new(&mut *input)) {
        Err(e) => Err(Fail::from_io(e, |e| Fail::Local(e.to_string()))),
        Ok(Err(d)) => Err(Fail::layer(id, hinted, d)),
        Ok(Ok(mut der)) => match content_type(&mut der) {
            Err(e) => Err(Fail::from_io(e, |e| Fail::Local(e.to_string()))),
            Ok(Err(d)) => Err(malformed(d)),
            Ok(Ok((prefix, oid))) => {
                let mut stream = Cursor::new(prefix).chain(der);
                let r = match oid.as_str() {
                    cms::OID_ENVELOPED_DATA | cms::OID_AUTH_ENVELOPED_DATA => {
                        decrypt(cx, id, &mut stream, reopen)
                    }
                    cms::OID_SIGNED_DATA => signed(cx, id, &mut stream),
                    OID_COMPRESSED_DATA => compressed(cx, id, hinted, &mut stream),
                    other => Err(Fail::layer(
                        id,
                        ProcessingError::UnexpectedProcessingError,
                        format!("unsupported CMS content type {other}"),
                    )),
                };
                // In memory the whole DER must parse: only zero padding may follow it.
                let trailing = trailing_zeros(&mut stream)
                    .map_err(|e| Fail::from_io(e, |e| Fail::Local(e.to_string())))
                    .and_then(|clean| {
                        if clean {
                            Ok(())
                        } else {
                            Err(malformed(
                                "malformed ASN.1: trailing data after element".into(),
                            ))
                        }
                    });
                Fail::outermost([r, trailing])
            }
        },
    };
    let rest = drain(input, |e| Fail::Local(e.to_string()));
    Fail::outermost([result, rest])
}

/// Whether the rest of `r` is only zero bytes.
fn trailing_zeros(r: &mut dyn Read) -> io::Result<bool> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut clean = true;
    loop {
        match r.read(&mut buf) {
            Ok(0) => return Ok(clean),
            Ok(n) => clean &= buf[..n].iter().all(|&b| b == 0),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// A failure a layer's reader reported: its own CMS error, or one passing through from
/// around it.
fn from_reader(e: io::Error, own: impl FnOnce(CmsError) -> Fail) -> Fail {
    Fail::from_io(e, |e| {
        let cms = match e.get_ref().and_then(|i| i.downcast_ref::<CmsIo>()) {
            Some(CmsIo(c)) => c.clone(),
            None => CmsError::Malformed(e.to_string()),
        };
        own(cms)
    })
}

/// The inner entity, unless the depth limit stops here.
fn inner(cx: &mut Cx<'_>, reader: &mut dyn Read) -> Result<(), Fail> {
    match cx.too_deep() {
        Some(f) => Err(f),
        None => entity(cx, reader, None),
    }
}

fn decrypt(
    cx: &mut Cx<'_>,
    id: usize,
    der: &mut dyn Read,
    reopen: Option<envelope::Reopen<'_>>,
) -> Result<(), Fail> {
    cx.depth += 1;
    let own = |e: CmsError| Fail::cms(id, ProcessingError::DecryptionFailed, e);
    // The body's size bounds the plaintext of the outermost structure, as the DER's size does
    // in memory. A nested one may be larger than the body (inside compression); a streamed
    // decryption reserves nothing, so a forged length costs nothing there.
    let max_content = if reopen.is_some() {
        cx.max_content
    } else {
        usize::MAX
    };
    let limits = envelope::Limits { max_content };
    let stream = match DecryptStream::open(&mut *der, cx.keys.decryption_keys, &limits, reopen) {
        Ok(s) => s,
        Err(StreamDecryptError::Unsupported(_)) => return Err(Fail::Fallback),
        Err(StreamDecryptError::Cms(e)) => return Err(own(e)),
        Err(StreamDecryptError::Io(e)) => return Err(from_reader(e, own)),
    };
    let authenticated = stream.authenticated();
    // Only the outermost decryption's entity makes a MIC, and only when it is not signed.
    let outermost = cx.decryptions == 0;
    cx.decryptions += 1;
    let mut tee = Owned {
        inner: Tee {
            inner: stream,
            canonical: outermost.then(|| Canonical::new(&[cx.requested])),
            keep: cx.plan.decrypted,
        },
        own: |e| from_reader(e, own),
    };
    let inner = inner(cx, &mut tee);
    let own_end = drain(&mut tee, |e| from_reader(e, own));
    let mic = tee
        .inner
        .canonical
        .take()
        .and_then(|c| c.finish().into_iter().next())
        .map(|(alg, digest)| Mic { alg, digest });
    let outcome = Fail::outermost([inner, own_end]);
    cx.conclude(id, outcome, Layer::Encrypted { authenticated }, |facts| {
        if outermost {
            facts.decrypted = Some(mic);
        }
    })
}

/// The decrypted entity, hashed in canonical form as it is read.
struct Tee<R> {
    inner: R,
    canonical: Option<Canonical>,
    /// Keep hashing a signed entity too.
    keep: bool,
}

impl<R: Read> Read for Tee<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(c) = &mut self.canonical {
            c.update(&buf[..n]);
            if !self.keep && c.signed_entity() {
                self.canonical = None;
            }
        }
        Ok(n)
    }
}

fn signed(cx: &mut Cx<'_>, id: usize, der: &mut dyn Read) -> Result<(), Fail> {
    cx.depth += 1;
    let ordinal = cx.signatures;
    cx.signatures += 1;
    let own = |e: CmsError| {
        let (error, detail, cms) = *signature_error(e);
        Fail::Layer {
            id,
            error,
            detail,
            cms,
        }
    };
    let mut extra = vec![cx.requested];
    extra.extend(cx.plan.algs(ordinal, false));
    let encap = match Encap::signed(&mut *der, &extra) {
        Ok(e) => e,
        Err(StreamDecryptError::Io(e)) => return Err(from_reader(e, own)),
        Err(StreamDecryptError::Cms(e)) => return Err(own(e)),
        Err(StreamDecryptError::Unsupported(m)) => return Err(own(CmsError::Malformed(m))),
    };
    let mut encap = Owned {
        inner: encap,
        own: |e| from_reader(e, own),
    };
    let inner = inner(cx, &mut encap);
    let own_end = drain(&mut encap, |e| from_reader(e, own));
    let checked = match own_end {
        Err(f) => Err(f),
        Ok(()) => {
            let (digests, detached) = encap.inner.finish();
            let detached = detached.unwrap_or_default();
            let keys = cx.keys;
            match verify::verify(
                &detached,
                &digests,
                None,
                keys.partner_certificates,
                keys.allow_expired_certificates,
            ) {
                Checked::Verified {
                    signature,
                    digest,
                    alg,
                } => Ok(SignatureFacts {
                    alg,
                    signer: signature.signer,
                    mic: Mic { alg, digest },
                }),
                Checked::Failed(e) => Err(own(e)),
                Checked::Needs(alg, canonical) => {
                    cx.needs.push((ordinal, alg, canonical));
                    Err(Fail::Retry)
                }
            }
        }
    };
    let (own_result, facts) = match checked {
        Ok(f) => (Ok(()), Some(f)),
        Err(f) => (Err(f), None),
    };
    let alg = facts.as_ref().map(|f| f.alg);
    let outcome = Fail::outermost([inner, own_result]);
    let layer = Layer::Signed {
        alg,
        detached: false,
    };
    cx.conclude(id, outcome, layer, |recorded| recorded.signature = facts)
}

/// `hinted` is the disposition of a structure that does not parse (in memory the whole DER is
/// parsed before it is decompressed).
fn compressed(
    cx: &mut Cx<'_>,
    id: usize,
    hinted: ProcessingError,
    der: &mut dyn Read,
) -> Result<(), Fail> {
    cx.depth += 1;
    let own = |d: String| Fail::layer(id, ProcessingError::DecompressionFailed, d);
    let own_cms = |e: CmsError| Fail::cms(id, hinted, e);
    let encap = match Encap::compressed(&mut *der) {
        Ok(e) => e,
        Err(CompressedStart::Unsupported(alg)) => {
            return Err(own(CompressError::UnsupportedAlgorithm(alg).to_string()))
        }
        Err(CompressedStart::NoContent) => return Err(own(CompressError::NoContent.to_string())),
        Err(CompressedStart::Failed(StreamDecryptError::Io(e))) => {
            return Err(from_reader(e, own_cms))
        }
        Err(CompressedStart::Failed(StreamDecryptError::Cms(e))) => return Err(own_cms(e)),
        Err(CompressedStart::Failed(e)) => return Err(own(e.to_string())),
    };
    let max = cx.limits.max_decompressed_size;
    let inflate_error = |e: io::Error| {
        if let Some(CmsIo(c)) = e.get_ref().and_then(|i| i.downcast_ref::<CmsIo>()) {
            own_cms(c.clone())
        } else if e.kind() == io::ErrorKind::FileTooLarge {
            own(CompressError::TooLarge(max).to_string())
        } else {
            own(CompressError::Inflate(e.to_string()).to_string())
        }
    };
    let mut inflated = Owned {
        inner: Limited {
            inner: ZlibDecoder::new(encap),
            left: max,
            max,
        },
        own: inflate_error,
    };
    let inner = inner(cx, &mut inflated);
    let own_end = drain(&mut inflated, inflate_error);
    // What follows the zlib stream up to the end of the structure.
    let mut encap = inflated.inner.inner.into_inner();
    let structure = drain(&mut encap, |e| from_reader(e, own_cms));
    let outcome = Fail::outermost([inner, own_end, structure]);
    cx.conclude(id, outcome, Layer::Compressed, |_| {})
}

/// Inflated content up to the decompression limit.
struct Limited<R> {
    inner: R,
    left: u64,
    max: u64,
}

impl<R: Read> Read for Limited<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n as u64 > self.left {
            return Err(io::Error::new(
                io::ErrorKind::FileTooLarge,
                format!(
                    "decompressed content exceeds the limit of {} bytes",
                    self.max
                ),
            ));
        }
        self.left -= n as u64;
        Ok(n)
    }
}
