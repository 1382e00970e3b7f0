//! CMS SignedData and CompressedData read as they stream: the small fields are buffered, the
//! encapsulated content (one OCTET STRING, or BER segments of one) comes out of a reader and
//! is hashed as it passes; what follows it (certificates, SignerInfos) is read at its end.

use std::io::{self, Read};

use crate::cms::{CmsError, OID_SIGNED_DATA};
use crate::compress::{OID_COMPRESSED_DATA, OID_ZLIB};
use crate::der::{self, TAG_CONTEXT_0, TAG_INTEGER, TAG_OID, TAG_SEQUENCE, TAG_SET};
use crate::envelope::ber::{expect, malformed, Frame, Octets, Source};
use crate::envelope::{CmsIo, StreamDecryptError};
use crate::micalg::MicAlg;

use super::hash::Digests;

const CHUNK: usize = 64 * 1024;
/// Cap on the fields buffered around the content (certificates, SignerInfos).
const MAX_BUFFERED: usize = 4 << 20;

type Result<T> = std::result::Result<T, StreamDecryptError>;

/// An opened encapsulated content: its frame, content type, `[0]` frame and content.
type Opened = (Frame, Vec<u8>, Frame, Octets);

/// Digests of a content by algorithm.
pub(crate) type DigestList = Vec<(MicAlg, Vec<u8>)>;

/// Which structure, with the fields kept for after the content.
enum Kind {
    Compressed,
    Signed {
        version: Vec<u8>,
        digest_algorithms: Vec<u8>,
        content_type: Vec<u8>,
        signer_infos: Option<Vec<u8>>,
    },
}

/// Why a CompressedData cannot be read at its start (`compress::CompressError` kinds).
pub(crate) enum CompressedStart {
    Unsupported(String),
    NoContent,
    Failed(StreamDecryptError),
}

/// The encapsulated content of a SignedData or CompressedData as a reader.
pub(crate) struct Encap<R> {
    src: Source<R>,
    kind: Kind,
    ci: Frame,
    explicit: Frame,
    /// The SignedData or CompressedData.
    body: Frame,
    encap: Frame,
    econtent: Frame,
    /// `None` once the content ended.
    content: Option<Octets>,
    digests: Digests,
    out: Vec<u8>,
    pos: usize,
    failed: bool,
}

fn oid(src: &mut Source<impl Read>, frame: Frame, what: &str) -> Result<(Vec<u8>, String)> {
    let h = src.require(frame, what)?;
    expect(&h, TAG_OID, what)?;
    let raw = src.element(&h, what)?;
    let text = der::parse(&raw)
        .and_then(|el| el.oid())
        .map_err(|e| malformed(format!("{what}: {e}")))?;
    Ok((raw, text))
}

impl<R: Read> Encap<R> {
    /// Reads a ContentInfo up to its content: `expected` is its content type OID.
    fn open_content_info(src: &mut Source<R>, expected: &str) -> Result<(Frame, Frame, Frame)> {
        let h = src.header("ContentInfo")?;
        expect(&h, TAG_SEQUENCE, "ContentInfo")?;
        let ci = src.enter(&h, "ContentInfo")?;
        let (_, content_type) = oid(src, ci, "ContentInfo contentType")?;
        if content_type != expected {
            return Err(malformed(format!("content type {content_type}")));
        }
        let h = src.require(ci, "ContentInfo content")?;
        expect(&h, TAG_CONTEXT_0, "ContentInfo content")?;
        let explicit = src.enter(&h, "ContentInfo content")?;
        let h = src.require(explicit, "content")?;
        expect(&h, TAG_SEQUENCE, "content")?;
        let body = src.enter(&h, "content")?;
        Ok((ci, explicit, body))
    }

    /// The encapContentInfo, up to the start of its content; `None` when it has none.
    fn open_encap(src: &mut Source<R>, body: Frame) -> Result<Option<Opened>> {
        let h = src.require(body, "encapContentInfo")?;
        expect(&h, TAG_SEQUENCE, "encapContentInfo")?;
        let encap = src.enter(&h, "encapContentInfo")?;
        let (content_type, _) = oid(src, encap, "eContentType")?;
        let Some(h) = src.next(encap, "eContent")? else {
            return Ok(None);
        };
        expect(&h, TAG_CONTEXT_0, "eContent")?;
        let econtent = src.enter(&h, "eContent")?;
        let h = src.require(econtent, "eContent")?;
        let content = Octets::new(src, &h, 0x04, 0x24, "encapsulated content")?;
        Ok(Some((encap, content_type, econtent, content)))
    }

    /// A CompressedData (zlib), hashing nothing.
    pub(crate) fn compressed(input: R) -> std::result::Result<Self, CompressedStart> {
        let mut src = Source::new(input, CHUNK, MAX_BUFFERED);
        let (ci, explicit, body) = Self::open_content_info(&mut src, OID_COMPRESSED_DATA)
            .map_err(CompressedStart::Failed)?;
        let read_alg = |src: &mut Source<R>| -> Result<String> {
            let h = src.require(body, "version")?;
            expect(&h, TAG_INTEGER, "version")?;
            src.element(&h, "version")?;
            let h = src.require(body, "compressionAlgorithm")?;
            expect(&h, TAG_SEQUENCE, "compressionAlgorithm")?;
            let alg = src.enter(&h, "compressionAlgorithm")?;
            let (_, oid_text) = oid(src, alg, "compressionAlgorithm")?;
            while let Some(h) = src.next(alg, "compressionAlgorithm")? {
                src.element(&h, "compressionAlgorithm parameters")?;
            }
            Ok(oid_text)
        };
        let alg = read_alg(&mut src).map_err(CompressedStart::Failed)?;
        if alg != OID_ZLIB {
            return Err(CompressedStart::Unsupported(alg));
        }
        let Some((encap, _, econtent, content)) =
            Self::open_encap(&mut src, body).map_err(CompressedStart::Failed)?
        else {
            return Err(CompressedStart::NoContent);
        };
        Ok(Encap {
            src,
            kind: Kind::Compressed,
            ci,
            explicit,
            body,
            encap,
            econtent,
            content: Some(content),
            digests: Digests::new(&[]),
            out: Vec::new(),
            pos: 0,
            failed: false,
        })
    }

