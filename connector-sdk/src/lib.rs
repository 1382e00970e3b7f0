//! # berth connector SDK
//!
//! The stable ABI between the berth host and its connector plugins, and everything a plugin
//! author needs to write a listen connector without reading host code.
//!
//! A connector plugin is a `cdylib` that the host loads from its plugins folder. The host owns
//! every socket, the TLS, the message store and the process runtime; a connector is a protocol
//! handler. For each request the host has read, the connector either answers at once or submits
//! a document to a process and answers once the document's fate is known. Plugins are
//! synchronous: no runtime, no sockets, no threads of their own.
//!
//! ## A complete connector
//!
//! `Cargo.toml`:
//! ```toml
//! [lib]
//! crate-type = ["cdylib"]
//!
//! [dependencies]
//! berth-connector-sdk = "0.2"
//! serde = { version = "1", features = ["derive"] }
//! schemars = "1"
//! ```
//!
//! `src/lib.rs`: an echo connector that submits every POST body to the one process that uses
//! it and answers with what the process returned. Everything it does not write has a default
//! (see [`Connector`] and [`Listener`]).
//! ```
//! use berth_connector_sdk::prelude::*;
//!
//! /// Connection settings: where to listen.
//! #[derive(serde::Deserialize, schemars::JsonSchema)]
//! #[serde(deny_unknown_fields)]
//! pub struct EchoConnection {
//!     /// TCP port to listen on.
//!     port: u16,
//! }
//!
//! pub struct Echo;
//!
//! impl Connector for Echo {
//!     const KIND: &'static str = "echo";
//!     const DESCRIPTION: &'static str = "Submits each POST body to its process";
//!     type Connection = EchoConnection;
//!     type Operation = NoSettings;
//!     type Listener = EchoListener;
//!
//!     fn open(
//!         _context: OpenContext,
//!         connection: EchoConnection,
//!         operations: Vec<(String, NoSettings)>,
//!     ) -> Result<(Vec<Endpoint>, EchoListener), String> {
//!         let process = operations.into_iter().next().ok_or("no operation")?.0;
//!         let endpoint = Endpoint::port("0.0.0.0", connection.port, None, 1 << 20);
//!         Ok((vec![endpoint], EchoListener { process }))
//!     }
//! }
//!
//! pub struct EchoListener {
//!     process: String,
//! }
//!
//! impl Listener for EchoListener {
//!     type Pending = ();
//!
//!     fn handle(&self, request: &Request<'_>) -> Decision<()> {
//!         if request.method.as_str() != "POST" {
//!             return Decision::Respond(Response::text(405, "only POST"));
//!         }
//!         let path = Property::new("echo.path", request.path.as_str());
//!         let document = Document::from_request_body(vec![path]);
//!         Decision::submit(Submission::new(&self.process, document))
//!     }
//! }
//!
//! berth_connector_sdk::export_plugin! {
//!     name: "echo",
//!     version: env!("CARGO_PKG_VERSION"),
//!     connectors: [Echo],
//! }
//! # fn main() {}
//! ```
//!
//! Build it with `cargo build --release` and copy `target/release/libecho.so` into the
//! deployment's `plugins/` folder; `berth plugins` lists it, `berth schema` includes its
//! settings, and a process can start with `connector: echo`.
//!
//! ## Guarantees the SDK gives you
//! - A panic in any of your code is caught here and becomes an error for that one call (a 500
//!   for a request); it never crosses into the host.
//! - Settings reach you already checked against your types; unknown fields and wrong types are
//!   reported to the user with file, line and field before your `open` runs.
//! - The host refuses to load a plugin built against an incompatible SDK, naming the file.

// The two lints abi_stable's macros trip are allowed in Cargo.toml, with the reason.

pub mod abi;
pub mod auth;
pub mod certs;
mod connector;
pub mod endpoint;
pub mod exchange;
pub mod glue;
mod helpers;
pub mod log;
pub mod module;
pub mod more_documents;
pub mod properties;
pub mod query;
pub mod secret;
pub mod settings;
pub mod tls;

pub use abi_stable;
pub use connector::{Connector, Decision, Listener, OpenContext, EVERY_REQUEST};
pub use settings::NoSettings;

/// The SDK version plugins are built against. The host refuses a plugin whose SDK version is
/// not compatible with its own (for 0.x versions: another minor version), naming the file.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Everything a plugin author usually needs.
pub mod prelude {
    pub use crate::abi::{
        Delivery, Document, Endpoint, Header, Outcome, OutcomeKind, OwnedHeader, PayloadFrom,
        Problem, Property, Request, Response, RestartTransfers, Returned, Submission, Tls,
    };
    pub use crate::auth::BasicAuth;
    pub use crate::certs::{CertificateUse, KeyCheck};
    pub use crate::log::Logger;
    pub use crate::secret::Secret;
    pub use crate::settings::problem;
    pub use crate::tls::{TlsFiles, TlsPort};
    pub use crate::{properties, Connector, Decision, Listener, NoSettings, OpenContext};
}

/// Export a plugin's root module: its name, version and connector types.
///
/// ```ignore
/// berth_connector_sdk::export_plugin! {
///     name: "my-plugin",
///     version: env!("CARGO_PKG_VERSION"),
///     connectors: [MyConnector],
/// }
/// ```
#[macro_export]
macro_rules! export_plugin {
    (name: $name:expr, version: $version:expr, connectors: [$($connector:ty),+ $(,)?] $(,)?) => {
        // What `#[abi_stable::export_root_module]` expands to, spelled with `$crate` paths so
        // that plugin crates need not depend on abi_stable themselves. The symbol name is
        // abi_stable's fixed loader name; a test in the SDK keeps the two equal.
        #[export_name = "_1as_0lib_1header_0root_bmodule_bloader"]
        pub static BERTH_PLUGIN_HEADER: $crate::abi_stable::library::LibHeader = {
            extern "C" fn erased_root_module() -> $crate::abi_stable::library::RootModuleResult {
                $crate::abi_stable::library::__call_root_module_loader(root_module)
            }
            fn root_module() -> $crate::module::PluginModuleRef {
                static KINDS: &[$crate::glue::KindVTable] =
                    &[$($crate::glue::KindVTable::of::<$connector>()),+];
                $crate::glue::root_module($name, $version, KINDS)
            }
            unsafe {
                $crate::abi_stable::library::LibHeader::from_constructor::<
                    $crate::module::PluginModuleRef,
                >(
                    erased_root_module,
                    $crate::abi_stable::library::CheckTypeLayout::Yes,
                )
            }
        };
    };
}

#[cfg(test)]
mod tests {
    #[test]
    fn exported_symbol_is_the_one_abi_stable_looks_up() {
        assert_eq!(
            abi_stable::library::ROOT_MODULE_LOADER_NAME,
            "_1as_0lib_1header_0root_bmodule_bloader"
        );
    }
}
