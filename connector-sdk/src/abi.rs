//! The values that cross the boundary between the host and a plugin.
//!
//! Everything here is `#[repr(C)]` and derives [`StableAbi`], so that the host can check at load
//! time that a plugin was built against the same layout. Values that may gain cases in later SDK
//! versions are integer-tagged newtypes (`OutcomeKind`) or non-exhaustive enums ([`Listen`],
//! the decision in [`crate::module`]): an exhaustive enum can never grow across a stable ABI.
//! "One of these" is an enum ([`Tls`]), and "none" is an [`ROption`], never an empty string.
//!
//! Request data is borrowed (`RStr`, `RSlice`) for the duration of one call: the host owns the
//! bytes it read from the socket and a plugin never needs to copy a body it only inspects.

use abi_stable::std_types::{ROption, RSlice, RStr, RString, RVec};
use abi_stable::StableAbi;

pub use crate::endpoint::*;

/// One HTTP header of a request, as received: the value is raw bytes because peers do send
/// headers that are not valid UTF-8, and a connector must be able to reject them politely.
#[repr(C)]
#[derive(StableAbi, Clone, Copy, Debug)]
pub struct Header<'a> {
    /// The header name, lower-case.
    pub name: RStr<'a>,
    /// The raw value bytes.
    pub value: RSlice<'a, u8>,
}

/// An HTTP request the host has read in full and hands to a connector.
#[repr(C)]
#[derive(StableAbi, Clone, Copy, Debug)]
pub struct Request<'a> {
    /// `GET`, `POST`, ...
    pub method: RStr<'a>,
    /// The path, percent-encoded as received, without the query.
    pub path: RStr<'a>,
    /// The raw query string without `?`, when the URL has one.
    pub query: ROption<RStr<'a>>,
    /// Headers in the order received.
    pub headers: RSlice<'a, Header<'a>>,
    /// The whole body, when the host kept it in memory; empty when it is in `body_file`.
    pub body: RSlice<'a, u8>,
    /// Set when the body was larger than the endpoint's `spool_above_bytes` and the host wrote
    /// it to this file as it arrived: the body is the `body_len` bytes from `body_offset`.
    /// Use [`Request::body_reader`] to read either form. The file is the host's: read it, never
    /// keep its name beyond the call.
    pub body_file: ROption<RStr<'a>>,
    pub body_offset: u64,
    /// The body's length in bytes, in memory or in the file.
    pub body_len: u64,
    /// Set when the body was spooled: an empty file the host created for this request, on the
    /// disk of its store, for a connector that unwraps a large body (decrypts, decompresses)
    /// to write the document's payload into as it goes, instead of into memory; it then
    /// submits [`Document::from_payload_file`], and the host takes the file over as the stored
    /// payload (linked, not copied). The file is the host's: write it during `handle`, never
    /// keep its name beyond the call; unused, it is removed with the request.
    pub payload_file: ROption<RStr<'a>>,
    /// The peer's address, `ip:port`.
    pub remote_addr: RStr<'a>,
    /// The TLS client certificate (DER), when the peer presented one.
    pub client_certificate: ROption<RSlice<'a, u8>>,
    /// `true` when the request arrived over TLS.
    pub secure: bool,
}

