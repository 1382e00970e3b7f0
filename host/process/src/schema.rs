//! JSON Schemas (draft 2020-12) of process and connection files, for `berth schema` and the
//! YAML language server in users' editors. Step schemas come from the step types; the start
//! and connection sections come from the loaded plugins.

use schemars::generate::SchemaSettings;
use serde_json::{json, Map, Value};

use crate::pointer;
use crate::steps::StepSpec;

/// A listen connector's operation settings, as its plugin describes them.
#[derive(Debug, Clone, PartialEq)]
pub struct StartSchema {
    pub connector: String,
    /// JSON Schema of `start.operation`.
    pub operation: Value,
    /// Whether `start.connection` must name a connection (false for connectors that use the
    /// host's shared web server: for them `connection` is not allowed).
    pub needs_connection: bool,
}

/// A connector's connection settings, as its plugin describes them.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectionSchema {
    pub connector: String,
    /// JSON Schema of `settings`.
    pub settings: Value,
}

const DIALECT: &str = "https://json-schema.org/draft/2020-12/schema";
const NAME_PATTERN: &str = "^[A-Za-z0-9._-]+$";

fn name_schema(what: &str) -> Value {
    json!({
        "type": "string",
        "pattern": NAME_PATTERN,
        "description": format!("Name of this {what}, unique in the deployment: letters, digits, `.`, `_`, `-`."),
    })
}

/// The whole process-file schema.
pub fn process_schema(starts: &[StartSchema]) -> Value {
    let mut generator = SchemaSettings::draft2020_12()
        .for_deserialize()
        .into_generator();
    let steps = generator.subschema_for::<Vec<StepSpec>>().to_value();
    let mut defs = generator.take_definitions(true);

    let start = if starts.is_empty() {
        // No plugin loaded: still describe the shape so an editor can help with the rest.
        json!({
            "type": "object",
            "additionalProperties": false,
            "required": ["connector"],
            "properties": {
                "connector": {"type": "string", "description": "The listen connector that receives documents."},
                "connection": {"type": "string", "description": "Name of the connection (from connections/*.yaml) this listener uses."},
                "operation": {"type": "object", "description": "The connector's operation settings."},
            },
        })
    } else {
        let branches: Vec<Value> = starts
            .iter()
            .map(|s| {
                let operation = embed(&mut defs, &format!("operation.{}", s.connector), &s.operation);
                let mut properties = Map::new();
                properties.insert(
                    "connector".into(),
                    json!({"const": s.connector, "description": "The listen connector that receives documents."}),
                );
                let mut required = vec![json!("connector")];
                if s.needs_connection {
                    properties.insert(
                        "connection".into(),
                        json!({"type": "string", "pattern": NAME_PATTERN, "description": format!("Name of the `{}` connection (from connections/*.yaml) this listener uses.", s.connector)}),
                    );
                    required.push(json!("connection"));
                }
                properties.insert("operation".into(), operation);
                json!({
                    "type": "object",
                    "additionalProperties": false,
                    "required": required,
                    "properties": properties,
                })
            })
            .collect();
        json!({"oneOf": branches})
    };

    let mut start = start;
    if let Value::Object(m) = &mut start {
        m.insert(
            "description".into(),
            json!("The listener that receives documents for this process."),
        );
    }
    let mut steps = steps;
    if let Value::Object(m) = &mut steps {
        m.insert(
            "description".into(),
            json!("Steps run, in order, on each received document."),
        );
    }
    json!({
        "$schema": DIALECT,
        "title": "berth process",
        "description": "A berth process: the listener that receives documents and the steps that handle each one.",
        "type": "object",
        "additionalProperties": false,
        "required": ["name", "start"],
        "properties": {
            "name": name_schema("process"),
            "description": {"type": "string", "description": "Free text describing the process."},
            "start": start,
            "steps": steps,
        },
        "$defs": Value::Object(defs),
    })
}

/// The whole connection-file schema: one branch per connector, linking `connector` to its
/// `settings`.
pub fn connection_schema(conns: &[ConnectionSchema]) -> Value {
    let mut defs = Map::new();
    let connector_doc = "The connector these settings are for.";
    let settings_doc = "The connector's connection settings (port, TLS, authentication...).";
    let body = if conns.is_empty() {
        json!({
            "type": "object",
            "additionalProperties": false,
            "required": ["name", "connector"],
            "properties": {
                "name": name_schema("connection"),
                "connector": {"type": "string", "description": connector_doc},
                "settings": {"type": "object", "description": settings_doc},
            },
        })
    } else {
        let branches: Vec<Value> = conns
            .iter()
            .map(|c| {
                let mut settings =
                    embed(&mut defs, &format!("settings.{}", c.connector), &c.settings);
                if let Value::Object(m) = &mut settings {
                    m.insert("description".into(), json!(settings_doc));
                }
                json!({
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["name", "connector"],
                    "properties": {
                        "name": name_schema("connection"),
                        "connector": {"const": c.connector, "description": connector_doc},
                        "settings": settings,
                    },
                })
            })
            .collect();
        json!({"oneOf": branches})
    };
    let mut root = json!({
        "$schema": DIALECT,
        "title": "berth connection",
        "description": "A berth connection: settings of a connector, shared by the processes that name it.",
    });
    if let (Value::Object(r), Value::Object(b)) = (&mut root, body) {
        r.extend(b);
        if !defs.is_empty() {
            r.insert("$defs".into(), Value::Object(defs));
        }
    }
    root
}

/// Stores a plugin's schema under `$defs/<key>` and returns a `$ref` to it. The plugin wrote
/// its local references (`#/$defs/Tls`) against its own root, so they are rewritten to point
/// inside the stored copy; its `$schema`/`$id` go, as they would re-root those references.
fn embed(defs: &mut Map<String, Value>, key: &str, schema: &Value) -> Value {
    let mut base = String::from("#/$defs");
    pointer::push_token(&mut base, key);
    let mut copy = schema.clone();
    if let Value::Object(m) = &mut copy {
        m.remove("$schema");
        m.remove("$id");
    }
    rebase_refs(&mut copy, &base);
    defs.insert(key.to_string(), copy);
    json!({ "$ref": base })
}

fn rebase_refs(value: &mut Value, base: &str) {
    match value {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                match v {
                    Value::String(r) if k == "$ref" && r.starts_with('#') => {
                        *r = format!("{base}{}", &r[1..]);
                    }
                    other => rebase_refs(other, base),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| rebase_refs(v, base)),
        _ => {}
    }
}
