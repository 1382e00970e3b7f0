//! Rules for the names of processes and connections, shared by both loaders.

use serde_json::Value;

use crate::decode::{decode, type_name};
use crate::diagnostic::Diagnostic;
use crate::yaml::YamlDoc;

/// Names appear in URLs, logs and CLI arguments: keep them to letters, digits, `.`, `_`, `-`.
pub(crate) fn is_valid_name(name: &str) -> bool {
    crate::properties::is_valid_property_name(name)
}

/// Reads the required `name` field of a file's root mapping.
pub(crate) fn required_name(
    doc: &YamlDoc,
    root: &serde_json::Map<String, Value>,
    diags: &mut Vec<Diagnostic>,
) -> Option<String> {
    required_string(doc, root, "name", diags).and_then(|name| {
        if is_valid_name(&name) {
            Some(name)
        } else {
            diags.push(doc.diagnostic(
                "/name",
                format!("`{name}` is not a valid name: use letters, digits, `.`, `_` or `-`"),
            ));
            None
        }
    })
}

/// Reads a required string field of the root mapping.
pub(crate) fn required_string(
    doc: &YamlDoc,
    root: &serde_json::Map<String, Value>,
    field: &str,
    diags: &mut Vec<Diagnostic>,
) -> Option<String> {
    let at = format!("/{field}");
    match root.get(field) {
        None => {
            diags.push(doc.diagnostic(&at, format!("missing field `{field}`")));
            None
        }
        Some(v) => match decode::<String>(doc, &at, v) {
            Ok(s) => Some(s),
            Err(d) => {
                diags.push(d);
                None
            }
        },
    }
}

/// The root mapping of a file, or a diagnostic saying what the file should hold.
pub(crate) fn root_mapping<'a>(
    doc: &'a YamlDoc,
    what: &str,
) -> Result<&'a serde_json::Map<String, Value>, Diagnostic> {
    match doc.value() {
        Value::Object(map) => Ok(map),
        other => Err(doc.diagnostic(
            "",
            format!("{what} is a mapping of fields; found {}", type_name(other)),
        )),
    }
}
