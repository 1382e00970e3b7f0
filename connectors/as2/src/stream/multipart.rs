//! A multipart body split as it streams, with the results of `mime::split_multipart`: the
//! first part is read through [`Multipart`] (and hashed as it passes), the second is kept (a
//! signature: a few KB), further ones are counted. A delimiter split across reads is found
//! because each line start is held until it can no longer be one.

use std::io::{self, Read};

use crate::micalg::MicAlg;
use crate::mime::MimeError;

use super::hash::{Canonical, Digests};

/// Longest line start held while it may still be a delimiter (a boundary is at most 70
/// characters; transport padding after it is not bounded by the RFC, but is by us).
const MAX_CANDIDATE: usize = 1 << 16;
/// Largest part kept after the first (the signature).
const MAX_KEPT_PART: usize = 4 << 20;

enum Mode {
    Preamble,
    Part(usize),
    /// After the closing delimiter.
    Closed,
}

enum Line {
    /// At a line start: the bytes so far, which may still be a delimiter.
    Start(Vec<u8>),
    /// Inside a line that is not a delimiter.
    Content,
}

/// What the structure was once read to its end.
pub(crate) struct Parts {
    pub count: usize,
    pub second: Vec<u8>,
    /// Digests of the first part as received, and of its canonical form when asked for.
    pub raw: Vec<(MicAlg, Vec<u8>)>,
    pub canonical: Vec<(MicAlg, Vec<u8>)>,
}

/// The first part of a multipart body, as a reader.
pub(crate) struct Multipart<'a> {
    input: &'a mut dyn Read,
    /// Input read and not yet processed: `buf[start..end]`.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    delim: Vec<u8>,
    mode: Mode,
    line: Line,
    /// The line end of the last content line, held back: before a delimiter it belongs to
    /// the delimiter.
    held: Vec<u8>,
    out: Vec<u8>,
    pos: usize,
    second: Vec<u8>,
    raw: Digests,
    canonical: Option<Canonical>,
    error: Option<MimeError>,
    /// Parts seen when the closing delimiter came.
    count: usize,
    /// The structure ended (closing delimiter, end of input or an error).
    ended: bool,
}

impl<'a> Multipart<'a> {
    /// Checks the boundary as `split_multipart` does.
    pub(crate) fn new(
        input: &'a mut dyn Read,
        boundary: &str,
        raw_algs: &[MicAlg],
        canonical_algs: &[MicAlg],
    ) -> Result<Self, MimeError> {
        if boundary.is_empty()
            || boundary.len() > 70
            || boundary
                .bytes()
                .any(|b| b.is_ascii_control() || !b.is_ascii())
        {
            return Err(MimeError::InvalidBoundary(boundary.to_string()));
        }
        Ok(Multipart {
            input,
            buf: vec![0; 64 * 1024],
            start: 0,
            end: 0,
            delim: format!("--{boundary}").into_bytes(),
            mode: Mode::Preamble,
            line: Line::Start(Vec::new()),
            held: Vec::new(),
            out: Vec::new(),
            pos: 0,
            second: Vec::new(),
            raw: Digests::new(raw_algs),
            canonical: (!canonical_algs.is_empty()).then(|| Canonical::new(canonical_algs)),
            error: None,
            count: 0,
            ended: false,
        })
    }

    /// After the reader returned its end: the parts, or why the structure is malformed.
    pub(crate) fn finish(self) -> Result<Parts, MimeError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let count = match self.mode {
            Mode::Closed => self.count,
            _ => return Err(MimeError::Unterminated),
        };
        Ok(Parts {
            count,
            second: self.second,
            raw: self.raw.finish(),
            canonical: self.canonical.map(Canonical::finish).unwrap_or_default(),
        })
    }
}

enum Delimiter {
    Part,
    Close,
}

const fn is_padding(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r')
}