    /// An opaque SignedData: its content is hashed with `extra` and with every digest its
    /// digestAlgorithms announce (the signer's must be among them).
    pub(crate) fn signed(input: R, extra: &[MicAlg]) -> Result<Self> {
        let mut src = Source::new(input, CHUNK, MAX_BUFFERED);
        let (ci, explicit, signed_data) = Self::open_content_info(&mut src, OID_SIGNED_DATA)?;
        let h = src.require(signed_data, "version")?;
        expect(&h, TAG_INTEGER, "version")?;
        let version = src.element(&h, "version")?;
        let h = src.require(signed_data, "digestAlgorithms")?;
        expect(&h, TAG_SET, "digestAlgorithms")?;
        let digest_algorithms = src.element(&h, "digestAlgorithms")?;
        let mut algs = announced(&digest_algorithms);
        algs.extend_from_slice(extra);
        let Some((encap, content_type, econtent, content)) =
            Self::open_encap(&mut src, signed_data)?
        else {
            return Err(malformed("the signed content is detached"));
        };
        Ok(Encap {
            src,
            kind: Kind::Signed {
                version,
                digest_algorithms,
                content_type,
                signer_infos: None,
            },
            ci,
            explicit,
            body: signed_data,
            encap,
            econtent,
            content: Some(content),
            digests: Digests::new(&algs),
            out: Vec::new(),
            pos: 0,
            failed: false,
        })
    }

    /// After the end: the digests of the content and, for a SignedData, the structure
    /// without its content (what `verify::verify` takes).
    pub(crate) fn finish(self) -> (DigestList, Option<Vec<u8>>) {
        let detached = match self.kind {
            Kind::Signed {
                version,
                digest_algorithms,
                content_type,
                signer_infos: Some(signer_infos),
                ..
            } => {
                let encap = der::write_tlv(TAG_SEQUENCE, &content_type);
                let fields = [version, digest_algorithms, encap, signer_infos].concat();
                let explicit =
                    der::write_tlv(TAG_CONTEXT_0, &der::write_tlv(TAG_SEQUENCE, &fields));
                let ci = [der::write_oid(OID_SIGNED_DATA), explicit].concat();
                Some(der::write_tlv(TAG_SEQUENCE, &ci))
            }
            _ => None,
        };
        (self.digests.finish(), detached)
    }

    /// Reads what follows the content up to the end of the ContentInfo.
    fn trailer(&mut self) -> Result<()> {
        let src = &mut self.src;
        src.close(self.econtent, "eContent")?;
        src.close(self.encap, "encapContentInfo")?;
        if let Kind::Signed { signer_infos, .. } = &mut self.kind {
            let mut h = src.require(self.body, "signerInfos")?;
            // Certificates and CRLs the sender embedded are never used (see `cms::verify`).
            while h.tag == TAG_CONTEXT_0 || h.tag == 0xA1 {
                src.element(&h, "certificates")?;
                h = src.require(self.body, "signerInfos")?;
            }
            expect(&h, TAG_SET, "signerInfos")?;
            *signer_infos = Some(src.element(&h, "signerInfos")?);
        }
        src.close(self.body, "content")?;
        src.close(self.explicit, "ContentInfo content")?;
        src.close(self.ci, "ContentInfo")
    }

    fn step(&mut self) -> Result<()> {
        let Some(content) = self.content.as_mut() else {
            return Ok(());
        };
        let out = &mut self.out;
        let digests = &mut self.digests;
        let more = content.next(&mut self.src, |piece| {
            digests.update(piece);
            out.extend_from_slice(piece);
            Ok(())
        })?;
        if !more {
            self.content = None;
            self.trailer()?;
        }
        Ok(())
    }
}

/// The digests a digestAlgorithms SET names.
fn announced(set: &[u8]) -> Vec<MicAlg> {
    der::parse(set)
        .and_then(|el| el.children())
        .map(|algs| {
            algs.iter()
                .filter_map(|a| a.child(0, TAG_OID).ok()?.oid().ok())
                .filter_map(|oid| MicAlg::from_oid(&oid))
                .collect()
        })
        .unwrap_or_default()
}

impl<R: Read> Read for Encap<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.pos < self.out.len() {
                let n = buf.len().min(self.out.len() - self.pos);
                buf[..n].copy_from_slice(&self.out[self.pos..self.pos + n]);
                self.pos += n;
                return Ok(n);
            }
            self.out.clear();
            self.pos = 0;
            if self.content.is_none() || self.failed || buf.is_empty() {
                return Ok(0);
            }
            if let Err(e) = self.step() {
                self.failed = true;
                return Err(match e {
                    StreamDecryptError::Io(e) => e,
                    StreamDecryptError::Cms(e) => io::Error::other(CmsIo(e)),
                    StreamDecryptError::Unsupported(m) => {
                        io::Error::other(CmsIo(CmsError::Malformed(m)))
                    }
                });
            }
        }
    }
}
