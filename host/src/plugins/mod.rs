//! Connector plugins: finding them, loading them through the stable ABI, and calling them.
//!
//! A file that is not a plugin, or a plugin built against an incompatible SDK, is refused with a
//! reason and the others still load: one bad file in a plugins folder must not take a whole
//! deployment down.

pub mod call;
mod loader;
mod plugin;

pub use loader::{load_all, plugin_dirs};
pub use plugin::{Kind, Plugin};

use std::path::PathBuf;
use std::sync::Arc;

/// A file that was not loaded, and why.
#[derive(Debug, Clone)]
pub struct Refused {
    pub file: PathBuf,
    pub reason: String,
}

/// Every plugin found, and every file refused.
#[derive(Default)]
pub struct Registry {
    pub plugins: Vec<Arc<Plugin>>,
    pub refused: Vec<Refused>,
}

impl Registry {
    /// The plugin that offers a connector kind.
    pub fn kind(&self, name: &str) -> Option<(&Arc<Plugin>, &Kind)> {
        self.plugins
            .iter()
            .find_map(|p| p.kinds.iter().find(|k| k.name == name).map(|k| (p, k)))
    }

    /// All known connector kinds, sorted, for "expected one of" messages.
    pub fn kind_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .plugins
            .iter()
            .flat_map(|p| p.kinds.iter().map(|k| k.name.clone()))
            .collect();
        names.sort();
        names
    }

    /// A sentence for "unknown connector" errors: what is known, and what was refused.
    pub fn unknown_kind_message(&self, name: &str) -> String {
        let known = self.kind_names();
        let mut message = if known.is_empty() {
            format!("unknown connector `{name}`: no connector plugin is loaded")
        } else {
            format!(
                "unknown connector `{name}`; known connectors: {}",
                known.join(", ")
            )
        };
        for refused in &self.refused {
            message.push_str(&format!(
                "; refused plugin {}: {}",
                refused.file.display(),
                refused.reason
            ));
        }
        message
    }
}
