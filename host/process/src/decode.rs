//! Typed decoding of one section of a parsed file, with errors located at the exact field.

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::diagnostic::Diagnostic;
use crate::pointer;
use crate::yaml::YamlDoc;

/// Deserializes `value` (the node at `at` in `doc`) into `T`. On failure the diagnostic points
/// at the innermost field serde was reading, so a wrong type in `timeout_seconds` is reported on
/// that key's line, and an unknown key on its own line.
pub(crate) fn decode<T: DeserializeOwned>(
    doc: &YamlDoc,
    at: &str,
    value: &Value,
) -> Result<T, Diagnostic> {
    serde_path_to_error::deserialize(value).map_err(|err| {
        let mut ptr = at.to_string();
        for segment in err.path().iter() {
            match segment {
                serde_path_to_error::Segment::Seq { index } => {
                    pointer::push_token(&mut ptr, &index.to_string())
                }
                serde_path_to_error::Segment::Map { key } => pointer::push_token(&mut ptr, key),
                serde_path_to_error::Segment::Enum { .. }
                | serde_path_to_error::Segment::Unknown => {}
            }
        }
        let message = err.into_inner().to_string();
        // Name the missing field itself (`write_file.directory`); its position falls back to
        // the mapping that lacks it.
        if let Some(field) = message
            .strip_prefix("missing field `")
            .and_then(|rest| rest.strip_suffix('`'))
        {
            pointer::push_token(&mut ptr, field);
        }
        doc.diagnostic(&ptr, message)
    })
}

/// Reports every key of `map` (the mapping at `at`) that is not in `allowed`, each on its own
/// line, so that a file with several typos gets them all in one run.
pub(crate) fn check_keys(
    doc: &YamlDoc,
    at: &str,
    map: &serde_json::Map<String, Value>,
    allowed: &[&str],
    diags: &mut Vec<Diagnostic>,
) {
    for key in map.keys() {
        if !allowed.contains(&key.as_str()) {
            let expected: Vec<String> = allowed.iter().map(|k| format!("`{k}`")).collect();
            diags.push(doc.diagnostic(
                &pointer::join(at, key),
                format!(
                    "unknown field `{key}`, expected one of {}",
                    expected.join(", ")
                ),
            ));
        }
    }
}

/// Names of a JSON value's type, for "expected a mapping, found a list" messages.
pub(crate) fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "nothing (null)",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use std::path::Path;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        count: u32,
        name: String,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        items: Vec<Inner>,
    }

    fn doc(text: &str) -> YamlDoc {
        YamlDoc::parse(text, Path::new("t.yaml")).unwrap()
    }

    #[test]
    fn wrong_type_is_located_at_the_field() {
        let d = doc("items:\n  - count: 1\n    name: a\n  - name: b\n    count: lots\n");
        let err = decode::<Outer>(&d, "", d.value()).unwrap_err();
        assert_eq!(err.field, "items[1].count");
        assert_eq!(err.line, Some(5));
        assert!(err.message.contains("invalid type"), "{}", err.message);
    }

    #[test]
    fn unknown_and_missing_fields() {
        let d = doc("items:\n  - count: 1\n    name: a\n    colour: red\n");
        let err = decode::<Outer>(&d, "", d.value()).unwrap_err();
        assert_eq!(err.line, Some(4), "{err}");
        assert!(
            err.message.contains("unknown field `colour`"),
            "{}",
            err.message
        );

        let d = doc("items:\n  - count: 1\n");
        let err = decode::<Outer>(&d, "", d.value()).unwrap_err();
        assert_eq!(err.field, "items[0].name");
        assert_eq!(err.line, Some(2));
        assert!(
            err.message.contains("missing field `name`"),
            "{}",
            err.message
        );
    }
}
