//! Incremental BER reading for the streaming decryptor: element headers and
//! container ends are read one at a time from the input, so the large
//! encrypted content never has to be in memory as one piece.
//!
//! Small elements (algorithm identifiers, recipient infos, the MAC) are read
//! whole into memory and handed to the in-memory [`crate::der`] reader; a
//! budget caps how much of that buffering one message may cause.

use crate::cms::CmsError;
use crate::der::{self, Element};
use crate::envelope::StreamDecryptError;
use std::io::{ErrorKind, Read};

/// Nesting limit for indefinite-length elements read whole and for
/// constructed encrypted content: hostile nesting must not blow the stack.
pub(crate) const MAX_DEPTH: usize = 64;

pub(crate) fn malformed(msg: impl Into<String>) -> StreamDecryptError {
    StreamDecryptError::Cms(CmsError::Malformed(msg.into()))
}

/// One element's identifier and length octets.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Header {
    pub tag: u8,
    /// `None`: indefinite length (constructed only), ended by `00 00`.
    pub len: Option<u64>,
    raw: [u8; 10],
    raw_len: usize,
}

impl Header {
    fn raw(&self) -> &[u8] {
        self.raw.get(..self.raw_len).unwrap_or(&[])
    }

    fn is_end_of_contents(&self) -> bool {
        self.tag == 0 && self.len == Some(0)
    }
}

/// Where a constructed element ends: a byte offset for a definite length,
/// or `None` when an end-of-contents marker closes it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Frame {
    end: Option<u64>,
}

impl Frame {
    /// Bytes left in the frame after `pos`, when the frame has a definite length.
    pub fn remaining(&self, pos: u64) -> Option<u64> {
        self.end.map(|e| e.saturating_sub(pos))
    }
}

/// The input with a read buffer and a count of the bytes consumed, which
/// definite-length containers are checked against.
pub(crate) struct Source<R> {
    inner: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    pos: u64,
    /// Bytes that may still be buffered for whole elements.
    budget: usize,
}

impl<R: Read> Source<R> {
    pub fn new(inner: R, buffer_size: usize, budget: usize) -> Self {
        Source {
            inner,
            buf: vec![0; buffer_size.max(16)],
            start: 0,
            end: 0,
            pos: 0,
            budget,
        }
    }

    pub fn pos(&self) -> u64 {
        self.pos
    }

    /// Buffered bytes, reading more when none are left; empty only at the
    /// end of the input.
    pub fn fill(&mut self) -> Result<&[u8], StreamDecryptError> {
        if self.start >= self.end {
            self.start = 0;
            self.end = loop {
                match self.inner.read(&mut self.buf) {
                    Ok(n) => break n.min(self.buf.len()),
                    Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                    Err(e) => return Err(StreamDecryptError::Io(e)),
                }
            };
        }
        Ok(self.buf.get(self.start..self.end).unwrap_or(&[]))
    }

    pub fn consume(&mut self, n: usize) {
        let n = n.min(self.end.saturating_sub(self.start));
        self.start += n;
        self.pos += n as u64;
    }

    fn byte(&mut self, what: &str) -> Result<u8, StreamDecryptError> {
        let b = *self
            .fill()?
            .first()
            .ok_or_else(|| malformed(format!("truncated input while reading {what}")))?;
        self.consume(1);
        Ok(b)
    }

    /// Appends exactly `len` input bytes to `out`.
    fn copy_to(
        &mut self,
        out: &mut Vec<u8>,
        len: u64,
        what: &str,
    ) -> Result<(), StreamDecryptError> {
        let mut left = len;
        while left > 0 {
            let avail = self.fill()?;
            if avail.is_empty() {
                return Err(malformed(format!("truncated input while reading {what}")));
            }
            let n = avail.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            out.extend_from_slice(avail.get(..n).unwrap_or(&[]));
            self.consume(n);
            left -= n as u64;
        }
        Ok(())
    }

