//! Content-Transfer-Encodings removed as the bytes stream, with the results of
//! `mime::decode_transfer_encoding` over the whole body.

use std::io::{self, BufRead, BufReader, Read};

use crate::mime::{decode_quoted_printable, MimeError, LENIENT_BASE64};
use crate::receive::stream::SkipWhitespace;

/// Read buffer of the decoders.
const BUFFER: usize = 64 * 1024;
/// Longest run of blanks at the end of a quoted-printable line held back (they are dropped
/// if the line ends there).
const MAX_QP_PENDING: usize = 1 << 20;

/// `input` with `encoding` (lower-cased or not) removed.
pub(crate) fn decoder<'a>(
    encoding: Option<&str>,
    input: Box<dyn Read + 'a>,
) -> Result<Box<dyn Read + 'a>, MimeError> {
    match encoding.map(|e| e.trim().to_ascii_lowercase()).as_deref() {
        None | Some("") | Some("7bit") | Some("8bit") | Some("binary") => Ok(input),
        Some("base64") => Ok(base64(input)),
        Some("quoted-printable") => Ok(Box::new(QuotedPrintable::new(input))),
        Some(other) => Err(MimeError::UnsupportedEncoding(other.to_string())),
    }
}

/// Base64 text with its line breaks and blanks skipped, as `mime::decode_base64` reads it.
pub(crate) fn base64<'a>(input: Box<dyn Read + 'a>) -> Box<dyn Read + 'a> {
    let text = SkipWhitespace(BufReader::with_capacity(BUFFER, input));
    Box::new(base64::read::DecoderReader::new(text, &LENIENT_BASE64))
}

/// Quoted-printable decoded line by line; a long line is decoded in pieces that end where
/// nothing at the line's end (blanks, a soft break, a CR, an escape) can change them.
struct QuotedPrintable<'a> {
    input: BufReader<Box<dyn Read + 'a>>,
    /// The current line, not yet decoded.
    line: Vec<u8>,
    out: Vec<u8>,
    pos: usize,
    eof: bool,
}

impl<'a> QuotedPrintable<'a> {
    fn new(input: Box<dyn Read + 'a>) -> Self {
        QuotedPrintable {
            input: BufReader::with_capacity(BUFFER, input),
            line: Vec::new(),
            out: Vec::new(),
            pos: 0,
            eof: false,
        }
    }

    /// Decodes more input into `out`.
    fn fill(&mut self) -> io::Result<()> {
        let avail = self.input.fill_buf()?;
        if avail.is_empty() {
            self.eof = true;
            let rest = std::mem::take(&mut self.line);
            self.out = decode_quoted_printable(&rest);
            return Ok(());
        }
        let (take, complete) = match avail.iter().position(|&b| b == b'\n') {
            Some(nl) => (nl + 1, true),
            None => (avail.len(), false),
        };
        self.line.extend_from_slice(&avail[..take]);
        self.input.consume(take);
        if complete {
            let line = std::mem::take(&mut self.line);
            self.out = decode_quoted_printable(&line);
            return Ok(());
        }
        let safe = safe_prefix(&self.line);
        if safe > 0 {
            self.out = decode_quoted_printable(&self.line[..safe]);
            self.line.drain(..safe);
        } else if self.line.len() > MAX_QP_PENDING {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "quoted-printable line ends in more than 1 MiB of blanks",
            ));
        }
        Ok(())
    }
}

/// How much of an unfinished line decodes the same whatever follows: up to the run of
/// blanks, CRs and `=` at its end, and never inside an `=XY` escape.
fn safe_prefix(line: &[u8]) -> usize {
    let mut p = line.len();
    loop {
        while p > 0 && matches!(line[p - 1], b' ' | b'\t' | b'\r' | b'=') {
            p -= 1;
        }
        if p >= 2 && line[p - 2] == b'=' {
            p -= 2;
            continue;
        }
        return p;
    }
}

impl Read for QuotedPrintable<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos >= self.out.len() {
            self.out.clear();
            self.pos = 0;
            if self.eof || buf.is_empty() {
                return Ok(0);
            }
            self.fill()?;
        }
        let n = buf.len().min(self.out.len() - self.pos);
        buf[..n].copy_from_slice(&self.out[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}
