//! The legacy HTTP Server listen connector: a port of its own (optionally HTTPS and basic
//! authentication), one operation per URL path, generic payloads. The process's `return` step
//! makes the response; without one the partner gets an empty 200 once the process has run.

mod listener;
mod request_properties;
pub mod settings;

use berth_connector_sdk::prelude::*;

use listener::HttpListener;
use settings::{HttpConnection, HttpOperation};

pub struct HttpServerLegacy;

/// Bodies larger than this are spooled by the host rather than held in memory. Most EDI
/// messages are a few kilobytes and stay on the in-memory fast path.
const SPOOL_ABOVE: u64 = 1 << 20;

impl Connector for HttpServerLegacy {
    const KIND: &'static str = "http-server-legacy";
    const DESCRIPTION: &'static str =
        "HTTP Server (legacy): receives any payload on a port of its own, one operation per path";
    // Routing and a few property strings: microseconds, not worth a thread hand-off.
    const BLOCKING: bool = false;
    type Connection = HttpConnection;
    type Operation = HttpOperation;
    type Listener = HttpListener;

    fn check_operation(operation: &HttpOperation) -> Vec<Problem> {
        let mut problems = Vec::new();
        if !operation.path.starts_with('/') {
            problems.push(problem("/path", "a path starts with `/`, e.g. `/orders`"));
        }
        if operation.path.contains('?') {
            problems.push(problem("/path", "a path has no query string"));
        }
        if operation.methods.is_empty() {
            problems.push(problem("/methods", "name at least one method"));
        }
        if operation.max_body_bytes == 0 {
            problems.push(problem("/max_body_bytes", "must be at least 1"));
        }
        problems
    }

    fn check_connection(connection: &HttpConnection) -> Vec<Problem> {
        let mut problems = Vec::new();
        if connection.port == 0 {
            problems.push(problem("/port", "a port from 1 to 65535"));
        }
        if let Some(tls) = &connection.tls {
            problems.extend(tls.check("/tls"));
        }
        if let Some(auth) = &connection.basic_auth {
            problems.extend(auth.check("/basic_auth"));
        }
        problems
    }

    /// The HTTPS certificate, which the host reads and checks the way it serves it.
    fn connection_certificates(
        dir: &std::path::Path,
        connection: &HttpConnection,
    ) -> Vec<CertificateUse> {
        let tls = connection.tls.as_ref();
        tls.and_then(|tls| tls.certificate_use(dir, "/tls"))
            .into_iter()
            .collect()
    }

    fn claims(operation: &HttpOperation) -> Vec<String> {
        operation
            .methods
            .iter()
            .map(|m| format!("{} {}", m.as_str(), operation.path))
            .collect()
    }

    fn open(
        context: OpenContext,
        connection: HttpConnection,
        operations: Vec<(String, HttpOperation)>,
    ) -> Result<(Vec<Endpoint>, HttpListener), String> {
        let tls = connection
            .tls
            .as_ref()
            .map(|tls| tls.resolve(&context))
            .transpose()?;
        // The host stops reading at the largest limit of any path; each path's own limit is
        // checked in `handle`, so a small limit on one path does not cap the others.
        let max_body = operations
            .iter()
            .map(|(_, op)| op.max_body_bytes)
            .max()
            .unwrap_or(0);
        // A large body goes to a file as it arrives, and that file becomes the stored payload
        // (linked, not copied): memory stays flat whatever the size.
        let mut endpoint = Endpoint::port(&connection.address, connection.port, tls, max_body)
            .spooling_above(SPOOL_ABOVE);
        if connection.unfold_folded_headers {
            endpoint = endpoint.unfolding_folded_headers();
        }
        let endpoint = operations.iter().fold(endpoint, |endpoint, (name, op)| {
            endpoint.with_partner_path(name, &op.path)
        });
        let listener = HttpListener::new(operations, connection.basic_auth, context.log);
        Ok((vec![endpoint], listener))
    }
}

berth_connector_sdk::export_plugin! {
    name: "http-server-legacy",
    version: env!("CARGO_PKG_VERSION"),
    connectors: [HttpServerLegacy],
}
