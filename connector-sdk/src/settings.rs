//! Settings sections: from the JSON the host passes to typed values, with problems that carry a
//! JSON pointer the host maps back to a line of the user's YAML.

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_path_to_error::Segment;

use crate::abi::Problem;

/// The settings of a connector that has none (no connection section, or no operation
/// settings): an empty object, in which every field is refused.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoSettings {}

/// Deserialize a settings section, or say where and why it does not fit `T`.
pub fn parse<T: DeserializeOwned>(json: &str) -> Result<T, Problem> {
    let value: serde_json::Value = serde_json::from_str(json)
        .map_err(|e| problem("", format!("settings are not valid JSON: {e}")))?;
    serde_path_to_error::deserialize(&value).map_err(|e| {
        let pointer = pointer_of(e.path());
        problem(&pointer, e.into_inner().to_string())
    })
}

/// A problem at a JSON pointer.
pub fn problem(pointer: &str, message: impl Into<String>) -> Problem {
    Problem {
        pointer: pointer.into(),
        message: message.into().into(),
    }
}

/// The JSON Schema of a settings type, as JSON text.
pub fn schema_json<T: JsonSchema>() -> String {
    serde_json::to_string(&schemars::schema_for!(T)).expect("a JSON Schema serializes")
}

fn pointer_of(path: &serde_path_to_error::Path) -> String {
    let mut pointer = String::new();
    for segment in path.iter() {
        pointer.push('/');
        match segment {
            Segment::Seq { index } => pointer.push_str(&index.to_string()),
            Segment::Map { key } => pointer.push_str(&key.replace('~', "~0").replace('/', "~1")),
            Segment::Enum { variant } => pointer.push_str(variant),
            Segment::Unknown => pointer.push('?'),
        }
    }
    // serde_path_to_error ends the path at the field it was reading; a trailing `?` only says
    // it could not tell which, so the parent is the honest position.
    pointer.trim_end_matches("/?").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize, JsonSchema, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Op {
        path: String,
        methods: Vec<Method>,
    }

    #[derive(Deserialize, JsonSchema, Debug)]
    #[allow(dead_code)]
    enum Method {
        #[serde(rename = "GET")]
        Get,
        #[serde(rename = "POST")]
        Post,
    }

    #[test]
    fn wrong_element_is_reported_at_its_index() {
        let err = parse::<Op>(r#"{"path":"/a","methods":["GET","PATCH"]}"#).unwrap_err();
        assert_eq!(err.pointer.as_str(), "/methods/1");
        assert!(err.message.contains("PATCH"), "{}", err.message);
    }

    #[test]
    fn unknown_field_is_reported() {
        let err = parse::<Op>(r#"{"path":"/a","methods":[],"mehtods":1}"#).unwrap_err();
        assert!(
            err.message.contains("unknown field `mehtods`"),
            "{}",
            err.message
        );
    }

    #[test]
    fn no_settings_is_an_empty_object() {
        assert_eq!(parse::<NoSettings>("{}").unwrap(), NoSettings {});
        let err = parse::<NoSettings>(r#"{"port":1}"#).unwrap_err();
        assert_eq!(err.pointer.as_str(), "/port");
        assert!(
            err.message.contains("unknown field `port`"),
            "{}",
            err.message
        );
        let schema = serde_json::to_value(schemars::schema_for!(NoSettings)).unwrap();
        assert_eq!(schema["type"], "object", "{schema}");
        assert_eq!(schema["additionalProperties"], false, "{schema}");
        assert!(schema["properties"]
            .as_object()
            .is_none_or(|p| p.is_empty()));
    }

    #[test]
    fn missing_field_is_reported_at_the_section() {
        let err = parse::<Op>(r#"{"methods":[]}"#).unwrap_err();
        assert_eq!(err.pointer.as_str(), "");
        assert!(err.message.contains("missing field `path`"));
    }
}
