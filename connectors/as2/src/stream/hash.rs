//! Digests computed as the bytes pass: of an entity as received, and of its canonical form
//! (what `mic::canonical_entity` gives in memory), without holding the entity.

use openssl::hash::Hasher;

use crate::mic::is_text_body;
use crate::micalg::MicAlg;
use crate::mime::MimePart;

/// Longest header block of a MIME entity read from a stream.
pub(crate) const MAX_HEADER_BLOCK: usize = 1 << 20;

/// Several digests of the same bytes.
pub(crate) struct Digests {
    hashers: Vec<(MicAlg, Option<Hasher>)>,
}

impl Digests {
    pub(crate) fn new(algs: &[MicAlg]) -> Digests {
        let mut hashers: Vec<(MicAlg, Option<Hasher>)> = Vec::new();
        for &alg in algs {
            if !hashers.iter().any(|(a, _)| *a == alg) {
                hashers.push((alg, Hasher::new(alg.message_digest()).ok()));
            }
        }
        Digests { hashers }
    }

    pub(crate) fn update(&mut self, data: &[u8]) {
        for (_, hasher) in &mut self.hashers {
            // A hasher fails only when OpenSSL cannot allocate; its digest is then missing,
            // which the verification reports rather than a wrong value.
            if hasher.as_mut().is_some_and(|h| h.update(data).is_err()) {
                *hasher = None;
            }
        }
    }

    pub(crate) fn finish(self) -> Vec<(MicAlg, Vec<u8>)> {
        self.hashers
            .into_iter()
            .filter_map(|(alg, h)| Some((alg, h?.finish().ok()?.to_vec())))
            .collect()
    }
}

/// Finds the end of a MIME header block in a stream, as `MimePart::parse` does in memory:
/// the first empty line (CRLF or bare LF), or the very start for an entity without headers.
#[derive(Default)]
pub(crate) struct HeaderScan {
    /// Bytes of the current line, without its LF.
    line_len: usize,
    /// Whether the current line is exactly one CR so far.
    line_is_cr: bool,
}

impl HeaderScan {
    /// The number of bytes of `data` up to and including the empty line, if it ends there.
    pub(crate) fn feed(&mut self, data: &[u8]) -> Option<usize> {
        for (i, &b) in data.iter().enumerate() {
            if b == b'\n' {
                if self.line_len == 0 || (self.line_len == 1 && self.line_is_cr) {
                    return Some(i + 1);
                }
                self.line_len = 0;
                self.line_is_cr = false;
            } else {
                self.line_is_cr = self.line_len == 0 && b == b'\r';
                self.line_len += 1;
            }
        }
        None
    }
}

/// Converts bare LF and bare CR to CRLF as bytes pass (`mic::to_crlf` over a stream).
#[derive(Default)]
struct Crlf {
    cr_pending: bool,
}

impl Crlf {
    fn feed(&mut self, data: &[u8], out: &mut Digests) {
        let mut start = 0;
        for (i, &b) in data.iter().enumerate() {
            if self.cr_pending {
                self.cr_pending = false;
                if b == b'\n' {
                    // A CRLF: the CR was held back, the LF is emitted with the next run.
                    out.update(b"\r");
                    start = i;
                    continue;
                }
                out.update(b"\r\n");
                start = i;
            }
            match b {
                b'\r' => {
                    out.update(&data[start..i]);
                    self.cr_pending = true;
                    start = i + 1;
                }
                b'\n' => {
                    out.update(&data[start..i]);
                    out.update(b"\r\n");
                    start = i + 1;
                }
                _ => {}
            }
        }
        // Empty when a CR is pending: it was the last byte.
        out.update(&data[start..]);
    }

    fn finish(&mut self, out: &mut Digests) {
        if std::mem::take(&mut self.cr_pending) {
            out.update(b"\r\n");
        }
    }
}

/// The digests of an entity's canonical form: header lines with CRLF, then the body with
/// CRLF line ends when it is text (see `mic::is_text_body`), else as it is.
pub(crate) struct Canonical {
    digests: Digests,
    crlf: Crlf,
    /// The header block while it is read; `None` once the body started.
    head: Option<(Vec<u8>, HeaderScan)>,
    text_body: bool,
    /// The entity is signed (multipart/signed or SignedData): its MIC comes from the signature.
    signed: bool,
    /// The header block was too long to judge: no digest.
    failed: bool,
}

impl Canonical {
    pub(crate) fn new(algs: &[MicAlg]) -> Canonical {
        Canonical {
            digests: Digests::new(algs),
            crlf: Crlf::default(),
            head: Some((Vec::new(), HeaderScan::default())),
            text_body: false,
            signed: false,
            failed: false,
        }
    }

    /// Whether the headers were read and say the entity is signed.
    pub(crate) fn signed_entity(&self) -> bool {
        self.head.is_none() && self.signed
    }

    pub(crate) fn update(&mut self, mut data: &[u8]) {
        if self.failed {
            return;
        }
        if let Some((block, scan)) = &mut self.head {
            let end = scan.feed(data);
            let take = end.unwrap_or(data.len());
            block.extend_from_slice(&data[..take]);
            data = &data[take..];
            if end.is_none() {
                if block.len() > MAX_HEADER_BLOCK {
                    self.failed = true;
                }
                return;
            }
            let part = MimePart::parse(block);
            self.text_body = is_text_body(&part);
            self.signed = part.content_type().is_some_and(|ct| {
                ct.is("multipart/signed")
                    || ct
                        .param("smime-type")
                        .is_some_and(|t| t.eq_ignore_ascii_case("signed-data"))
            });
            self.crlf.feed(block, &mut self.digests);
            self.crlf.finish(&mut self.digests);
            self.head = None;
        }
        if self.text_body {
            self.crlf.feed(data, &mut self.digests);
        } else {
            self.digests.update(data);
        }
    }

    /// The digests, or none when the header block was too long.
    pub(crate) fn finish(mut self) -> Vec<(MicAlg, Vec<u8>)> {
        if self.failed {
            return Vec::new();
        }
        if let Some((block, _)) = self.head.take() {
            // No empty line: everything is headers.
            self.crlf.feed(&block, &mut self.digests);
        }
        self.crlf.finish(&mut self.digests);
        self.digests.finish()
    }
}