impl<'a> Request<'a> {
    /// The first header with this name (case-insensitive), as raw bytes.
    pub fn header(&self, name: &str) -> Option<&'a [u8]> {
        self.headers
            .as_slice()
            .iter()
            .find(|h| h.name.as_str().eq_ignore_ascii_case(name))
            .map(|h| h.value.as_slice())
    }

    /// The first header with this name as text; `None` when absent or not valid UTF-8.
    pub fn header_str(&self, name: &str) -> Option<&'a str> {
        self.header(name).and_then(|v| std::str::from_utf8(v).ok())
    }

    /// The query string without `?`; empty when the URL has none.
    pub fn query_str(&self) -> &'a str {
        self.query.map_or("", |query| query.as_str())
    }

    /// `true` when the body is in a file rather than in `body`.
    pub fn body_is_spooled(&self) -> bool {
        self.body_file.is_some()
    }

    /// The body as a stream, wherever the host keeps it.
    pub fn body_reader(&self) -> std::io::Result<Box<dyn std::io::Read + 'a>> {
        use std::io::{Read, Seek, SeekFrom};
        let ROption::RSome(body_file) = self.body_file else {
            return Ok(Box::new(self.body.as_slice()));
        };
        let mut file = std::fs::File::open(body_file.as_str())?;
        file.seek(SeekFrom::Start(self.body_offset))?;
        Ok(Box::new(std::io::BufReader::with_capacity(
            1 << 16,
            file.take(self.body_len),
        )))
    }

    /// The whole body in memory: borrowed when the host holds it, read from its file otherwise
    /// (for connectors that need it whole; a large spooled body then costs its size in memory).
    pub fn body_bytes(&self) -> std::io::Result<std::borrow::Cow<'a, [u8]>> {
        use std::io::Read;
        if !self.body_is_spooled() {
            return Ok(std::borrow::Cow::Borrowed(self.body.as_slice()));
        }
        let len = usize::try_from(self.body_len)
            .map_err(|_| std::io::Error::other("body too large for this machine"))?;
        let mut bytes = Vec::with_capacity(len);
        self.body_reader()?.read_to_end(&mut bytes)?;
        Ok(std::borrow::Cow::Owned(bytes))
    }
}

/// A header of a response or of an outbound delivery.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq, Eq)]
pub struct OwnedHeader {
    pub name: RString,
    pub value: RString,
}

impl OwnedHeader {
    pub fn new(name: impl Into<RString>, value: impl Into<RString>) -> Self {
        Self {
            name: name.into(),
            value: value.into(),
        }
    }
}

/// An HTTP request the host sends later on the plugin's behalf, durably and with retries: an
/// asynchronous AS2 MDN, for example. The plugin never opens sockets itself.
#[repr(C)]
#[derive(StableAbi, Clone, Debug)]
pub struct Delivery {
    pub url: RString,
    /// `POST` or `PUT`.
    pub method: RString,
    pub headers: RVec<OwnedHeader>,
    pub body: RVec<u8>,
    /// Check the server certificate's host name (HTTPS only).
    pub verify_hostname: bool,
}

/// The answer a connector gives to one request.
#[repr(C)]
#[derive(StableAbi, Clone, Debug)]
pub struct Response {
    pub status: u16,
    pub headers: RVec<OwnedHeader>,
    pub body: RVec<u8>,
    /// Send the document's payload as the body, from where the host stores it, instead of
    /// `body` (which is then empty): what a `Returned` with `body_is_payload` asks for, so that
    /// a payload too large to hold is streamed back rather than loaded. Only meaningful in an
    /// answer to a submitted document; [`Response::from_outcome`] carries it over.
    pub body_is_payload: bool,
    /// The answer to keep beside the document as evidence (an MDN), when it differs from the
    /// response body or when the answer travels asynchronously.
    pub evidence: ROption<RVec<u8>>,
    /// Requests the host must send after it has answered this one.
    pub deliveries: RVec<Delivery>,
    /// What the answer said, in a few words, for the record and the metrics: an MDN's
    /// disposition (`processed`, `processed/error: decryption-failed`). None: the HTTP status
    /// says it all.
    pub summary: ROption<RString>,
    /// Certificates a partner asked us to trust in this request, accepted by the connector, in
    /// an answer given at once ([`crate::Decision::Respond`]; the answer to a submitted
    /// document may not carry them): the host stores them before it gives the answer (and
    /// answers 503 instead when it cannot), then hands them to every listener (see
    /// [`crate::Listener::exchanged_certificates`]).
    pub certificates: RVec<crate::exchange::ExchangedCertificate>,
}

