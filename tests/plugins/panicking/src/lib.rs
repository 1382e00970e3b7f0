//! A test connector that panics on purpose: in `handle` for `/panic-handle`, in `complete` for
//! `/panic-complete`, and otherwise submits the body and answers 200. Tests copy it into a
//! deployment's plugins folder to prove that a panic becomes a 500 for that one request.

use berth_connector_sdk::prelude::*;

#[derive(serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PanickingConnection {
    /// Port to listen on (127.0.0.1 only).
    port: u16,
}

pub struct Panicking;

impl Connector for Panicking {
    const KIND: &'static str = "panicking";
    const DESCRIPTION: &'static str = "Test connector that panics on request";
    type Connection = PanickingConnection;
    type Operation = NoSettings;
    type Listener = PanickingListener;

    fn open(
        _context: OpenContext,
        connection: PanickingConnection,
        operations: Vec<(String, NoSettings)>,
    ) -> Result<(Vec<Endpoint>, PanickingListener), String> {
        let process = operations.into_iter().next().ok_or("no operation")?.0;
        let endpoint = Endpoint::port("127.0.0.1", connection.port, None, 1 << 16);
        Ok((vec![endpoint], PanickingListener { process }))
    }
}

pub struct PanickingListener {
    process: String,
}

impl Listener for PanickingListener {
    type Pending = bool;

    fn handle(&self, request: &Request<'_>) -> Decision<bool> {
        if request.path.as_str() == "/panic-handle" {
            panic!("asked to panic in handle");
        }
        Decision::Submit {
            submission: Submission::new(&self.process, Document::from_request_body(Vec::new())),
            pending: request.path.as_str() == "/panic-complete",
        }
    }

    fn complete(&self, panic_now: bool, _outcome: &Outcome) -> Response {
        if panic_now {
            panic!("asked to panic in complete");
        }
        Response::text(200, "fine")
    }
}

berth_connector_sdk::export_plugin! {
    name: "panicking-test-plugin",
    version: env!("CARGO_PKG_VERSION"),
    connectors: [Panicking],
}
