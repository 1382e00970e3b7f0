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
    /// On SIGTERM or SIGINT, how long listeners keep serving while `/ready` answers 503
    /// "draining", so that a load balancer stops sending before they close. Only when
    /// something has asked `/ready` since the start (else no one is there to tell); 0 turns it
    /// off. A second signal ends it early.
    #[serde(default = "drain")]
    pub drain_seconds: u64,
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
            drain_seconds: drain(),
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
/// Long enough for a load balancer to see the 503 and take the node out: HAProxy's defaults
/// (a check every 2 s, down after 3 failures) take 6 s, Kubernetes' readiness probe (every
/// 10 s) up to 10 s; short enough beside the usual stop timeouts (systemd's 90 s, Kubernetes'
/// 30 s grace) to leave `shutdown_grace_seconds` for the requests in flight.
fn drain() -> u64 {
    10
}
fn max_header_bytes() -> usize {
    64 * 1024
}
fn max_headers() -> usize {
    100
}
