//! The AS2 Server (legacy) listen connector: a connection with a port of its own (commonly
//! 8080, optionally an HTTPS port too) serving `/as2` for every partner whose process names the
//! connection; each process names one partner pair. All the work is in `berth_as2::listener`,
//! shared with the AS2 Shared Server.

use berth_as2::listener::settings::{
    check_legacy_connection, check_operation, claim, As2Operation, LegacyConnection,
};
use berth_as2::listener::{open_legacy, As2Listener};
use berth_connector_sdk::prelude::*;

pub struct As2ServerLegacy;

impl Connector for As2ServerLegacy {
    const KIND: &'static str = "as2-server-legacy";
    const DESCRIPTION: &'static str =
        "AS2 Server (legacy): receives AS2 messages at /as2 on a port of its own, one operation per partner pair";
    // Decryption, signature checks and MDN signing: keep them off the host's network threads.
    const BLOCKING: bool = true;
    type Connection = LegacyConnection;
    type Operation = As2Operation;
    type Listener = As2Listener;

    fn check_connection(connection: &LegacyConnection) -> Vec<Problem> {
        check_legacy_connection(connection)
    }

    fn check_operation(operation: &As2Operation) -> Vec<Problem> {
        check_operation(operation)
    }

    fn operation_certificates(
        dir: &std::path::Path,
        operation: &As2Operation,
    ) -> Vec<CertificateUse> {
        berth_as2::listener::report::operation_certificates(dir, operation)
    }

    fn connection_certificates(
        dir: &std::path::Path,
        connection: &LegacyConnection,
    ) -> Vec<CertificateUse> {
        berth_as2::listener::report::connection_certificates(dir, connection)
    }

    fn claims(operation: &As2Operation) -> Vec<String> {
        vec![claim(operation)]
    }

    fn open(
        context: OpenContext,
        connection: LegacyConnection,
        operations: Vec<(String, As2Operation)>,
    ) -> Result<(Vec<Endpoint>, As2Listener), String> {
        open_legacy(context, connection, operations)
    }
}

berth_connector_sdk::export_plugin! {
    name: "as2-server-legacy",
    version: env!("CARGO_PKG_VERSION"),
    connectors: [As2ServerLegacy],
}
