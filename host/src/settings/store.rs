//! Where and how the message store keeps documents.

use serde::Deserialize;

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