    pub fn header(&mut self, what: &str) -> Result<Header, StreamDecryptError> {
        let mut raw = [0u8; 10];
        let tag = self.byte(what)?;
        if tag & 0x1F == 0x1F {
            return Err(malformed(format!("high tag number in {what}")));
        }
        let len0 = self.byte(what)?;
        raw[0] = tag;
        raw[1] = len0;
        let mut raw_len = 2;
        let len = if len0 == 0x80 {
            if tag & 0x20 == 0 {
                return Err(malformed(format!("indefinite length on primitive {what}")));
            }
            None
        } else if len0 & 0x80 == 0 {
            Some(u64::from(len0))
        } else {
            let n = usize::from(len0 & 0x7F);
            if n > 8 {
                return Err(malformed(format!("length of {what} does not fit 64 bits")));
            }
            let mut len = 0u64;
            for slot in raw.iter_mut().skip(2).take(n) {
                let b = self.byte(what)?;
                *slot = b;
                len = (len << 8) | u64::from(b);
            }
            raw_len += n;
            Some(len)
        };
        Ok(Header {
            tag,
            len,
            raw,
            raw_len,
        })
    }

    /// The frame of a constructed element whose header was just read.
    pub fn enter(&self, h: &Header, what: &str) -> Result<Frame, StreamDecryptError> {
        if h.tag & 0x20 == 0 {
            return Err(malformed(format!("{what} is not constructed")));
        }
        let end = match h.len {
            Some(l) => Some(
                self.pos
                    .checked_add(l)
                    .ok_or_else(|| malformed(format!("length of {what} overflows")))?,
            ),
            None => None,
        };
        Ok(Frame { end })
    }

    /// The next child header in `frame`, or `None` at its end (the
    /// end-of-contents marker of an indefinite frame is consumed).
    pub fn next(&mut self, frame: Frame, what: &str) -> Result<Option<Header>, StreamDecryptError> {
        if let Some(end) = frame.end {
            if self.pos == end {
                return Ok(None);
            }
            if self.pos > end {
                return Err(malformed(format!("{what} overruns its container")));
            }
        }
        let h = self.header(what)?;
        if h.tag == 0 {
            return if frame.end.is_none() && h.is_end_of_contents() {
                Ok(None)
            } else {
                Err(malformed(format!("unexpected end-of-contents at {what}")))
            };
        }
        if let (Some(end), Some(len)) = (frame.end, h.len) {
            if self.pos.checked_add(len).is_none_or(|e| e > end) {
                return Err(malformed(format!("{what} overruns its container")));
            }
        }
        Ok(Some(h))
    }

    /// The next child, which must exist.
    pub fn require(&mut self, frame: Frame, what: &str) -> Result<Header, StreamDecryptError> {
        self.next(frame, what)?
            .ok_or_else(|| malformed(format!("missing {what}")))
    }

    /// Checks that `frame` ends here.
    pub fn close(&mut self, frame: Frame, what: &str) -> Result<(), StreamDecryptError> {
        match self.next(frame, what)? {
            None => Ok(()),
            Some(_) => Err(malformed(format!(
                "unexpected element at the end of {what}"
            ))),
        }
    }

    /// The complete encoding (header included) of the element whose header
    /// was just read, charged against the buffering budget.
    pub fn element(&mut self, h: &Header, what: &str) -> Result<Vec<u8>, StreamDecryptError> {
        let mut out = Vec::new();
        self.element_into(h, &mut out, 0, what)?;
        Ok(out)
    }

    fn element_into(
        &mut self,
        h: &Header,
        out: &mut Vec<u8>,
        depth: usize,
        what: &str,
    ) -> Result<(), StreamDecryptError> {
        if depth > MAX_DEPTH {
            return Err(malformed(format!("{what} is nested too deeply")));
        }
        self.charge(h.raw_len as u64)?;
        out.extend_from_slice(h.raw());
        match h.len {
            Some(len) => {
                self.charge(len)?;
                self.copy_to(out, len, what)
            }
            None => loop {
                let child = self.header(what)?;
                if child.is_end_of_contents() {
                    self.charge(2)?;
                    out.extend_from_slice(&[0, 0]);
                    return Ok(());
                }
                self.element_into(&child, out, depth + 1, what)?;
            },
        }
    }

    fn charge(&mut self, n: u64) -> Result<(), StreamDecryptError> {
        match usize::try_from(n).ok().filter(|&n| n <= self.budget) {
            Some(n) => {
                self.budget -= n;
                Ok(())
            }
            None => Err(malformed(
                "the CMS fields around the encrypted content are too large",
            )),
        }
    }
}

