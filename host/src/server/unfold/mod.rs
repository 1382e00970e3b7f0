//! Obsolete line folding in request heads, unfolded before hyper parses them.
//!
//! Older AS2 products (Java stacks especially) fold long header lines: a line end followed by
//! a space or tab continues the field on the next line (RFC 9112 `obs-fold`). httparse refuses
//! such heads, so hyper answers a bare 400. RFC 9112 section 5.2 lets a server instead replace
//! each fold with spaces before interpreting the field, which is what this reader does, on
//! every HTTP/1.1 connection berth serves: the line end and the whitespace after it become one
//! space (`Subject: a` CRLF SP `b` reads `a b`, as the sender meant it), in place in the buffer
//! hyper reads into, inside request heads only. Bodies pass untouched
//! (a signed MIME body is full of folded MIME headers that must stay as they are), which is
//! why the scanner (`scan`) follows each request's framing to the end of its body.
//!
//! The cost on the common path is one `memchr` per head line and a little arithmetic per body;
//! no byte is copied, except the bytes after a fold (moved down over it) and a field line's end
//! held back when a read stops right after it.

mod scan;
#[cfg(test)]
mod tests;

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, ReadBuf};

use scan::Scanner;

/// What the reader saw on a connection, for the log line when it ends.
#[derive(Clone, Default)]
pub struct Report(Arc<Mutex<Seen>>);

#[derive(Clone, Copy, Default)]
pub struct Seen {
    /// Folds replaced by spaces.
    pub folds: usize,
    /// Something in a head that hyper refuses, in words (the connection ends with a 400).
    pub refused: Option<&'static str>,
}

impl Report {
    pub fn seen(&self) -> Seen {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A connection's read side with the folds in its request heads replaced by spaces.
pub struct Unfold<S> {
    inner: S,
    scanner: Scanner,
    /// A field line's end, held back until the byte after it shows whether it is a fold.
    held: [u8; 2],
    held_len: usize,
    report: Report,
}

impl<S> Unfold<S> {
    /// `enabled: false` passes every byte through untouched (a listener that refuses folds).
    pub fn new(inner: S, report: Report, enabled: bool) -> Self {
        Self {
            inner,
            scanner: if enabled {
                Scanner::default()
            } else {
                Scanner::passing_through()
            },
            held: [0; 2],
            held_len: 0,
            report,
        }
    }

    fn update_report(&self, folds_before: usize) {
        let stopped = self.scanner.stopped();
        if self.scanner.folds() != folds_before || stopped.is_some() {
            let mut seen = self.report.0.lock().unwrap_or_else(|p| p.into_inner());
            seen.folds = self.scanner.folds();
            seen.refused = stopped;
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Unfold<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.held_len == 0 && this.scanner.passthrough() {
            return Pin::new(&mut this.inner).poll_read(cx, buf);
        }
        loop {
            let start = buf.filled().len();
            let held = this.held_len;
            if held > 0 && buf.remaining() <= held {
                // No room for the byte that would decide: hand the line end over as it is. A
                // fold after it then reaches hyper unrewritten and is refused, which only
                // happens to a head at the very edge of the size limit.
                let n = buf.remaining().min(held);
                buf.put_slice(&this.held[..n]);
                this.held.copy_within(n..held, 0);
                this.held_len -= n;
                return Poll::Ready(Ok(()));
            }
            buf.put_slice(&this.held[..held]);
            match Pin::new(&mut this.inner).poll_read(cx, buf) {
                Poll::Ready(Ok(())) => {}
                other => {
                    // Nothing is handed over with a pending read or an error: the held bytes
                    // stay held.
                    buf.set_filled(start);
                    return other;
                }
            }
            let end = buf.filled().len();
            this.held_len = 0;
            if end == start + held {
                // End of the stream: what was held goes as it is.
                return Poll::Ready(Ok(()));
            }
            let folds = this.scanner.folds();
            let scanned = this.scanner.scan(&mut buf.filled_mut()[start..end], held);
            this.update_report(folds);
            let (end, hold) = (start + scanned.len, scanned.hold);
            this.held[..hold].copy_from_slice(&buf.filled()[end - hold..end]);
            this.held_len = hold;
            buf.set_filled(end - hold);
            if end - hold == start {
                // Everything new was held back or was a fold's whitespace; an empty read
                // would mean the end of the stream to hyper, so read on.
                continue;
            }
            return Poll::Ready(Ok(()));
        }
    }
}

crate::server::write_through::write_through!(Unfold);