/// A named property of a document: tracked properties set by connectors and dynamic ones set by
/// steps.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq, Eq)]
pub struct Property {
    pub name: RString,
    pub value: RString,
}

/// A document a connector hands to a process.
#[repr(C)]
#[derive(StableAbi, Clone, Debug)]
pub struct Document {
    /// The document's bytes, when `payload_from` is [`PayloadFrom::BYTES`].
    pub payload: RVec<u8>,
    /// Where the payload is.
    pub payload_from: PayloadFrom,
    pub properties: RVec<Property>,
}

/// Where a document's payload is. Integer-tagged so that later SDKs can add places.
#[repr(transparent)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq, Eq)]
pub struct PayloadFrom(pub u8);

impl PayloadFrom {
    /// In [`Document::payload`].
    pub const BYTES: Self = Self(0);
    /// Exactly the request body: the host uses what it already holds (bytes or spool file)
    /// instead of a copy.
    pub const REQUEST_BODY: Self = Self(1);
    /// In the request's [`Request::payload_file`], which the connector wrote.
    pub const PAYLOAD_FILE: Self = Self(2);
}

/// What a connector asks of the host for one request: submit a document to an operation's
/// process, and learn its fate before answering.
#[repr(C)]
#[derive(StableAbi, Clone, Debug)]
pub struct Submission {
    /// The operation (its process's name) the document belongs to.
    pub operation: RString,
    pub document: Document,
    /// A key that identifies a resend of the same message (AS2: partner pair and Message-ID).
    /// The host reports a resend as [`OutcomeKind::DUPLICATE`] with the answer it recorded.
    pub duplicate_key: ROption<RString>,
    /// How many of the operation's latest documents the duplicate check looks back over; `0`
    /// means the host's default (100,000, as the vendor's).
    pub duplicate_window: u32,
    /// A key the operation accepts once, ever (AS2: partner pair and file name, when the
    /// operation refuses a file name already received). The host refuses a document whose key
    /// an earlier one holds with [`OutcomeKind::KEY_TAKEN`], stores nothing and runs nothing; a
    /// resend (see `duplicate_key`) is reported as one, never as this. Needs the message store:
    /// without one the key is not checked.
    pub unique_key: ROption<RString>,
    /// Further documents of the same message (AS2 multiple attachments, RFC 6362): each is
    /// stored and run as a document of its own, after `document`, and the connector gets one
    /// [`Outcome`] for them all (see [`Submission::with_more_documents`]). Empty: one document.
    pub more_documents: RVec<Document>,
}

/// What became of a submitted document. Integer-tagged so that later SDKs can add kinds.
#[repr(transparent)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutcomeKind(pub u32);

impl OutcomeKind {
    /// Stored and processed; `returned` holds a `return` step's output, if any.
    pub const ACCEPTED: Self = Self(1);
    /// The duplicate key was seen before; `stored_answer` holds the answer recorded then.
    pub const DUPLICATE: Self = Self(2);
    /// The process failed; `error` says why.
    pub const FAILED: Self = Self(3);
    /// The host would not take the document (shutting down, paused, store unavailable).
    pub const REFUSED: Self = Self(4);
    /// The submission's `unique_key` is held by an earlier document (`document_id` names it);
    /// nothing was stored or run.
    pub const KEY_TAKEN: Self = Self(5);
}

/// The output of a process's `return` step.
#[repr(C)]
#[derive(StableAbi, Clone, Debug)]
pub struct Returned {
    pub status: u16,
    pub headers: RVec<OwnedHeader>,
    /// The body, unless `body_is_payload`.
    pub body: RVec<u8>,
    /// The body is the document's payload, too large to hand over in memory: `body` is empty,
    /// and an answer with [`Response::body_is_payload`] makes the host stream the payload.
    pub body_is_payload: bool,
}

