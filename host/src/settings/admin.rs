//! The admin server: the JSON API, `/metrics` and the operator console.

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminSettings {
    #[serde(default = "enabled")]
    pub enabled: bool,
    /// Loopback by default: the API controls listeners and shows documents.
    #[serde(default = "loopback")]
    pub address: String,
    #[serde(default = "port")]
    pub port: u16,
}

impl Default for AdminSettings {
    fn default() -> Self {
        Self {
            enabled: enabled(),
            address: loopback(),
            port: port(),
        }
    }
}

fn enabled() -> bool {
    true
}
fn loopback() -> String {
    "127.0.0.1".to_string()
}
fn port() -> u16 {
    9900
}
