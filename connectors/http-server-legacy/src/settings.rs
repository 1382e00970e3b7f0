//! The connection and operation settings users write in YAML. Doc comments here are what
//! `berth schema` shows in an editor.

use berth_connector_sdk::auth::BasicAuth;
use berth_connector_sdk::tls::TlsFiles;
use schemars::JsonSchema;
use serde::Deserialize;

/// A port with optional TLS and basic authentication, shared by every process whose operation
/// names this connection.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpConnection {
    /// Interface address to listen on.
    #[serde(default = "default_address")]
    pub address: String,
    /// TCP port, e.g. 8081 for HTTP or 8082 for HTTPS.
    pub port: u16,
    /// Serve HTTPS with this certificate and key instead of plain HTTP.
    #[serde(default)]
    pub tls: Option<TlsFiles>,
    /// Require HTTP basic authentication on every request.
    #[serde(default)]
    pub basic_auth: Option<BasicAuth>,
    /// Accept header lines a client folded (a value continued on a line starting with a space
    /// or tab, obsolete since RFC 7230) by reading each fold as one space, instead of answering
    /// 400. Off by default: unfolding follows every request's framing, a small cost on each
    /// request that only clients still folding need.
    #[serde(default)]
    pub unfold_folded_headers: bool,
}

fn default_address() -> String {
    "0.0.0.0".to_string()
}

/// One URL path of the connection and what it accepts.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpOperation {
    /// The URL path this operation answers, exactly, e.g. `/orders`.
    pub path: String,
    /// HTTP methods accepted; others get 405.
    #[serde(default = "default_methods")]
    pub methods: Vec<Method>,
    /// Largest request body accepted, in bytes; larger ones get 413.
    #[serde(default = "default_max_body")]
    pub max_body_bytes: u64,
}

fn default_methods() -> Vec<Method> {
    vec![Method::POST]
}

fn default_max_body() -> u64 {
    10 * 1024 * 1024
}

/// An HTTP method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[allow(clippy::upper_case_acronyms)]
pub enum Method {
    GET,
    POST,
    PUT,
    PATCH,
    DELETE,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::GET => "GET",
            Method::POST => "POST",
            Method::PUT => "PUT",
            Method::PATCH => "PATCH",
            Method::DELETE => "DELETE",
        }
    }
}