pub(crate) fn expect(h: &Header, tag: u8, what: &str) -> Result<(), StreamDecryptError> {
    if h.tag == tag {
        Ok(())
    } else {
        Err(malformed(format!(
            "unexpected tag {:#04x} for {what}",
            h.tag
        )))
    }
}

pub(crate) fn parse<'a>(bytes: &'a [u8], what: &str) -> Result<Element<'a>, StreamDecryptError> {
    der::parse(bytes).map_err(|e| malformed(format!("{what}: {e}")))
}

pub(crate) fn children<'a>(
    el: &Element<'a>,
    what: &str,
) -> Result<Vec<Element<'a>>, StreamDecryptError> {
    el.children().map_err(|e| malformed(format!("{what}: {e}")))
}

pub(crate) fn oid_of(el: Option<&Element<'_>>, what: &str) -> Result<String, StreamDecryptError> {
    el.ok_or_else(|| malformed(format!("missing {what}")))?
        .oid()
        .map_err(|e| malformed(format!("{what}: {e}")))
}

pub(crate) fn octets(el: Option<&Element<'_>>, what: &str) -> Result<Vec<u8>, StreamDecryptError> {
    el.ok_or_else(|| malformed(format!("missing {what}")))?
        .octets()
        .map_err(|e| malformed(format!("{what}: {e}")))
}

/// The bytes of an OCTET STRING (or an implicitly tagged one) as it streams: one primitive
/// segment, or a constructed one whose primitive segments (nested at most [`MAX_DEPTH`] deep)
/// are concatenated, as streaming BER encoders split large content.
pub(crate) struct Octets {
    /// Open constructed segments, innermost last.
    stack: Vec<Frame>,
    /// Bytes left in the current primitive segment.
    left: u64,
    what: &'static str,
}

impl Octets {
    /// For the element whose header `h` was just read: `primitive` and `constructed` are the
    /// tags it may carry (e.g. `0x04`/`0x24`, or `0x80`/`0xA0` for `[0] IMPLICIT`).
    pub fn new<R: Read>(
        src: &Source<R>,
        h: &Header,
        primitive: u8,
        constructed: u8,
        what: &'static str,
    ) -> Result<Octets, StreamDecryptError> {
        let mut octets = Octets {
            stack: Vec::new(),
            left: 0,
            what,
        };
        if h.tag == primitive {
            octets.left = h
                .len
                .ok_or_else(|| malformed(format!("{what} segment without a length")))?;
        } else if h.tag == constructed {
            octets.stack.push(src.enter(h, what)?);
        } else {
            return Err(malformed(format!("unexpected tag for {what}")));
        }
        Ok(octets)
    }

    /// Hands the next piece of content to `f`; `false` once the content has ended (the
    /// end-of-contents markers of its segments consumed).
    pub fn next<R: Read>(
        &mut self,
        src: &mut Source<R>,
        mut f: impl FnMut(&[u8]) -> Result<(), StreamDecryptError>,
    ) -> Result<bool, StreamDecryptError> {
        let what = self.what;
        loop {
            if self.left > 0 {
                let avail = src.fill()?;
                if avail.is_empty() {
                    return Err(malformed(format!(
                        "truncated input while reading the {what}"
                    )));
                }
                let n = avail
                    .len()
                    .min(usize::try_from(self.left).unwrap_or(usize::MAX));
                f(avail.get(..n).unwrap_or(&[]))?;
                src.consume(n);
                self.left -= n as u64;
                return Ok(true);
            }
            let Some(frame) = self.stack.last().copied() else {
                return Ok(false);
            };
            match src.next(frame, what)? {
                None => {
                    self.stack.pop();
                }
                Some(h) if h.tag == 0x04 => {
                    self.left = h
                        .len
                        .ok_or_else(|| malformed(format!("{what} segment without a length")))?;
                }
                Some(h) if h.tag == 0x24 && self.stack.len() <= MAX_DEPTH => {
                    let inner = src.enter(&h, what)?;
                    self.stack.push(inner);
                }
                Some(h) if h.tag == 0x24 => {
                    return Err(malformed(format!("{what} is nested too deeply")))
                }
                Some(_) => return Err(malformed(format!("unexpected element inside the {what}"))),
            }
        }
    }
}
