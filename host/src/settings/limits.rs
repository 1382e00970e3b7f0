//! Limits that protect berth from slow, oversized and too many requests.

use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Connections served at once across all listeners; more wait to be accepted.
    #[serde(default = "max_connections")]
    pub max_connections: usize,
    /// A client must send its request headers within this time.
    #[serde(default = "header_timeout")]
    pub header_read_timeout_seconds: u64,
    /// A client must send the whole body within this time.
    #[serde(default = "body_timeout")]
    pub body_read_timeout_seconds: u64,
    /// On SIGTERM, how long requests in flight may take to finish.
    #[serde(default = "grace")]
    pub shutdown_grace_seconds: u64,
    /// Largest request head (request line and headers) in bytes; larger ones get 431.
    #[serde(default = "max_header_bytes")]
    pub max_header_bytes: usize,
    /// Most headers a request may carry; more get 431.
    #[serde(default = "max_headers")]
    pub max_headers: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: max_connections(),
            header_read_timeout_seconds: header_timeout(),
            body_read_timeout_seconds: body_timeout(),
            shutdown_grace_seconds: grace(),
            max_header_bytes: max_header_bytes(),
            max_headers: max_headers(),
        }
    }
}

fn max_connections() -> usize {
    1024
}
fn header_timeout() -> u64 {
    30
}
fn body_timeout() -> u64 {
    120
}
fn grace() -> u64 {
    30
}
fn max_header_bytes() -> usize {
    64 * 1024
}
fn max_headers() -> usize {
    100
}
