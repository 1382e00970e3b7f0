//! Following the requests on an HTTP/1.1 connection's byte stream, to know which bytes are a
//! request head (where folds are rewritten) and which are a body (never touched).
//!
//! The scanner mirrors hyper's own reading: httparse's head syntax (empty lines before the
//! request line skipped, LF or CRLF line ends, values trimmed of SP and HTAB) and hyper's
//! framing (`Transfer-Encoding` ending in `chunked` wins over `Content-Length`; several equal
//! `Content-Length` values are one; a request without either has no body; its chunked decoder
//! state by state). Wherever it sees something hyper refuses, it stops rewriting for the rest of
//! the connection: hyper answers 400 and closes, and a scanner that is never wrong about a body
//! is worth more than one that keeps unfolding on a connection already lost.

use memchr::{memchr, memchr2, memchr3};

/// The longest header name the framing needs (`transfer-encoding`).
const NAME_MAX: usize = 17;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Field {
    ContentLength,
    TransferEncoding,
    Other,
}

#[derive(Clone, Copy, Debug)]
enum State {
    /// Before a request line: empty lines are skipped, as httparse does.
    Preamble,
    PreambleCr,
    RequestLine,
    /// At the start of a head line; the field of the line before it (`None`: the request line).
    LineStart(Option<Field>),
    /// The start of a field name split across reads; `len > NAME_MAX` once it is too long to
    /// be one the framing needs.
    Name {
        len: usize,
        name: [u8; NAME_MAX],
    },
    Value(Field),
    ValueCr(Field),
    /// The whitespace after a fold's line end, which becomes spaces too.
    Fold(Field),
    HeadEndCr,
    /// Body bytes still to come.
    Body(u64),
    Chunk(Chunk),
    /// Nothing more is rewritten on this connection.
    Passthrough,
}

/// hyper's chunked decoder states (`proto/h1/decode.rs`).
#[derive(Clone, Copy, Debug)]
enum Chunk {
    Start,
    Size,
    SizeLws,
    Extension,
    SizeLf,
    Data(u64),
    DataCr,
    DataLf,
    Trailer,
    TrailerLf,
    EndCr,
    EndLf,
}

/// A `Content-Length` value as it arrives.
#[derive(Clone, Copy, Debug, Default)]
enum Length {
    #[default]
    Empty,
    Digits(u64),
    Trailing(u64),
    Bad,
}

/// How far the last comma-separated token of a `Transfer-Encoding` value matches `chunked`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Token {
    #[default]
    Leading,
    Matched(usize),
    Trailing,
    Other,
}

/// What one head says about its body.
#[derive(Default)]
struct Framing {
    length: Option<u64>,
    bad_length: bool,
    /// `Some(chunked)` once a `Transfer-Encoding` field was read: the last one decides.
    chunked: Option<bool>,
    /// The field being read.
    value: Length,
    token: Token,
    token_invalid: bool,
}

/// What a scan left in the buffer.
pub struct Scanned {
    /// The bytes to hand over, holds included: fewer than were read when folds were removed.
    pub len: usize,
    /// How many bytes at the end of those must be held back: a field line's end whose next
    /// byte has not arrived, since that byte decides whether it is a fold.
    pub hold: usize,
}

pub struct Scanner {
    state: State,
    framing: Framing,
    chunk_size: u64,
    folds: usize,
    stopped: Option<&'static str>,
}

impl Default for Scanner {
    fn default() -> Self {
        Self {
            state: State::Preamble,
            framing: Framing::default(),
            chunk_size: 0,
            folds: 0,
            stopped: None,
        }
    }
}

impl Scanner {
    /// True once nothing more will be rewritten on this connection.
    /// A scanner that rewrites nothing: every read passes straight through.
    pub fn passing_through() -> Self {
        Self {
            state: State::Passthrough,
            ..Self::default()
        }
    }