/// The fate of a submitted document, given back to the connector so it can answer.
#[repr(C)]
#[derive(StableAbi, Clone, Debug)]
pub struct Outcome {
    pub kind: OutcomeKind,
    /// The host's id of the stored document.
    pub document_id: RString,
    pub returned: ROption<Returned>,
    pub stored_answer: ROption<RVec<u8>>,
    /// Why the document failed or was refused.
    pub error: ROption<RString>,
}

/// One problem found in a connection's or an operation's settings.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// JSON pointer (RFC 6901) into the settings, `""` for the whole section.
    pub pointer: RString,
    pub message: RString,
}

/// A kind of connector a plugin offers.
#[repr(C)]
#[derive(StableAbi, Clone, Debug)]
pub struct KindInfo {
    /// The name process files use as `start.connector`.
    pub kind: RString,
    pub description: RString,
    /// `false` for connectors served by the host's shared web server, which have no connection.
    pub needs_connection: bool,
    /// `true` when `handle` and `complete` do real work (cryptography, decompression): the host
    /// then calls them on its blocking pool so that they never stall its network threads.
    pub blocking: bool,
    /// JSON Schema of the connection settings.
    pub connection_schema: RString,
    /// JSON Schema of the operation settings.
    pub operation_schema: RString,
}

/// What a plugin says about itself.
#[repr(C)]
#[derive(StableAbi, Clone, Debug)]
pub struct PluginInfo {
    pub name: RString,
    pub version: RString,
    pub kinds: RVec<KindInfo>,
}

/// Log levels a plugin can emit through the host.
#[repr(transparent)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogLevel(pub u8);

impl LogLevel {
    pub const ERROR: Self = Self(1);
    pub const WARN: Self = Self(2);
    pub const INFO: Self = Self(3);
    pub const DEBUG: Self = Self(4);
}

/// The host's logging function: level, the operation (process) it concerns if any, message.
pub type HostLogFn = extern "C" fn(LogLevel, ROption<RStr<'_>>, RStr<'_>);

/// One operation of a connection, as written in a process's Start step.
#[repr(C)]
#[derive(StableAbi, Clone, Debug)]
pub struct OperationSpec {
    /// The process's name; submissions name it.
    pub id: RString,
    /// The operation settings as JSON.
    pub settings: RString,
}

/// Everything a plugin needs to open a listener.
#[repr(C)]
#[derive(StableAbi, Clone, Debug)]
pub struct OpenSpec {
    pub kind: RString,
    /// The connection's name; none for shared-server connectors.
    pub connection_name: ROption<RString>,
    /// The connection settings as JSON (`{}` for shared-server connectors).
    pub connection: RString,
    pub operations: RVec<OperationSpec>,
    /// The deployment folder, absolute: relative file names in settings resolve against it.
    pub deployment_dir: RString,
    /// A [`HostLogFn`], spelled out: the derive needs to see the function type.
    pub log: extern "C" fn(LogLevel, ROption<RStr<'_>>, RStr<'_>),
}

impl Submission {
    /// Submit `document` to the process named `operation`, with no duplicate check.
    pub fn new(operation: &str, document: Document) -> Self {
        Self {
            operation: operation.into(),
            document,
            duplicate_key: ROption::RNone,
            duplicate_window: 0,
            unique_key: ROption::RNone,
            more_documents: RVec::new(),
        }
    }

    /// Ask the host to detect resends: `key` identifies the message (AS2: partner pair and
    /// Message-ID), `window` is how many recent documents to look back over (`0`: default).
    pub fn with_duplicate_key(mut self, key: impl Into<RString>, window: u32) -> Self {
        self.duplicate_key = ROption::RSome(key.into());
        self.duplicate_window = window;
        self
    }

    /// Ask the host to accept `key` once: a later document with it is refused with
    /// [`OutcomeKind::KEY_TAKEN`] (AS2: partner pair and file name).
    pub fn with_unique_key(mut self, key: impl Into<RString>) -> Self {
        self.unique_key = ROption::RSome(key.into());
        self
    }
}
