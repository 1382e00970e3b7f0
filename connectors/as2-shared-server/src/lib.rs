//! The AS2 Shared Server listen connector: no connection of its own; the host's shared web
//! server (berth.yaml `shared_server`) serves it at `/as2` and `/as2/{account-id}`. Each process
//! names one partner pair, and the pair in a message's AS2-From / AS2-To picks the process.
//! All the work is in `berth_as2::listener`, shared with the legacy AS2 Server.

use berth_as2::listener::settings::{check_operation, claim, As2Operation};
use berth_as2::listener::{open_shared, As2Listener};
use berth_connector_sdk::prelude::*;

pub struct As2SharedServer;

impl Connector for As2SharedServer {
    const KIND: &'static str = "as2-shared-server";
    const DESCRIPTION: &'static str =
        "AS2 Shared Server: receives AS2 messages at /as2 on the shared web server, one operation per partner pair";
    const NEEDS_CONNECTION: bool = false;
    // Decryption, signature checks and MDN signing: keep them off the host's network threads.
    const BLOCKING: bool = true;
    type Connection = NoSettings;
    type Operation = As2Operation;
    type Listener = As2Listener;

    fn check_operation(operation: &As2Operation) -> Vec<Problem> {
        check_operation(operation)
    }

    fn operation_certificates(
        dir: &std::path::Path,
        operation: &As2Operation,
    ) -> Vec<CertificateUse> {
        berth_as2::listener::report::operation_certificates(dir, operation)
    }

    fn claims(operation: &As2Operation) -> Vec<String> {
        vec![claim(operation)]
    }

    fn open(
        context: OpenContext,
        _connection: NoSettings,
        operations: Vec<(String, As2Operation)>,
    ) -> Result<(Vec<Endpoint>, As2Listener), String> {
        open_shared(context, operations)
    }
}

berth_connector_sdk::export_plugin! {
    name: "as2-shared-server",
    version: env!("CARGO_PKG_VERSION"),
    connectors: [As2SharedServer],
}
