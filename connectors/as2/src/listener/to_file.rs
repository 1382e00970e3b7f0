//! A spooled (large) AS2 body unwrapped as one stream into the payload file the host offers
//! (`Request::payload_file`): the payload never sits whole in memory and is written once, into
//! the file the host then takes over as the stored payload.
//!
//! Durability is the host's: when it takes the file over, the store fsyncs it (SQLite links it
//! in after `sync_all`, PostgreSQL copies it into chunks committed with the document), and the
//! answer, a `processed` MDN included, goes out only after that commit. So this side only
//! flushes its buffer.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};

use berth_connector_sdk::prelude::*;

use super::partner::Partner;
use super::request::Refusal;
use super::As2Listener;
use crate::headers::As2Headers;
use crate::stream::{receive_to, ReceivedMeta};

/// Writes of the payload are gathered into this much before they reach the file.
const WRITE_BUFFER: usize = 1 << 18;

/// Unwraps the request's spooled body into `file`. On a refusal the file is emptied, since
/// the streamed payload reached it before the last check (a GCM tag, the signature) failed.
pub fn receive(
    listener: &As2Listener,
    request: &Request<'_>,
    headers: As2Headers,
    partner: &Partner,
    path: &str,
) -> Result<ReceivedMeta, Refusal> {
    let opened = OpenOptions::new().write(true).truncate(true).open(path);
    let file = opened.map_err(|e| Refusal::NotStored(format!("cannot open {path}: {e}")))?;
    let mut sink = Recorded {
        inner: BufWriter::with_capacity(WRITE_BUFFER, file),
        failed: None,
    };
    let open = || request.body_reader();
    let settings = &partner.settings_at(super::rollover::unix_now());
    let received = receive_to(
        headers,
        &open,
        request.body_len,
        settings,
        &partner.limits,
        &mut sink,
    );
    let outcome = match (received, sink.failed.take()) {
        // The sink failed (the disk is full, say): this side cannot keep the message now,
        // which is no fault of the message and no reason for a final error MDN.
        (_, Some(e)) => Err(Refusal::NotStored(format!(
            "writing the payload to {path}: {e}"
        ))),
        (Err(rejection), None) => Err(Refusal::Rejected(rejection)),
        (Ok(received), None) => match sink.inner.flush() {
            Ok(()) => return Ok(received),
            Err(e) => Err(Refusal::NotStored(format!(
                "writing the payload to {path}: {e}"
            ))),
        },
    };
    if let Err(e) = discard(sink.inner) {
        // The host removes the file with the request anyway; only the room comes back later.
        let message = format!("cannot empty the refused payload in {path}: {e}");
        listener.log.warn(&partner.process, &message);
    }
    outcome
}

/// Empties the file at once: a refused gigabyte should not hold the disk until the request ends.
fn discard(writer: BufWriter<File>) -> io::Result<()> {
    // The buffer's bytes are thrown away with it: `into_parts` does not write them.
    let (file, _) = writer.into_parts();
    file.set_len(0)
}

/// A writer that keeps its first error, so that a failure of this side's disk is told apart
/// from a failure of the message (the unwrapping reports both as its own error).
struct Recorded<W> {
    inner: W,
    failed: Option<io::Error>,
}

impl<W: Write> Write for Recorded<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf).inspect_err(|e| self.note(e))
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.inner.write_all(buf).inspect_err(|e| self.note(e))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush().inspect_err(|e| self.note(e))
    }
}

impl<W> Recorded<W> {
    fn note(&mut self, e: &io::Error) {
        if self.failed.is_none() {
            self.failed = Some(io::Error::new(e.kind(), e.to_string()));
        }
    }
}