    pub fn passthrough(&self) -> bool {
        matches!(self.state, State::Passthrough)
    }

    /// How many folds were replaced so far.
    pub fn folds(&self) -> usize {
        self.folds
    }

    /// Why the scanner stopped, when it saw something hyper refuses.
    pub fn stopped(&self) -> Option<&'static str> {
        self.stopped
    }

    /// Scan `buf[from..]`, bytes just read, replacing each obs-fold inside a request head (the
    /// line end and the whitespace after it) with one space, in place: the bytes after it move
    /// down. `buf[..from]` are bytes held back by the previous call, the line end of a field
    /// line.
    pub fn scan(&mut self, buf: &mut [u8], from: usize) -> Scanned {
        // Where the line end just passed begins, while it is still in `buf` to be rewritten.
        let mut line_end = (from > 0).then_some(0);
        let mut i = from;
        let mut len = buf.len();
        while i < len {
            let b = buf[i];
            match self.state {
                State::Passthrough => break,
                State::Preamble => match b {
                    b'\r' => self.state = State::PreambleCr,
                    b'\n' => {}
                    _ => {
                        self.state = State::RequestLine;
                        continue;
                    }
                },
                State::PreambleCr if b == b'\n' => self.state = State::Preamble,
                State::PreambleCr => self.stop("a CR without LF before the request line"),
                State::RequestLine => match memchr(b'\n', &buf[i..len]) {
                    Some(at) => {
                        i += at;
                        self.state = State::LineStart(None);
                    }
                    None => i = len - 1,
                },
                State::LineStart(field) => {
                    if b == b' ' || b == b'\t' {
                        match (field, line_end) {
                            (Some(field), Some(start)) => {
                                // The line end and the whitespace after it become one
                                // space: `Subject: a\r\n b` reads `a b`, as it was meant.
                                buf[start] = b' ';
                                remove(buf, &mut len, start + 1..i + 1);
                                i = start;
                                self.folds += 1;
                                self.feed(field, b' ');
                                self.state = State::Fold(field);
                            }
                            // Whitespace before the first field (RFC 9112 2.2 forbids folding
                            // it into the request line), or a line end already handed over.
                            (None, _) => self.stop(
                                "a line starting with whitespace right after the request line",
                            ),
                            (Some(_), None) => {
                                self.stop("a fold whose line end was already handed over")
                            }
                        }
                    } else {
                        if let Some(field) = field {
                            self.finish(field);
                        }
                        line_end = None;
                        match b {
                            b'\r' => self.state = State::HeadEndCr,
                            b'\n' => self.head_end(),
                            _ => {
                                self.state = State::Name {
                                    len: 0,
                                    name: [0; NAME_MAX],
                                };
                                continue;
                            }
                        }
                    }
                }
                State::Fold(field) => {
                    let run = buf[i..len]
                        .iter()
                        .take_while(|b| **b == b' ' || **b == b'\t')
                        .count();
                    remove(buf, &mut len, i..i + run);
                    if i < len {
                        self.state = State::Value(field);
                    }
                    continue;
                }
                State::Name { len: got, mut name } => {
                    let Some(at) = memchr3(b':', b'\r', b'\n', &buf[i..len]).map(|at| i + at)
                    else {
                        // A name split across reads: keep what may still matter.
                        let part = &buf[i..len];
                        if got < NAME_MAX {
                            let keep = part.len().min(NAME_MAX - got);
                            name[got..got + keep].copy_from_slice(&part[..keep]);
                        }
                        self.state = State::Name {
                            len: (got + part.len()).min(NAME_MAX + 1),
                            name,
                        };
                        i = len;
                        continue;
                    };
                    if buf[at] != b':' {
                        self.stop("a header line without a colon");
                        continue;
                    }
                    let total = got + (at - i);
                    let field = if got == 0 {
                        classify(&buf[i..at])
                    } else if total <= NAME_MAX {
                        name[got..total].copy_from_slice(&buf[i..at]);
                        classify(&name[..total])
                    } else {
                        Field::Other
                    };
                    self.framing.value = Length::Empty;
                    self.framing.token = Token::Leading;
                    self.framing.token_invalid = false;
                    self.state = State::Value(field);
                    i = at;
                }
                State::Value(field) => {
                    let at = if field == Field::Other {
                        // The common case: skip to the line end without looking at each byte.
                        match memchr2(b'\r', b'\n', &buf[i..len]) {
                            Some(at) => i + at,
                            None => {
                                i = len;
                                continue;
                            }
                        }
                    } else {
                        i
                    };
                    match buf[at] {
                        b'\r' => {
                            line_end = Some(at);
                            self.state = State::ValueCr(field);
                        }
                        b'\n' => {
                            line_end = Some(at);
                            self.state = State::LineStart(Some(field));
                        }
                        other => self.feed(field, other),
                    }
                    i = at;
                }
                State::ValueCr(field) if b == b'\n' => self.state = State::LineStart(Some(field)),
                State::ValueCr(_) => self.stop("a CR without LF in a header line"),
                State::HeadEndCr if b == b'\n' => self.head_end(),
                State::HeadEndCr => self.stop("a CR without LF at the end of the head"),
                State::Body(left) => {
                    let take = left.min((len - i) as u64);
                    i += take as usize;
                    self.state = match left - take {
                        0 => State::Preamble,
                        left => State::Body(left),
                    };
                    continue;
                }
                State::Chunk(Chunk::Data(left)) => {
                    let take = left.min((len - i) as u64);
                    i += take as usize;
                    self.state = State::Chunk(match left - take {
                        0 => Chunk::DataCr,
                        left => Chunk::Data(left),
                    });
                    continue;
                }
                State::Chunk(Chunk::Trailer) => match memchr(b'\r', &buf[i..len]) {
                    Some(at) => {
                        i += at;
                        self.state = State::Chunk(Chunk::TrailerLf);
                    }
                    None => i = len - 1,
                },
                State::Chunk(chunk) => self.chunk(chunk, b),
            }
            i += 1;
        }
        let hold = match self.state {
            State::LineStart(Some(_)) | State::ValueCr(_) => {
                line_end.map_or(0, |start| len - start)
            }
            _ => 0,
        };
        Scanned { len, hold }
    }

    fn stop(&mut self, reason: &'static str) {
        self.state = State::Passthrough;
        self.stopped.get_or_insert(reason);
    }

    /// One byte of a `Content-Length` or `Transfer-Encoding` value, as hyper will read it.
    fn feed(&mut self, field: Field, b: u8) {
        let f = &mut self.framing;
        let blank = b == b' ' || b == b'\t';
        match field {
            Field::ContentLength => {
                f.value = match (f.value, b) {
                    (Length::Empty, _) if blank => Length::Empty,
                    (Length::Empty, b'0'..=b'9') => Length::Digits(u64::from(b - b'0')),
                    (Length::Digits(n), b'0'..=b'9') => n
                        .checked_mul(10)
                        .and_then(|n| n.checked_add(u64::from(b - b'0')))
                        .map_or(Length::Bad, Length::Digits),
                    (Length::Digits(n) | Length::Trailing(n), _) if blank => Length::Trailing(n),
                    _ => Length::Bad,
                }
            }
            Field::TransferEncoding => {
                // hyper reads the value as visible ASCII or not at all.
                if b >= 0x7f || (b < 0x20 && b != b'\t') {
                    f.token_invalid = true;
                }
                f.token = match (f.token, b) {
                    (_, b',') => Token::Leading,
                    (Token::Leading, _) if blank => Token::Leading,
                    (Token::Matched(7) | Token::Trailing, _) if blank => Token::Trailing,
                    (Token::Leading, _) => Token::Matched(0).advance(b),
                    (Token::Matched(n), _) => Token::Matched(n).advance(b),
                    _ => Token::Other,
                }
            }
            Field::Other => {}
        }
    }

    /// A field line (with its continuations) is over: what it says about the body.
    fn finish(&mut self, field: Field) {
        let f = &mut self.framing;
        match field {
            Field::ContentLength => match f.value {
                Length::Digits(n) | Length::Trailing(n) if f.length.is_none_or(|l| l == n) => {
                    f.length = Some(n)
                }
                _ => f.bad_length = true,
            },
            Field::TransferEncoding => {
                let chunked = matches!(f.token, Token::Matched(7) | Token::Trailing);
                f.chunked = Some(chunked && !f.token_invalid);
            }
            Field::Other => {}
        }
    }

    fn head_end(&mut self) {
        let framing = std::mem::take(&mut self.framing);
        self.state = match (framing.chunked, framing.length) {
            (Some(true), _) => {
                self.chunk_size = 0;
                State::Chunk(Chunk::Start)
            }
            (Some(false), _) => {
                return self.stop("a Transfer-Encoding that does not end in chunked");
            }
            _ if framing.bad_length => return self.stop("an invalid Content-Length"),
            (None, Some(length)) if length > 0 => State::Body(length),
            (None, _) => State::Preamble,
        };
    }

    /// One byte of chunked framing outside chunk data and trailers.
    fn chunk(&mut self, chunk: Chunk, b: u8) {
        let next = match (chunk, b) {
            (Chunk::Start | Chunk::Size, _) if b.is_ascii_hexdigit() => {
                let digit = u64::from(char::from(b).to_digit(16).unwrap_or(0));
                match self
                    .chunk_size
                    .checked_mul(16)
                    .and_then(|n| n.checked_add(digit))
                {
                    Some(size) => self.chunk_size = size,
                    None => return self.stop("a chunk size too large"),
                }
                Chunk::Size
            }
            (Chunk::Size | Chunk::SizeLws, b' ' | b'\t') => Chunk::SizeLws,
            (Chunk::Size | Chunk::SizeLws, b';') => Chunk::Extension,
            (Chunk::Size | Chunk::SizeLws | Chunk::Extension, b'\r') => Chunk::SizeLf,
            (Chunk::Extension, b'\n') => return self.stop("a chunk extension with a bare LF"),
            (Chunk::Extension, _) => Chunk::Extension,
            (Chunk::SizeLf, b'\n') => match std::mem::take(&mut self.chunk_size) {
                0 => Chunk::EndCr,
                size => Chunk::Data(size),
            },
            (Chunk::DataCr, b'\r') => Chunk::DataLf,
            (Chunk::DataLf, b'\n') => Chunk::Start,
            (Chunk::TrailerLf, b'\n') => Chunk::EndCr,
            (Chunk::EndCr, b'\r') => Chunk::EndLf,
            (Chunk::EndCr, _) => Chunk::Trailer,
            (Chunk::EndLf, b'\n') => {
                self.state = State::Preamble;
                return;
            }
            _ => return self.stop("broken chunked framing"),
        };
        self.state = State::Chunk(next);
    }
}

/// Drop `range` from the first `len` bytes of `buf`, moving the rest down.
fn remove(buf: &mut [u8], len: &mut usize, range: std::ops::Range<usize>) {
    buf.copy_within(range.end..*len, range.start);
    *len -= range.len();
}

fn classify(name: &[u8]) -> Field {
    if name.eq_ignore_ascii_case(b"content-length") {
        Field::ContentLength
    } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
        Field::TransferEncoding
    } else {
        Field::Other
    }
}

impl Token {
    /// The token after `b`, from `Matched(n)`.
    fn advance(self, b: u8) -> Token {
        match self {
            Token::Matched(n) if n < 7 && b.eq_ignore_ascii_case(&b"chunked"[n]) => {
                Token::Matched(n + 1)
            }
            _ => Token::Other,
        }
    }
}
