//! Process files (`DIR/processes/*.yaml`): a Start (listen connector, connection, operation)
//! and the steps that handle each received document.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;

use crate::decode::{check_keys, decode};
use crate::diagnostic::Diagnostic;
use crate::names::{required_name, root_mapping};
use crate::pointer;
use crate::steps::{load_steps, Step};
use crate::yaml::YamlDoc;

/// A loaded process file.
#[derive(Debug, Clone)]
pub struct ProcessDef {
    pub name: String,
    pub description: Option<String>,
    pub file: PathBuf,
    pub start: StartDef,
    pub steps: Vec<Step>,
    pub doc: Arc<YamlDoc>,
}

/// The listener a process starts from.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartDef {
    pub connector: String,
    /// Absent for connectors that use the host's shared web server.
    #[serde(default)]
    pub connection: Option<String>,
    /// The connector's operation settings, opaque here: the plugin checks them.
    #[serde(default)]
    pub operation: Value,
}

impl ProcessDef {
    /// A diagnostic at a place inside `start.operation`, given as a JSON pointer relative to it.
    pub fn operation_diagnostic(
        &self,
        pointer_within_operation: &str,
        message: impl Into<String>,
    ) -> Diagnostic {
        let at = format!(
            "/start/operation{}",
            pointer::normalize(pointer_within_operation)
        );
        self.doc.diagnostic(&at, message)
    }

    /// A diagnostic at a field of `start` (`connector` or `connection`).
    pub fn start_diagnostic(&self, field: &str, message: impl Into<String>) -> Diagnostic {
        self.doc
            .diagnostic(&pointer::join("/start", field), message)
    }
}

const FIELDS: &[&str] = &["name", "description", "start", "steps"];

/// Reads a deployment file, as a diagnostic if it cannot be read or is not UTF-8.
pub(crate) fn read_file(path: &Path) -> Result<String, Vec<Diagnostic>> {
    std::fs::read_to_string(path).map_err(|e| {
        vec![Diagnostic::file_level(
            path,
            format!("cannot read the file: {e}"),
        )]
    })
}

/// Reads and checks one process file, reporting every problem found (at least one per
/// section and per step).
pub fn load_process(path: &Path) -> Result<ProcessDef, Vec<Diagnostic>> {
    let text = read_file(path)?;
    let doc = YamlDoc::parse(&text, path).map_err(|d| vec![d])?;
    parse_process(doc)
}

pub(crate) fn parse_process(doc: YamlDoc) -> Result<ProcessDef, Vec<Diagnostic>> {
    let root = root_mapping(&doc, "a process file").map_err(|d| vec![d])?;
    let mut diags = Vec::new();
    check_keys(&doc, "", root, FIELDS, &mut diags);
    let name = required_name(&doc, root, &mut diags);
    let description = match root.get("description") {
        None | Some(Value::Null) => None,
        Some(v) => decode::<String>(&doc, "/description", v)
            .map_err(|d| diags.push(d))
            .ok(),
    };
    let start = match root.get("start") {
        None => {
            diags.push(doc.diagnostic("/start", "missing field `start`"));
            None
        }
        Some(v) => decode::<StartDef>(&doc, "/start", v)
            .map_err(|d| diags.push(d))
            .ok()
            .map(|mut start| {
                // `operation:` left empty means the connector's defaults, as if absent.
                if start.operation.is_null() {
                    start.operation = Value::Object(Default::default());
                }
                start
            }),
    };
    let steps = load_steps(
        &doc,
        "/steps",
        root.get("steps").unwrap_or(&Value::Null),
        &mut diags,
    );
    match (name, start) {
        (Some(name), Some(start)) if diags.is_empty() => Ok(ProcessDef {
            name,
            description,
            file: doc.file().to_path_buf(),
            start,
            steps,
            doc: Arc::new(doc),
        }),
        _ => Err(diags),
    }
}
