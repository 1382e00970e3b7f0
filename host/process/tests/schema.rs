//! The process and connection JSON Schemas.

use berth_process::{connection_schema, process_schema, ConnectionSchema, StartSchema, STEP_TYPES};
use serde_json::{json, Value};

/// Every `$ref` in `schema`, which must all resolve inside `root`.
fn check_refs(root: &Value, node: &Value) {
    match node {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref") {
                let ptr = r
                    .strip_prefix('#')
                    .unwrap_or_else(|| panic!("non-local ref {r}"));
                assert!(root.pointer(ptr).is_some(), "dangling $ref {r}");
            }
            map.values().for_each(|v| check_refs(root, v));
        }
        Value::Array(items) => items.iter().for_each(|v| check_refs(root, v)),
        _ => {}
    }
}

fn starts() -> Vec<StartSchema> {
    vec![
        StartSchema {
            connector: "http-server-legacy".into(),
            operation: json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object",
                "properties": {"auth": {"$ref": "#/$defs/Auth"}, "self": {"$ref": "#"}},
                "$defs": {"Auth": {"type": "string"}},
            }),
            needs_connection: true,
        },
        StartSchema {
            connector: "as2-shared".into(),
            operation: json!({"type": "object"}),
            needs_connection: false,
        },
    ]
}

#[test]
fn process_schema_shape() {
    let s = process_schema(&starts());
    assert_eq!(s["$schema"], "https://json-schema.org/draft/2020-12/schema");
    assert_eq!(s["required"], json!(["name", "start"]));
    assert_eq!(s["additionalProperties"], false);
    check_refs(&s, &s);

    let branches = s["properties"]["start"]["oneOf"].as_array().unwrap();
    assert_eq!(branches.len(), 2);
    assert_eq!(
        branches[0]["properties"]["connector"]["const"],
        "http-server-legacy"
    );
    assert_eq!(branches[0]["required"], json!(["connector", "connection"]));
    assert!(branches[1]["properties"].get("connection").is_none());
    let op_ref = branches[0]["properties"]["operation"]["$ref"]
        .as_str()
        .unwrap();
    let op = s.pointer(op_ref.strip_prefix('#').unwrap()).unwrap();
    assert_eq!(
        op["properties"]["auth"]["$ref"],
        format!("{op_ref}/$defs/Auth")
    );
    assert_eq!(op["properties"]["self"]["$ref"], op_ref);
    assert!(op.get("$schema").is_none());
}

#[test]
fn steps_come_from_the_step_types_with_descriptions() {
    let s = process_schema(&[]);
    check_refs(&s, &s);
    assert_eq!(s["properties"]["steps"]["type"], "array");
    let step = &s["$defs"]["Step"];
    let names: Vec<&str> = step["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["required"][0].as_str().unwrap())
        .collect();
    // One branch per registered step type, in the order they are listed to users.
    assert_eq!(names, STEP_TYPES);
    for b in step["oneOf"].as_array().unwrap() {
        assert!(
            b["description"].as_str().is_some_and(|d| !d.is_empty()),
            "{b}"
        );
    }
    let write_file = &s["$defs"]["WriteFileSpec"];
    assert!(write_file["properties"]["directory"]["description"]
        .as_str()
        .unwrap()
        .contains("deployment folder"));
    assert_eq!(write_file["required"], json!(["directory", "file_name"]));
    assert_eq!(write_file["additionalProperties"], false);
    let text = s.to_string();
    // Nested step lists refer back to the step schema.
    assert!(
        s["$defs"]["CaseSpec"]["properties"]["steps"]["items"]["$ref"] == "#/$defs/Step",
        "{text}"
    );
    // Start without plugins is still described.
    assert_eq!(s["properties"]["start"]["required"], json!(["connector"]));
}

#[test]
fn connection_schema_shape() {
    let s = connection_schema(&[ConnectionSchema {
        connector: "http-server-legacy".into(),
        settings: json!({"type": "object", "properties": {"tls": {"$ref": "#/$defs/Tls"}}, "$defs": {"Tls": {"type": "object"}}}),
    }]);
    check_refs(&s, &s);
    assert_eq!(s["$schema"], "https://json-schema.org/draft/2020-12/schema");
    let b = &s["oneOf"][0];
    assert_eq!(b["properties"]["connector"]["const"], "http-server-legacy");
    assert_eq!(b["required"], json!(["name", "connector"]));
    let generic = connection_schema(&[]);
    assert_eq!(generic["properties"]["settings"]["type"], "object");
}

#[test]
#[ignore = "prints the schema for a person to read"]
fn print_schema() {
    println!(
        "{}",
        serde_json::to_string_pretty(&process_schema(&starts())).unwrap()
    );
}
