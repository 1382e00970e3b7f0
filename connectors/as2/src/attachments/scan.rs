//! The body parts of a multipart entity read as a stream: each part's bytes up to the next
//! delimiter line, in bounded memory, a delimiter split across reads included. The rules are
//! `mime::split_multipart`'s: a delimiter is a line `--boundary`, `--boundary--` closing,
//! followed by transport padding only (blanks); the line break before it belongs to it.

use std::io::{self, Read};

use crate::mime::MimeError;

/// Read buffer; a delimiter line with its padding must fit in it.
const BUFFER: usize = 64 * 1024;
/// Longest transport padding looked at after a boundary before the line is taken as content.
const MAX_PADDING: usize = 1024;

/// Why a multipart body could not be split.
#[derive(Debug)]
pub enum SplitError {
    /// The message's fault: its structure or a part's transfer encoding is broken.
    Malformed(MimeError),
    /// This side's: the body could not be read back, or a part could not be written.
    Local(io::Error),
}

impl std::fmt::Display for SplitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SplitError::Malformed(e) => write!(f, "malformed multipart payload: {e}"),
            SplitError::Local(e) => write!(f, "{e}"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum At {
    /// Reading a part's content (or the preamble before the first delimiter).
    Content,
    /// Just after a delimiter line: the next part's headers follow.
    NextPart,
    /// After the closing delimiter.
    Closed,
    /// The input ended before the closing delimiter.
    Unterminated,
}

/// Splits `input` at the delimiters of `boundary`.
pub struct Scanner<R> {
    input: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
    /// `\n--boundary`.
    delim: Vec<u8>,
    at: At,
    /// Bytes from `start` known to be content (no delimiter starts among them).
    clear: usize,
    /// Delimiters seen (the first opens part 1).
    delimiters: usize,
}

impl<R: Read> Scanner<R> {
    pub fn new(input: R, boundary: &str) -> Result<Self, MimeError> {
        if boundary.is_empty()
            || boundary.len() > 70
            || boundary
                .bytes()
                .any(|b| b.is_ascii_control() || !b.is_ascii())
        {
            return Err(MimeError::InvalidBoundary(boundary.to_string()));
        }
        let mut buf = vec![0u8; BUFFER];
        // A delimiter on the very first line has no line break before it: one is made up.
        buf[..2].copy_from_slice(b"\r\n");
        Ok(Scanner {
            input,
            buf,
            start: 0,
            end: 2,
            eof: false,
            delim: format!("\n--{boundary}").into_bytes(),
            at: At::Content,
            clear: 0,
            delimiters: 0,
        })
    }

    /// Moves to the next part, skipping what is left of the current one (or the preamble):
    /// `Ok(false)` after the closing delimiter. A read error of the input is `Local`.
    pub fn next_part(&mut self) -> Result<bool, SplitError> {
        if self.at == At::Content {
            io::copy(self, &mut io::sink()).map_err(SplitError::Local)?;
        }
        match self.at {
            At::NextPart => {
                self.at = At::Content;
                Ok(true)
            }
            At::Closed => Ok(false),
            At::Unterminated if self.delimiters == 0 => {
                Err(SplitError::Malformed(MimeError::NoParts(self.boundary())))
            }
            At::Unterminated => Err(SplitError::Malformed(MimeError::Unterminated)),
            At::Content => unreachable!("the content was read to its end"),
        }
    }

    fn boundary(&self) -> String {
        String::from_utf8_lossy(&self.delim[3..]).into_owned()
    }

    /// Reads more input after what is kept; `false` at the end of the input.
    fn fill(&mut self) -> io::Result<bool> {
        if self.eof {
            return Ok(false);
        }
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            self.buf.resize(self.buf.len() * 2, 0);
        }
        loop {
            match self.input.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(false);
                }
                Ok(n) => {
                    self.end += n;
                    return Ok(true);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// What the delimiter candidate at `at` (the index of its `\n` in the window) is: `None`
    /// when it is content, `Some(close, line_len)` for a delimiter line of that many bytes
    /// (its line break included), or `Err(())` when more input is needed to tell.
    fn delimiter_at(&self, at: usize) -> Result<Option<(bool, usize)>, ()> {
        let window = &self.buf[self.start..self.end];
        let mut p = at + self.delim.len();
        if window.len() < p {
            // Cut off by the window: a delimiter only if more input completes it.
            return if self.eof { Ok(None) } else { Err(()) };
        }
        let close = window.get(p..p + 2) == Some(b"--");
        if window.len() < p + 2 && !self.eof {
            return Err(());
        }
        if close {
            p += 2;
        }
        let padding_start = p;
        loop {
            match window.get(p) {
                None if self.eof => return Ok(Some((close, p - at))),
                None if p - padding_start > MAX_PADDING => return Ok(None),
                None => return Err(()),
                Some(b'\n') => return Ok(Some((close, p + 1 - at))),
                Some(b' ' | b'\t' | b'\r') => p += 1,
                Some(_) => return Ok(None),
            }
        }
    }

    /// Finds the first delimiter candidate in the window from `from`.
    fn find(&self, from: usize) -> Option<usize> {
        let window = &self.buf[self.start..self.end];
        let mut at = from;
        while let Some(nl) = window[at..].iter().position(|&b| b == b'\n') {
            let candidate = at + nl;
            let rest = &window[candidate..];
            let n = rest.len().min(self.delim.len());
            if rest[..n] == self.delim[..n] {
                // Whole, or cut off at the end of the window (then more input decides).
                return Some(candidate);
            }
            at = candidate + 1;
        }
        None
    }
}

impl<R: Read> Read for Scanner<R> {
    /// The current part's content, up to (not including) the line break before its delimiter.
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.at != At::Content || out.is_empty() {
            return Ok(0);
        }
        loop {
            if self.clear > 0 {
                let n = self.clear.min(out.len());
                out[..n].copy_from_slice(&self.buf[self.start..self.start + n]);
                self.start += n;
                self.clear -= n;
                return Ok(n);
            }
            let len = self.end - self.start;
            let mut from = 0;
            let verdict = loop {
                match self.find(from) {
                    None => break None,
                    Some(at) => match self.delimiter_at(at) {
                        Ok(None) => from = at + 1,
                        Ok(Some(found)) => break Some(Ok((at, found))),
                        Err(()) => break Some(Err(at)),
                    },
                }
            };
            match verdict {
                Some(Ok((at, (close, line)))) => {
                    let window = &self.buf[self.start..self.end];
                    let content = if at > 0 && window[at - 1] == b'\r' {
                        at - 1
                    } else {
                        at
                    };
                    if content > 0 {
                        self.clear = content;
                        continue;
                    }
                    // The content is out; the delimiter line (and the CR before it) goes.
                    self.start += at + line;
                    self.delimiters += 1;
                    self.at = if close { At::Closed } else { At::NextPart };
                    return Ok(0);
                }
                Some(Err(at)) => {
                    // A candidate that more input will decide: what is before it is content
                    // (but a CR just before it may belong to it).
                    let window = &self.buf[self.start..self.end];
                    let safe = if at > 0 && window[at - 1] == b'\r' {
                        at - 1
                    } else {
                        at
                    };
                    if safe > 0 {
                        self.clear = safe;
                        continue;
                    }
                }
                None => {
                    // No candidate: all but a tail that may start one is content.
                    let keep = self.delim.len() + 1;
                    let safe = if self.eof {
                        len
                    } else {
                        len.saturating_sub(keep)
                    };
                    if safe > 0 {
                        self.clear = safe;
                        continue;
                    }
                    if self.eof {
                        self.at = At::Unterminated;
                        return Ok(0);
                    }
                }
            }
            if !self.fill()? && self.end == self.start {
                self.at = At::Unterminated;
                return Ok(0);
            }
        }
    }
}
