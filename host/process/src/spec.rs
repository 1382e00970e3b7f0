//! The step types as users write them. These types are the single source of the step JSON
//! Schema (their doc comments are the descriptions an editor shows) and of step decoding.

use std::borrow::Cow;
use std::collections::BTreeMap;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Serialize};

/// The step type names, in the order they are listed to users.
pub(crate) const STEP_TYPES: &[&str] = &[
    "set_properties",
    "route",
    "write_file",
    "http_send",
    "log",
    "stop",
    "return",
];

/// One step of a process: a mapping with exactly one key, the step type.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
#[schemars(rename = "Step")]
pub enum StepSpec {
    /// Set dynamic properties of the document: each key is a property name (letters, digits,
    /// `.`, `_`, `-`), each value a template such as `${as2.from}-${file_name}`.
    SetProperties(BTreeMap<String, String>),
    /// Run the steps of the first case that matches a property's value, then go on after the
    /// route step.
    Route(RouteSpec),
    /// Write the document's payload to a file, atomically. Sets the property `file.path`.
    WriteFile(WriteFileSpec),
    /// Send the document's payload over HTTP. A status other than 2xx, or a transport error,
    /// fails the document. Sets the property `http_send.status`.
    HttpSend(HttpSendSpec),
    /// Write a log event carrying the process name and document id.
    Log(LogSpec),
    /// End the processing of this document, successfully. Write `stop: {}` or just `stop:`.
    Stop(Option<StopSpec>),
    /// Set the response that a synchronous listener sends back, and end the processing of
    /// this document. `return:` alone answers 200 with the payload.
    Return(Option<ReturnSpec>),
}

/// A list of steps nested in another step. It is decoded as raw values so that the loader can
/// report every problem in every nested step, while its schema is that of a list of steps.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(transparent)]
pub struct StepList(pub Vec<serde_json::Value>);

impl JsonSchema for StepList {
    fn schema_name() -> Cow<'static, str> {
        "StepList".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        generator.subschema_for::<Vec<StepSpec>>()
    }
}

/// Chooses steps by the value of one property.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RouteSpec {
    /// Name of the property whose value decides the route. A document that does not have this
    /// property matches no case and takes `default`.
    pub property: String,
    /// Cases, tried in order; the steps of the first one that matches run.
    pub cases: Vec<CaseSpec>,
    /// Steps run when no case matches. Without it, such a document just goes on after the route.
    #[serde(default)]
    pub default: StepList,
}

/// One case of a route: exactly one of `equals` or `regex`, and the steps to run.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("oneOf" = [{"required": ["equals"]}, {"required": ["regex"]}]))]
pub struct CaseSpec {
    /// Matches when the property's value is exactly this text. Quote numbers (`"850"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub equals: Option<String>,
    /// Matches when this regular expression (Rust `regex` syntax) finds a match anywhere in
    /// the property's value; use `^...$` to match the whole value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub regex: Option<String>,
    /// Steps run when this case matches.
    pub steps: StepList,
}

/// Writes the payload to a file.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WriteFileSpec {
    /// Folder to write into (a template, e.g. `data/inbox/${as2.from}`). A relative folder is
    /// resolved against the deployment folder; it is created if missing. Properties may add
    /// folders below it but never climb out with `..` or make it absolute.
    pub directory: String,
    /// Name of the file (a template, e.g. `${file_name}`). It is reduced to one safe file
    /// name: `/`, `\`, NUL and control characters become `_` and leading dots are dropped, so
    /// a property can never make the file land outside `directory`.
    pub file_name: String,
    /// What to do when a file of that name already exists.
    #[serde(default)]
    pub if_exists: IfExists,
}

/// Policy for an existing file of the same name.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum IfExists {
    /// Keep both: the new file gets `-1`, `-2`, ... before its extension.
    #[default]
    Unique,
    /// Replace the existing file (atomically: readers see the old or the new file, whole).
    Overwrite,
    /// Fail the document.
    Fail,
}

/// Sends the payload over HTTP.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpSendSpec {
    /// URL to send to (a template), `http://` or `https://`.
    pub url: String,
    /// HTTP method.
    #[serde(default)]
    pub method: HttpMethod,
    /// Request headers: name -> template.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Seconds to wait for the whole exchange before failing the document.
    #[serde(default = "default_timeout")]
    #[schemars(range(min = 1))]
    pub timeout_seconds: u64,
}

fn default_timeout() -> u64 {
    30
}

/// Method of an `http_send` request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum HttpMethod {
    #[default]
    POST,
    PUT,
}

/// Writes a log event.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LogSpec {
    /// The message (a template).
    pub message: String,
    /// Severity of the event.
    #[serde(default)]
    pub level: LogLevel,
}

/// Severity of a `log` event.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LogLevel {
    Debug,
    #[default]
    Info,
    Warn,
    Error,
}

/// `stop` takes no settings.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StopSpec {}

/// The response for a synchronous listener.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReturnSpec {
    /// HTTP status code of the response.
    #[serde(default = "default_status")]
    #[schemars(range(min = 100, max = 599))]
    pub status: u16,
    /// Response headers: name -> template.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Response body (a template). Without it, the body is the document's payload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub body: Option<String>,
}

fn default_status() -> u16 {
    200
}
