//! A password or other secret from the settings: read like a string, shown as `***` by `Debug`
//! and `Display`, so that a settings struct holding one simply derives `Debug` and can be logged.

use std::borrow::Cow;

use abi_stable::std_types::RString;
use abi_stable::StableAbi;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Deserializer};

/// A secret string. The only way to its text is [`Secret::expose`], which says at the call site
/// that the text is about to leave (to openssl, to a comparison), never to a log line.
///
/// It crosses the ABI too (a PKCS#12 password the host needs to bind a port), so it is
/// `#[repr(transparent)]` over an [`RString`].
#[repr(transparent)]
#[derive(StableAbi, Clone, Default, PartialEq, Eq)]
pub struct Secret(RString);

impl Secret {
    pub fn new(text: impl Into<RString>) -> Self {
        Self(text.into())
    }

    /// The secret's text, for the code that uses it (never for a log line).
    pub fn expose(&self) -> &str {
        self.0.as_str()
    }
}

impl From<&str> for Secret {
    fn from(text: &str) -> Self {
        Self::new(text)
    }
}

impl From<String> for Secret {
    fn from(text: String) -> Self {
        Self::new(text)
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Self::from)
    }
}

/// Users write a secret as a plain string; the schema says so and nothing more.
impl JsonSchema for Secret {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        "Secret".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        String::json_schema(generator)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_text() {
        let secret: Secret = serde_json::from_str("\"s3cret\"").unwrap();
        assert_eq!(secret.expose(), "s3cret");
        assert_eq!(format!("{secret:?}"), "***");
        assert_eq!(format!("{secret}"), "***");
        assert_eq!(format!("{:?}", Some(&secret)), "Some(***)");
    }

    #[test]
    fn schema_is_a_string() {
        let schema = serde_json::to_value(schemars::schema_for!(Secret)).unwrap();
        assert_eq!(schema["type"], "string", "{schema}");
    }
}