impl Multipart<'_> {
    /// Whether a line starting with `cand` may still be a delimiter.
    fn may_be_delimiter(&self, cand: &[u8]) -> bool {
        let n = cand.len().min(self.delim.len());
        if cand[..n] != self.delim[..n] {
            return false;
        }
        let rest = &cand[n..];
        match rest.strip_prefix(b"--") {
            Some(padding) => padding.iter().all(|&b| is_padding(b)),
            None => rest == b"-" || rest.iter().all(|&b| is_padding(b)),
        }
    }

    /// What a whole line (without its LF) is, as `mime::delimiter_kind` decides.
    fn delimiter(&self, line: &[u8]) -> Option<Delimiter> {
        let rest = line.strip_prefix(self.delim.as_slice())?;
        let (kind, rest) = match rest.strip_prefix(b"--") {
            Some(r) => (Delimiter::Close, r),
            None => (Delimiter::Part, rest),
        };
        rest.iter().all(|&b| is_padding(b)).then_some(kind)
    }

    /// Content of the current part.
    fn emit(&mut self, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        match self.mode {
            Mode::Part(0) => {
                self.raw.update(data);
                if let Some(c) = &mut self.canonical {
                    c.update(data);
                }
                self.out.extend_from_slice(data);
            }
            Mode::Part(1) => {
                if self.second.len() + data.len() > MAX_KEPT_PART {
                    self.error
                        .get_or_insert(MimeError::PartTooLarge(MAX_KEPT_PART));
                } else {
                    self.second.extend_from_slice(data);
                }
            }
            _ => {}
        }
    }

    /// Content bytes inside a line (no LF): what was held goes first, a CR at the end is
    /// held (a CRLF may follow).
    fn content(&mut self, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        let held = std::mem::take(&mut self.held);
        self.emit(&held);
        match data.split_last() {
            Some((b'\r', body)) => {
                self.emit(body);
                self.held = b"\r".to_vec();
            }
            _ => self.emit(data),
        }
    }

    /// The LF ending a content line.
    fn line_end(&mut self) {
        if self.held == b"\r" {
            self.held = b"\r\n".to_vec();
        } else {
            let held = std::mem::take(&mut self.held);
            self.emit(&held);
            self.held = b"\n".to_vec();
        }
        self.line = Line::Start(Vec::new());
    }

    fn delimiter_found(&mut self, kind: Delimiter) {
        // The line break before a delimiter belongs to it.
        self.held.clear();
        self.mode = match (&self.mode, kind) {
            (Mode::Preamble, Delimiter::Close) => {
                self.error
                    .get_or_insert(MimeError::NoParts(self.boundary()));
                Mode::Closed
            }
            (Mode::Preamble, Delimiter::Part) => Mode::Part(0),
            (Mode::Part(i), Delimiter::Part) => Mode::Part(i + 1),
            (Mode::Part(i), Delimiter::Close) => {
                self.count = i + 1;
                Mode::Closed
            }
            (Mode::Closed, _) => Mode::Closed,
        };
        self.line = Line::Start(Vec::new());
    }

    fn boundary(&self) -> String {
        String::from_utf8_lossy(&self.delim[2..]).into_owned()
    }

    /// Processes one buffer of input; `false` once the structure ended.
    fn pump(&mut self) -> io::Result<bool> {
        if matches!(self.mode, Mode::Closed) || self.error.is_some() {
            return Ok(false);
        }
        if self.start == self.end {
            self.start = 0;
            self.end = loop {
                match self.input.read(&mut self.buf) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            };
        }
        // Taken while it is processed (the processing borrows `self`), given back after.
        let whole = std::mem::take(&mut self.buf);
        let buf = &whole[self.start..self.end];
        if buf.is_empty() {
            self.buf = whole;
            if let Line::Start(cand) = std::mem::replace(&mut self.line, Line::Content) {
                match self.delimiter(&cand) {
                    Some(kind) => self.delimiter_found(kind),
                    None => self.content(&cand),
                }
            }
            if !matches!(self.mode, Mode::Closed) {
                let e = match self.mode {
                    Mode::Preamble => MimeError::NoParts(self.boundary()),
                    _ => MimeError::Unterminated,
                };
                self.error.get_or_insert(e);
            }
            return Ok(false);
        }
        let mut i = 0;
        while i < buf.len() && !matches!(self.mode, Mode::Closed) {
            match &mut self.line {
                Line::Content => {
                    let rest = &buf[i..];
                    match rest.iter().position(|&b| b == b'\n') {
                        Some(nl) => {
                            self.content(&rest[..nl]);
                            self.line_end();
                            i += nl + 1;
                        }
                        None => {
                            self.content(rest);
                            i = buf.len();
                        }
                    }
                }
                Line::Start(cand) => {
                    let b = buf[i];
                    i += 1;
                    if b == b'\n' {
                        let cand = std::mem::take(cand);
                        match self.delimiter(&cand) {
                            Some(kind) => self.delimiter_found(kind),
                            None => {
                                self.line = Line::Content;
                                self.content(&cand);
                                self.line_end();
                            }
                        }
                        continue;
                    }
                    cand.push(b);
                    let cand = std::mem::take(cand);
                    if self.may_be_delimiter(&cand) && cand.len() <= MAX_CANDIDATE {
                        self.line = Line::Start(cand);
                    } else {
                        self.line = Line::Content;
                        self.content(&cand);
                    }
                }
            }
        }
        self.start += i;
        self.buf = whole;
        Ok(true)
    }
}

impl Read for Multipart<'_> {
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
            if buf.is_empty() || self.ended {
                return Ok(0);
            }
            // The last pump may still have produced content.
            self.ended = !self.pump()?;
        }
    }
}
