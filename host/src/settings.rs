//! Host settings: `berth.yaml` at the root of a deployment. Every field has a default, so a
//! deployment without the file runs.

use std::path::Path;

use berth_connector_sdk::settings::parse;
use berth_process::{Diagnostic, YamlDoc};
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostSettings {
    /// The web server shared by connectors that need no port of their own (AS2 Shared Server).
    #[serde(default)]
    pub shared_server: SharedServer,
    #[serde(default)]
    pub limits: Limits,
    #[serde(default)]
    pub store: StoreSettings,
}

/// The message store: every received document is kept, fsynced, before the partner's answer.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSettings {
    /// `false` runs without a store: faster, but an answer no longer promises that the document
    /// survives a crash, and duplicates are not detected. For benchmarks and throw-away tests.
    #[serde(default = "enabled")]
    pub enabled: bool,
    /// Folder of the store, relative to the deployment folder.
    #[serde(default = "data_dir")]
    pub data_dir: String,
    /// Remove documents older than this many days (checked at start and every hour).
    #[serde(default)]
    pub retention_days: Option<u32>,
    /// Let retention remove failed documents too; by default they stay until retried.
    #[serde(default)]
    pub purge_failed: bool,
}

impl Default for StoreSettings {
    fn default() -> Self {
        Self {
            enabled: enabled(),
            data_dir: data_dir(),
            retention_days: None,
            purge_failed: false,
        }
    }
}

fn enabled() -> bool {
    true
}
fn data_dir() -> String {
    "data".to_string()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SharedServer {
    #[serde(default = "any_address")]
    pub address: String,
    #[serde(default = "shared_port")]
    pub port: u16,
    /// An HTTPS port beside the plain one.
    #[serde(default)]
    pub tls: Option<SharedTls>,
}

impl Default for SharedServer {
    fn default() -> Self {
        Self {
            address: any_address(),
            port: shared_port(),
            tls: None,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SharedTls {
    pub port: u16,
    /// PEM certificate chain, relative to the deployment folder.
    pub certificate: String,
    /// PEM private key, relative to the deployment folder.
    pub private_key: String,
}

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

fn any_address() -> String {
    "0.0.0.0".to_string()
}
fn shared_port() -> u16 {
    9090
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

/// Read `DIR/berth.yaml`; defaults when it does not exist.
pub fn load(dir: &Path) -> Result<HostSettings, Diagnostic> {
    let file = dir.join("berth.yaml");
    let text = match std::fs::read_to_string(&file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(HostSettings::default()),
        Err(e) => {
            return Err(Diagnostic {
                file,
                line: None,
                column: None,
                field: String::new(),
                message: format!("cannot read: {e}"),
            })
        }
    };
    let doc = YamlDoc::parse(&text, &file)?;
    let settings: HostSettings = match doc.value() {
        serde_json::Value::Null => HostSettings::default(),
        value => {
            parse(&value.to_string()).map_err(|p| doc.diagnostic(&p.pointer, p.message.as_str()))?
        }
    };
    let limits = &settings.limits;
    if limits.max_connections == 0 {
        return Err(doc.diagnostic("/limits/max_connections", "must be at least 1"));
    }
    // hyper cannot read a request head into less than 8 KiB.
    if limits.max_header_bytes < 8192 {
        return Err(doc.diagnostic("/limits/max_header_bytes", "must be at least 8192"));
    }
    if limits.max_headers == 0 {
        return Err(doc.diagnostic("/limits/max_headers", "must be at least 1"));
    }
    for (pointer, seconds) in [
        (
            "/limits/header_read_timeout_seconds",
            limits.header_read_timeout_seconds,
        ),
        (
            "/limits/body_read_timeout_seconds",
            limits.body_read_timeout_seconds,
        ),
    ] {
        if seconds == 0 {
            return Err(doc.diagnostic(pointer, "must be at least 1 second"));
        }
    }
    Ok(settings)
}
