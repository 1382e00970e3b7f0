//! The traits a plugin author implements.

use schemars::JsonSchema;
use serde::de::DeserializeOwned;

use crate::abi::{Endpoint, Outcome, Request, Response, Submission};
use crate::certs::CertificateUse;
use crate::log::Logger;

/// A kind of listen connector: its settings types and how to open a listener.
///
/// Only `KIND`, `DESCRIPTION`, the three types and `open` are required; everything else has the
/// default a simple connector wants (in the way pingora's `ProxyHttp` defaults every phase a
/// proxy does not care about). Use [`crate::NoSettings`] for a section the connector does not
/// have.
///
/// Settings arrive as the `connection` and `operation` sections a user wrote in YAML. The SDK
/// deserializes them into these types (so unknown fields and wrong types are reported with their
/// path before anything runs) and derives the JSON Schema that `berth schema` publishes from the
/// same types: doc comments on the fields become the descriptions users see in their editor.
pub trait Connector: Send + Sync + 'static {
    /// The name process files use as `start.connector`.
    const KIND: &'static str;
    /// One line for `berth plugins`.
    const DESCRIPTION: &'static str;
    /// `false` for connectors served by the host's shared web server; they have no connection
    /// section and `open` receives every operation of that kind in the deployment.
    const NEEDS_CONNECTION: bool = true;
    /// `true` (the safe default) when `handle` and `complete` may take long (cryptography,
    /// decompression): the host calls them on its blocking pool. A connector whose calls take
    /// microseconds sets `false` and is called inline, which saves a thread hand-off per request.
    const BLOCKING: bool = true;

    type Connection: DeserializeOwned + JsonSchema;
    type Operation: DeserializeOwned + JsonSchema;
    type Listener: Listener;

    /// Checks beyond what the types enforce (ranges, combinations). Paths are JSON pointers.
    fn check_connection(_connection: &Self::Connection) -> Vec<crate::abi::Problem> {
        Vec::new()
    }

    /// Checks beyond what the types enforce (ranges, combinations). Paths are JSON pointers.
    fn check_operation(_operation: &Self::Operation) -> Vec<crate::abi::Problem> {
        Vec::new()
    }

    /// The routes an operation claims on its connection, e.g. `POST /orders`. Two operations of
    /// one connection must not claim the same route; the host refuses such a deployment.
    ///
    /// The default claims every request (`*`): a connection serves one operation, which is what
    /// a connector that sends every request to one process wants; the host then refuses a
    /// second operation on the same connection instead of leaving it without documents.
    fn claims(_operation: &Self::Operation) -> Vec<String> {
        vec![EVERY_REQUEST.to_string()]
    }

    /// The certificates and keys a connection's settings use (e.g. its HTTPS port's), with files
    /// resolved against `deployment_dir`: the host warns before they expire and refuses a key
    /// that does not match its certificate. The default reports none.
    fn connection_certificates(
        _deployment_dir: &std::path::Path,
        _connection: &Self::Connection,
    ) -> Vec<CertificateUse> {
        Vec::new()
    }

    /// The certificates and keys an operation's settings use (a partner's certificate, our
    /// decryption key), as for [`Connector::connection_certificates`]. The default reports none.
    fn operation_certificates(
        _deployment_dir: &std::path::Path,
        _operation: &Self::Operation,
    ) -> Vec<CertificateUse> {
        Vec::new()
    }

    /// Open a listener for a connection and all the operations that use it.
    fn open(
        context: OpenContext,
        connection: Self::Connection,
        operations: Vec<(String, Self::Operation)>,
    ) -> Result<(Vec<Endpoint>, Self::Listener), String>;
}

/// The route [`Connector::claims`] claims by default.
pub const EVERY_REQUEST: &str = "*";

/// What a plugin is told when it opens a listener.
#[derive(Clone, Debug)]
pub struct OpenContext {
    /// The connection's name as written in the deployment; none for shared-server kinds.
    pub connection_name: Option<String>,
    /// The deployment folder: resolve relative file names in settings against it.
    pub deployment_dir: std::path::PathBuf,
    /// Logs through the host.
    pub log: Logger,
}

impl OpenContext {
    /// Resolve a file name from the settings against the deployment folder.
    pub fn resolve(&self, file: &str) -> std::path::PathBuf {
        self.deployment_dir.join(file)
    }
}

/// What a listener decides for one request.
pub enum Decision<P> {
    /// Answer now; nothing is submitted (a 404, a 401, an error MDN for an unknown partner).
    Respond(Response),
    /// Submit a document; `complete` is called with `pending` once its fate is known.
    Submit { submission: Submission, pending: P },
}

impl Decision<()> {
    /// Submit a document, with nothing to keep for the answer.
    pub fn submit(submission: Submission) -> Self {
        Self::Submit {
            submission,
            pending: (),
        }
    }
}

/// A listener opened by a [`Connector`].
///
/// `handle` runs for every request on the host's threads, possibly several at once. Keep it
/// synchronous and free of I/O: the host owns sockets, storage and outbound HTTP, and offers them
/// through the decision you return (submit a document) and the response (deliveries, evidence).
/// A panic in either method is caught and becomes a 500 for that one request.
pub trait Listener: Send + Sync + 'static {
    /// What the listener keeps between `handle` and `complete` (e.g. what an MDN needs).
    type Pending: Send + 'static;

    fn handle(&self, request: &Request<'_>) -> Decision<Self::Pending>;

    /// Build the answer once the submitted document's outcome is known.
    ///
    /// The default is [`Response::from_outcome`]: what the process's `return` step made, or an
    /// empty 200, and a short text 500 or 503 when the document failed or was refused.
    fn complete(&self, _pending: Self::Pending, outcome: &Outcome) -> Response {
        Response::from_outcome(outcome)
    }

    /// Every certificate partners exchanged at run time that the host's store holds (see
    /// [`crate::exchange`]), at open and whenever the set changes, including certificates
    /// other nodes of a cluster received. Called from the host's threads, concurrently with
    /// `handle`. The default ignores them.
    fn exchanged_certificates(&self, _certificates: &[crate::exchange::ExchangedCertificate]) {}
}
