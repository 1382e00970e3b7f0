//! Host settings: `berth.yaml` at the root of a deployment. Every field has a default, so a
//! deployment without the file runs.

use std::path::Path;

use berth_connector_sdk::settings::parse;
use berth_process::{Diagnostic, YamlDoc};
use serde::Deserialize;

mod admin;
mod certificates;
mod cluster;
mod deliveries;
mod limits;
mod shared_server;
mod store;

pub use admin::AdminSettings;
pub use certificates::CertificateSettings;
pub use cluster::ClusterSettings;
pub use deliveries::DeliverySettings;
pub use limits::Limits;
pub use shared_server::{Authentication, SharedServer};
pub use store::{StoreBackend, StoreSettings};

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
    #[serde(default)]
    pub admin: AdminSettings,
    /// Expiry warnings for the certificates the deployment uses.
    #[serde(default)]
    pub certificates: CertificateSettings,
    /// This node among the nodes sharing a PostgreSQL store.
    #[serde(default)]
    pub cluster: ClusterSettings,
    /// How the requests berth sends after answering (asynchronous MDNs) are retried.
    #[serde(default)]
    pub deliveries: DeliverySettings,
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
    if let Some((pointer, problem)) = settings.shared_server.problems().into_iter().next() {
        return Err(doc.diagnostic(&pointer, problem));
    }
    if let Some((pointer, problem)) = settings.store.problem() {
        return Err(doc.diagnostic(pointer, problem));
    }
    if let Some((pointer, problem)) = settings.cluster.problem() {
        return Err(doc.diagnostic(pointer, problem));
    }
    if let Some((pointer, problem)) = settings.deliveries.problem() {
        return Err(doc.diagnostic(pointer, problem));
    }
    if settings.certificates.warn_days == 0 {
        return Err(doc.diagnostic("/certificates/warn_days", "must be at least 1 day"));
    }
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
