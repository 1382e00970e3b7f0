//! A plugin listener as the server calls it: the request handed over in the ABI's shape, and
//! the processes the listener may submit to.

use std::collections::HashMap;
use std::sync::Arc;

use berth_connector_sdk::abi::{Header, Request};
use berth_connector_sdk::abi_stable::std_types::{ROption, RSlice, RStr};
use berth_connector_sdk::module::{FfiDecision, ListenerBox};
use berth_process::ProcessDef;
use bytes::Bytes;

use crate::body::{Body, SpoolFile};
use crate::plugins::call;

/// The parts of an HTTP request a plugin sees, owned so they can move to the blocking pool.
pub struct Incoming {
    pub parts: http::request::Parts,
    pub body: Body,
    /// Offered to the connector with a spooled body, for a payload it unwraps as it streams
    /// (see `Request::payload_file`).
    pub payload_file: Option<Arc<SpoolFile>>,
    pub remote_addr: String,
    pub client_certificate: Bytes,
    pub secure: bool,
}

pub struct Mount {
    /// How logs name this listener.
    pub label: String,
    pub listener: Arc<ListenerBox>,
    pub blocking: bool,
    pub max_body_bytes: u64,
    /// Bodies above this many bytes go to a spool file (0: never).
    pub spool_above_bytes: u64,
    /// The processes this listener may submit to, by name.
    pub processes: HashMap<String, Arc<ProcessDef>>,
    /// Unfold obsolete line folding in request heads on this listener's own ports.
    pub unfold_headers: bool,
    /// AS2 Restart: the partner pairs (AS2-From, AS2-To) whose cut-off transfers are kept,
    /// with how many seconds (none: off; see `restart`).
    pub restart_transfers: HashMap<(String, String), u64>,
}

impl Mount {
    /// Ask the connector what to do with a request. A decision this berth does not know (from a
    /// plugin built against a later compatible SDK) fails the request.
    pub async fn decide(&self, incoming: Arc<Incoming>) -> Result<FfiDecision, String> {
        let listener = Arc::clone(&self.listener);
        call::call(self.blocking, move || {
            let headers: Vec<Header<'_>> = incoming
                .parts
                .headers
                .iter()
                .map(|(name, value)| Header {
                    name: RStr::from(name.as_str()),
                    value: RSlice::from(value.as_bytes()),
                })
                .collect();
            let (body, body_file) = match &incoming.body {
                Body::Memory(bytes) => (&bytes[..], None),
                // `spool::create` accepts UTF-8 paths only; the file holds the body alone.
                Body::Spooled(file) => (&[][..], file.path.to_str()),
            };
            let request = Request {
                method: RStr::from(incoming.parts.method.as_str()),
                path: RStr::from(incoming.parts.uri.path()),
                query: incoming.parts.uri.query().map(RStr::from).into(),
                headers: RSlice::from(headers.as_slice()),
                body: RSlice::from(body),
                body_file: body_file.map(RStr::from).into(),
                body_offset: 0,
                body_len: incoming.body.len(),
                payload_file: incoming
                    .payload_file
                    .as_ref()
                    .and_then(|f| f.path.to_str())
                    .map(RStr::from)
                    .into(),
                remote_addr: RStr::from(incoming.remote_addr.as_str()),
                client_certificate: match incoming.client_certificate.is_empty() {
                    true => ROption::RNone,
                    false => ROption::RSome(RSlice::from(&incoming.client_certificate[..])),
                },
                secure: incoming.secure,
            };
            // Unwrapped here, on the calling thread: the non-exhaustive wrapper is not `Send`.
            listener.handle(&request).and_then(|decision| {
                decision
                    .into_enum()
                    .map_err(|e| {
                        format!("the connector made a decision this berth does not know: {e}")
                            .into()
                    })
                    .into()
            })
        })
        .await
    }
}
