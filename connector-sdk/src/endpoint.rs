//! Where the host listens for a connector: the endpoints `open` returns, with their TLS, the
//! paths partners send to, and the transfers the host keeps for AS2 Restart. Part of the ABI
//! (re-exported by [`crate::abi`]), split out of it by concern.

use abi_stable::std_types::{ROption, RString, RVec};
use abi_stable::StableAbi;

use crate::secret::Secret;

/// TLS settings for a port the host binds: PEM certificate and key files, or one PKCS#12 file.
/// File names are absolute. `Debug` never shows the password.
///
/// Exhaustive on purpose: the host must know how to load a source to bind its port, so a new
/// source comes with a new SDK version, and a plugin that offers one is refused at load.
#[repr(u8)]
#[derive(StableAbi, Clone, Debug, PartialEq, Eq)]
pub enum Tls {
    /// PEM certificate (chain) and private key files.
    Pem {
        certificate_file: RString,
        private_key_file: RString,
    },
    /// A PKCS#12 file holding the key and the certificate chain.
    Pkcs12 { file: RString, password: Secret },
}

/// Where the host listens for an endpoint.
///
/// Non-exhaustive across the ABI (it crosses as [`Listen_NE`]): a later SDK may add a way to
/// listen, and a plugin built against it still loads here; a deployment that uses a way this
/// host does not know is refused with a message that says to upgrade berth.
#[repr(u8)]
#[derive(StableAbi, Clone, Debug)]
#[sabi(kind(WithNonExhaustive(size = [usize; 24], traits(Debug, Clone))))]
pub enum Listen {
    /// The host binds `address:port` for this listener alone.
    Port {
        /// Interface address: `0.0.0.0`, `127.0.0.1`, `::`.
        address: RString,
        port: u16,
        tls: ROption<Tls>,
    },
    /// The host's shared web server routes `path_prefix` (and everything below it) here.
    Shared {
        /// E.g. `/as2`.
        path_prefix: RString,
    },
}

/// A URL path a partner sends to for one operation, e.g. `/orders` or `/as2/{account-id}`
/// (braces name a part the partner fills in). The host joins it to the endpoint's address to
/// show operators the exact URL to give each partner.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq, Eq)]
pub struct PartnerPath {
    /// The operation (its process's name).
    pub operation: RString,
    pub path: RString,
}

/// Something the host must listen on for a connection.
#[repr(C)]
#[derive(StableAbi, Clone, Debug)]
pub struct Endpoint {
    pub listen: Listen_NE,
    /// The paths partners send to on this endpoint, per operation. An operation with none is
    /// shown as the endpoint's address alone (or its path prefix).
    pub partner_paths: RVec<PartnerPath>,
    /// The largest body the host reads for this endpoint; larger requests get 413 before the
    /// plugin sees them.
    pub max_body_bytes: u64,
    /// Bodies larger than this are written to a file as they arrive instead of being held in
    /// memory (see [`Request::body_file`]); `0` keeps every body in memory. Connectors that
    /// stream large messages (AS2 decrypts from the file) set it; the host's peak memory for
    /// a large message is then what the connector makes of it, not the message itself.
    pub spool_above_bytes: u64,
    /// Accept obsolete line folding in request heads (a field value continued on a line that
    /// starts with a space or tab), replacing each fold with a space as RFC 9112 section 5.2
    /// allows, instead of refusing the request with 400. Older AS2 products fold long headers.
    /// Off by default: unfolding follows every request's framing, which costs a little on each
    /// request. The shared web server always unfolds (it serves the AS2 Shared Server).
    pub unfold_folded_headers: bool,
    /// AS2 Restart (draft-harding-as2-restart), the receiving side, for these partner pairs: a
    /// `POST` or `HEAD` of a listed pair (its `AS2-From` and `AS2-To` headers) that carries the
    /// sender's transfer identifier (`ETag`) is a restartable transfer. The host keeps a body
    /// cut off mid-transfer on the store's disk, keyed by the ETag and the pair, for the pair's
    /// `keep_seconds` after its last byte; answers a `HEAD` with the bytes received in
    /// `Content-Length`; appends a `POST` with `Content-Range` at the right offset (416
    /// otherwise); and hands the connector the whole body as one ordinary `POST`, as if it had
    /// arrived in one piece. Empty (the default): off, an `ETag` means nothing to the host.
    pub restart_transfers: RVec<RestartTransfers>,
}

/// A partner pair whose cut-off transfers the host keeps (see [`Endpoint::restart_transfers`]).
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq, Eq)]
pub struct RestartTransfers {
    /// The `AS2-From` of the pair's requests, unquoted.
    pub as2_from: RString,
    /// The `AS2-To` of the pair's requests, unquoted.
    pub as2_to: RString,
    /// How long a cut-off transfer is kept after its last byte; then it is purged.
    pub keep_seconds: u64,
}

impl Endpoint {
    /// A port the host binds for this listener alone.
    pub fn port(address: &str, port: u16, tls: Option<Tls>, max_body_bytes: u64) -> Self {
        Self::new(
            Listen::Port {
                address: address.into(),
                port,
                tls: tls.into(),
            },
            max_body_bytes,
        )
    }

    /// A path prefix on the host's shared web server.
    pub fn shared(path_prefix: &str, max_body_bytes: u64) -> Self {
        Self::new(
            Listen::Shared {
                path_prefix: path_prefix.into(),
            },
            max_body_bytes,
        )
    }

    fn new(listen: Listen, max_body_bytes: u64) -> Self {
        Self {
            listen: Listen_NE::new(listen),
            partner_paths: RVec::new(),
            max_body_bytes,
            spool_above_bytes: 0,
            unfold_folded_headers: false,
            restart_transfers: RVec::new(),
        }
    }

    /// Keep cut-off transfers of these pairs for AS2 Restart (see
    /// [`Endpoint::restart_transfers`]).
    pub fn restarting_transfers(mut self, pairs: Vec<RestartTransfers>) -> Self {
        self.restart_transfers = pairs.into();
        self
    }

    /// Accept folded header lines on this endpoint (see [`Endpoint::unfold_folded_headers`]).
    pub fn unfolding_folded_headers(mut self) -> Self {
        self.unfold_folded_headers = true;
        self
    }

    /// Spool bodies larger than `bytes` to a file (see [`Endpoint::spool_above_bytes`]).
    pub fn spooling_above(mut self, bytes: u64) -> Self {
        self.spool_above_bytes = bytes;
        self
    }

    /// Partners send to `path` for `operation` (see [`PartnerPath`]).
    pub fn with_partner_path(mut self, operation: &str, path: &str) -> Self {
        self.partner_paths.push(PartnerPath {
            operation: operation.into(),
            path: path.into(),
        });
        self
    }

    /// How the host listens, when this SDK knows the way (a newer plugin may use one it does
    /// not).
    pub fn listen(&self) -> Option<&Listen> {
        self.listen.as_enum().ok()
    }

    /// The paths partners send to for `operation`.
    pub fn partner_paths_of<'a>(&'a self, operation: &'a str) -> impl Iterator<Item = &'a str> {
        self.partner_paths
            .iter()
            .filter(move |p| p.operation.as_str() == operation)
            .map(|p| p.path.as_str())
    }
}
