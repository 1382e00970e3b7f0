//! Connection files (`DIR/connections/*.yaml`): a named set of settings for a connector,
//! shared by the processes that name it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;

use crate::decode::check_keys;
use crate::diagnostic::Diagnostic;
use crate::names::{required_name, required_string, root_mapping};
use crate::pointer;
use crate::yaml::YamlDoc;

/// A loaded connection file.
#[derive(Debug, Clone)]
pub struct ConnectionDef {
    pub name: String,
    pub connector: String,
    /// The connector's settings, opaque here: the plugin checks them.
    pub settings: Value,
    pub file: PathBuf,
    pub doc: Arc<YamlDoc>,
}

impl ConnectionDef {
    /// A diagnostic at a place inside `settings`, given as a JSON pointer relative to it (as a
    /// plugin reports it, e.g. `/tls/certificate`).
    pub fn settings_diagnostic(
        &self,
        pointer_within_settings: &str,
        message: impl Into<String>,
    ) -> Diagnostic {
        let at = format!("/settings{}", pointer::normalize(pointer_within_settings));
        self.doc.diagnostic(&at, message)
    }

    /// A diagnostic at a top-level field (`name`, `connector`, `settings`).
    pub fn field_diagnostic(&self, field: &str, message: impl Into<String>) -> Diagnostic {
        self.doc.diagnostic(&pointer::join("", field), message)
    }
}

const FIELDS: &[&str] = &["name", "connector", "settings"];

/// Reads and checks one connection file, reporting every problem found.
pub fn load_connection(path: &Path) -> Result<ConnectionDef, Vec<Diagnostic>> {
    let text = crate::process::read_file(path)?;
    let doc = YamlDoc::parse(&text, path).map_err(|d| vec![d])?;
    parse_connection(doc)
}

pub(crate) fn parse_connection(doc: YamlDoc) -> Result<ConnectionDef, Vec<Diagnostic>> {
    let root = root_mapping(&doc, "a connection file").map_err(|d| vec![d])?;
    let mut diags = Vec::new();
    check_keys(&doc, "", root, FIELDS, &mut diags);
    let name = required_name(&doc, root, &mut diags);
    let connector = required_string(&doc, root, "connector", &mut diags);
    let settings = match root.get("settings") {
        // An absent or empty `settings:` means the connector's defaults.
        None | Some(Value::Null) => Value::Object(Default::default()),
        Some(v) => v.clone(),
    };
    match (name, connector) {
        (Some(name), Some(connector)) if diags.is_empty() => Ok(ConnectionDef {
            name,
            connector,
            settings,
            file: doc.file().to_path_buf(),
            doc: Arc::new(doc),
        }),
        _ => Err(diags),
    }
}
