//! The values that go into and come out of the store.

use std::fmt;
use std::time::Duration;

use crate::error::StoreError;
use crate::payload::{Payload, StoredPayload};

/// A document as a listener received it, to be made durable before the partner gets an answer.
#[derive(Debug, Clone, Default)]
pub struct NewDocument {
    /// Unique id chosen by the host; the store refuses a second document with the same id.
    pub id: String,
    /// The deployed process that will run the document.
    pub process: String,
    /// In memory or a file to adopt (see [`Payload`]).
    pub payload: Payload,
    /// Tracked and dynamic properties, in the order given; names may repeat.
    pub properties: Vec<(String, String)>,
    /// The raw request as evidence (headers and body as received), if the connector keeps it.
    /// A request the host spooled as it arrived is given as [`Payload::File`]: the store links
    /// the file instead of reading and copying it.
    pub raw: Option<Payload>,
    /// Identity of the message for duplicate detection (AS2: partner pair + Message-ID).
    pub duplicate_key: Option<String>,
    /// How many of the process's most recent documents are searched for `duplicate_key`;
    /// 0 turns the check off (the key is still stored for later documents to find).
    pub duplicate_window: u32,
    /// A key the process accepts once, ever (AS2: partner pair and file name, for an operation
    /// that refuses a file name already received): a document whose key an earlier one holds
    /// is not stored and gets [`Received::KeyTaken`]. A resend (see `duplicate_key`) is
    /// answered as a resend, never checked against it. Held in its own unique index, so two
    /// nodes receiving the same key at once cannot both store it.
    pub unique_key: Option<String>,
}

/// What became of a `receive`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// Stored durably in state `received`; the process must now run it.
    New,
    /// A resend of a document already stored. The resend itself is recorded in state
    /// `duplicate` (properties and a history entry naming the original, but no payload or raw
    /// request, so that resends of large messages cost no disk) and is never run.
    Duplicate {
        original_id: String,
        /// The answer recorded for the original, for the connector to replay (None while the
        /// original has no answer yet).
        answer: Option<Vec<u8>>,
    },
    /// The document's `unique_key` is held by an earlier document: nothing was stored.
    KeyTaken {
        /// The document that holds the key.
        holder_id: String,
    },
}

/// How the process ended for a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finish {
    Processed,
    Failed { error: String },
}

/// The answer given to the partner (an HTTP status or an MDN), kept as evidence and for replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// Short text for listings: `"200"`, `"processed"`, `"processed/error: decryption-failed"`.
    pub summary: String,
    /// The bytes sent, e.g. the whole MDN.
    pub bytes: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Stored; its process has not finished (run it at start-up).
    Received,
    Processed,
    Failed,
    /// A resend of an earlier document; kept as a record, never run.
    Duplicate,
}

impl State {
    /// The spelling stored in the database and shown to operators.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Received => "received",
            State::Processed => "processed",
            State::Failed => "failed",
            State::Duplicate => "duplicate",
        }
    }

    pub fn parse(s: &str) -> Result<State, StoreError> {
        match s {
            "received" => Ok(State::Received),
            "processed" => Ok(State::Processed),
            "failed" => Ok(State::Failed),
            "duplicate" => Ok(State::Duplicate),
            other => Err(StoreError::Corrupt(format!(
                "unknown document state {other:?}"
            ))),
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One document with everything the store knows about it.
#[derive(Debug, Clone)]
pub struct StoredDocument {
    pub id: String,
    pub process: String,
    pub state: State,
    /// Unix time in milliseconds.
    pub received_at: i64,
    /// In memory when small; otherwise a handle that reads it (empty for a duplicate).
    pub payload: StoredPayload,
    pub properties: Vec<(String, String)>,
    pub error: Option<String>,
    pub answer: Option<Answer>,
    /// (unix millis, event), oldest first: "received", "processed", "failed: ...", ...
    pub history: Vec<(i64, String)>,
}

/// A line of a listing: no payload, no history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// The document's place in listings: the store's arrival number, higher for later
    /// documents. Give it back as [`Query::older_than`] for the documents after this one.
    pub seq: i64,
    pub id: String,
    pub process: String,
    pub state: State,
    pub received_at: i64,
    /// All properties of the document, in the order they were given.
    pub properties: Vec<(String, String)>,
    pub error: Option<String>,
    /// The summary of the answer sent (`200`, `processed`, ...), once recorded.
    pub answer: Option<String>,
}

/// A filter for [`crate::Store::query`]; every field that is set must match.
#[derive(Debug, Clone, Default)]
pub struct Query {
    pub process: Option<String>,
    pub state: Option<State>,
    /// Received at or after this unix millisecond.
    pub from: Option<i64>,
    /// Received before this unix millisecond (exclusive, so that days tile without overlap).
    pub to: Option<i64>,
    /// Each (name, value) must be a property of the document, compared exactly.
    pub properties: Vec<(String, String)>,
    /// Only documents listed after the one at this place ([`Summary::seq`]), i.e. older ones.
    /// A keyset bound: unlike `offset`, documents that arrive meanwhile or leave the filter
    /// never shift it, so paging with it visits each document that stays listed once.
    pub older_than: Option<i64>,
    /// 0 means no limit.
    pub limit: usize,
    pub offset: usize,
}

/// Tuning knobs; the defaults suit the host. The SQLite backend reads all of them; another
/// backend reads those that apply to it.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Payloads and raw requests up to this size are stored in the database; larger ones go to
    /// files under `payloads/`, so that a 200 MB message never passes through SQLite's pages.
    pub inline_limit: usize,
    /// At most this many writes share one transaction (and so one fsync). 1 turns group commit
    /// off, which only the benchmark wants.
    pub max_batch: usize,
    /// How long a writer waits for a lock held by another connection before giving up.
    pub busy_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            inline_limit: 256 * 1024,
            max_batch: 512,
            busy_timeout: Duration::from_secs(30),
        }
    }
}
