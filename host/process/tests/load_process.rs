//! Loading process files: every diagnostic with its exact line and field.

mod common;

use berth_process::STEP_TYPES;
use common::{at, problems, process, render};

const FULL: &str = r#"name: orders-inbound
description: Orders from ACME
start:
  connector: http-server-legacy
  connection: http-8081
  operation:
    path: /orders
    methods: [POST, PUT]
steps:
  - set_properties:
      partner: "${as2.from:-unknown}"
  - route:
      property: partner
      cases:
        - equals: ACME
          steps:
            - log: {message: "from ACME", level: warn}
        - regex: "^GLOBEX-[0-9]+$"
          steps:
            - stop:
      default:
        - write_file:
            directory: out/orders
            file_name: "${file_name}"
            if_exists: overwrite
  - http_send:
      url: "http://127.0.0.1:9/in/${partner}"
      method: PUT
      headers: {X-Partner: "${partner}"}
      timeout_seconds: 5
  - stop: {}
  - return:
      status: 201
      headers: {Content-Type: text/plain}
      body: "ok ${partner}"
"#;

#[test]
fn a_full_process_loads() {
    let dir = tempfile::tempdir().unwrap();
    let p = process(dir.path(), FULL);
    assert_eq!(p.name, "orders-inbound");
    assert_eq!(p.description.as_deref(), Some("Orders from ACME"));
    assert_eq!(p.start.connector, "http-server-legacy");
    assert_eq!(p.start.connection.as_deref(), Some("http-8081"));
    assert_eq!(p.start.operation["methods"][1], "PUT");
    let labels: Vec<_> = p.steps.iter().map(|s| s.label().to_string()).collect();
    assert_eq!(
        labels,
        [
            "steps[0] set_properties",
            "steps[1] route",
            "steps[2] http_send",
            "steps[3] stop",
            "steps[4] return"
        ]
    );
    let nested: Vec<_> = p.steps[1].nested().map(|s| s.label().to_string()).collect();
    assert_eq!(
        nested,
        [
            "steps[1].route.cases[0].steps[0] log",
            "steps[1].route.cases[1].steps[0] stop",
            "steps[1].route.default[0] write_file"
        ]
    );
}

#[test]
fn plugin_pointers_map_to_lines() {
    let dir = tempfile::tempdir().unwrap();
    let p = process(dir.path(), FULL);
    let d = p.operation_diagnostic("/methods/1", "PUT is not allowed here");
    assert_eq!((d.line, d.column), (Some(8), Some(21)));
    assert_eq!(d.field, "start.operation.methods[1]");
    assert!(
        d.to_string()
            .ends_with("p.yaml:8:21: start.operation.methods[1]: PUT is not allowed here"),
        "{d}"
    );
    let d = p.operation_diagnostic("/missing", "required");
    assert_eq!(
        (d.line, d.field.as_str()),
        (Some(6), "start.operation.missing")
    );
    let d = p.operation_diagnostic("", "bad");
    assert_eq!((d.line, d.field.as_str()), (Some(6), "start.operation"));
    let d = p.start_diagnostic("connector", "no such connector");
    assert_eq!((d.line, d.field.as_str()), (Some(4), "start.connector"));
}

#[test]
fn operation_defaults_to_empty_mapping() {
    let dir = tempfile::tempdir().unwrap();
    let p = process(dir.path(), "name: a\nstart:\n  connector: as2-shared\n");
    assert_eq!(p.start.operation, serde_json::json!({}));
    assert_eq!(p.start.connection, None);
    assert!(p.steps.is_empty());
    let p = process(
        dir.path(),
        "name: a\nstart:\n  connector: x\n  operation:\nsteps: []\n",
    );
    assert_eq!(p.start.operation, serde_json::json!({}));
}

#[test]
fn unknown_top_level_keys_and_missing_fields() {
    let dir = tempfile::tempdir().unwrap();
    let d = problems(
        dir.path(),
        "nmae: a\nstart:\n  connector: x\n  conection: y\nstep: []\n",
    );
    assert_eq!(d.len(), 4, "{}", render(&d));
    assert_eq!(at(&d, "nmae").line, Some(1));
    assert!(at(&d, "nmae")
        .message
        .contains("unknown field `nmae`, expected one of `name`"));
    assert_eq!(at(&d, "step").line, Some(5));
    assert_eq!(at(&d, "name").message, "missing field `name`");
    assert_eq!(at(&d, "start.conection").line, Some(4));
    assert!(at(&d, "start.conection")
        .message
        .contains("unknown field `conection`"));
}

#[test]
fn wrong_types() {
    let dir = tempfile::tempdir().unwrap();
    let d = problems(
        dir.path(),
        "name: [a]\ndescription: 3\nstart: x\nsteps: {a: 1}\n",
    );
    assert_eq!(d.len(), 4, "{}", render(&d));
    assert_eq!(at(&d, "name").line, Some(1));
    assert!(at(&d, "name").message.contains("expected a string"));
    assert_eq!(at(&d, "description").line, Some(2));
    assert_eq!(at(&d, "start").line, Some(3));
    assert_eq!(at(&d, "steps").line, Some(4));
    assert!(at(&d, "steps").message.contains("expected a list of steps"));

    let d = problems(dir.path(), "- a\n- b\n");
    assert_eq!(d[0].line, Some(1));
    assert!(
        d[0].message.contains("a process file is a mapping"),
        "{}",
        render(&d)
    );

    let d = problems(dir.path(), "name: a b\nstart: {connector: x}\n");
    assert!(at(&d, "name").message.contains("not a valid name"));
}

#[test]
fn step_problems_each_reported_with_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let text = r#"name: p
start: {connector: x}
steps:
  - write_file:
      file_name: a
  - write_fil:
      directory: x
  - http_send:
      url: http://h/
      timeout_seconds: soon
  - log: {message: hi, colour: red}
  - route:
      property: p
      cases:
        - regex: "(unclosed"
          steps: []
        - equals: a
          regex: b
          steps: []
        - equals: c
          steps:
            - return: {status: 42}
  - set_properties: {"bad name": x, good: "${oops"}
  - - nested list
  - {log: {message: a}, stop: {}}
  - stop: {now: true}
  - return
"#;
    let d = problems(dir.path(), text);
    let missing = at(&d, "steps[0].write_file.directory");
    assert_eq!(missing.line, Some(4));
    assert_eq!(missing.message, "missing field `directory`");
    let unknown = at(&d, "steps[1].write_fil");
    assert_eq!(unknown.line, Some(6));
    assert_eq!(
        unknown.message,
        format!(
            "unknown step type `write_fil`; known step types: {}",
            STEP_TYPES.join(", ")
        )
    );
    let t = at(&d, "steps[2].http_send.timeout_seconds");
    assert_eq!(t.line, Some(10));
    assert!(
        t.message.contains("invalid type: string \"soon\""),
        "{}",
        t.message
    );
    let colour = at(&d, "steps[3].log.colour");
    assert_eq!(colour.line, Some(11));
    let re = at(&d, "steps[4].route.cases[0].regex");
    assert_eq!(re.line, Some(15));
    assert!(re.message.starts_with("bad regular expression"));
    let both = at(&d, "steps[4].route.cases[1]");
    assert_eq!(both.line, Some(17));
    assert!(both.message.contains("exactly one of `equals` or `regex`"));
    let status = at(&d, "steps[4].route.cases[2].steps[0].return.status");
    assert_eq!(status.line, Some(22));
    assert_eq!(at(&d, "steps[5].set_properties.bad name").line, Some(23));
    let tmpl = at(&d, "steps[5].set_properties.good");
    assert!(tmpl.message.starts_with("bad template"), "{}", tmpl.message);
    assert_eq!(at(&d, "steps[6]").line, Some(24));
    let two = at(&d, "steps[7]");
    assert_eq!(two.line, Some(25));
    assert!(
        two.message.contains("found a mapping with 2 keys"),
        "{}",
        two.message
    );
    assert_eq!(at(&d, "steps[8].stop.now").line, Some(26));
    let bare = at(&d, "steps[9]");
    assert_eq!(bare.line, Some(27));
    assert!(bare.message.contains("write `return:`"), "{}", bare.message);
    assert_eq!(d.len(), 13, "{}", render(&d));
}

#[test]
fn every_step_type_written_without_settings_is_told_how() {
    let dir = tempfile::tempdir().unwrap();
    let steps: String = STEP_TYPES.iter().map(|t| format!("  - {t}\n")).collect();
    let text = format!("name: p\nstart: {{connector: x}}\nsteps:\n{steps}");
    let d = problems(dir.path(), &text);
    assert_eq!(d.len(), STEP_TYPES.len(), "{}", render(&d));
    for (i, kind) in STEP_TYPES.iter().enumerate() {
        let p = at(&d, &format!("steps[{i}]"));
        assert_eq!(p.line, Some(4 + i), "{kind}");
        assert_eq!(
            p.message,
            format!("write `{kind}:` followed by its settings (a step is a mapping with one key, the step type)")
        );
    }
}

#[test]
fn bad_enum_values_and_urls() {
    let dir = tempfile::tempdir().unwrap();
    let text = "name: p\nstart: {connector: x}\nsteps:\n  - http_send:\n      url: ftp://h/\n      method: GET\n  - http_send:\n      url: 'not a url'\n      headers: {'bad header': x}\n  - write_file: {directory: '', file_name: a, if_exists: replace}\n  - log: {message: x, level: loud}\n";
    let d = problems(dir.path(), text);
    assert_eq!(at(&d, "steps[0].http_send.method").line, Some(6));
    assert!(at(&d, "steps[0].http_send.method")
        .message
        .contains("expected `POST` or `PUT`"));
    assert!(at(&d, "steps[1].http_send.url")
        .message
        .starts_with("bad URL"));
    assert_eq!(
        at(&d, "steps[1].http_send.headers.bad header").line,
        Some(9)
    );
    assert_eq!(at(&d, "steps[2].write_file.if_exists").line, Some(10));
    assert!(at(&d, "steps[3].log.level")
        .message
        .contains("unknown variant `loud`"));
    // With the enum fixed, the URL scheme and empty directory are reported too.
    let text = "name: p\nstart: {connector: x}\nsteps:\n  - http_send:\n      url: ftp://h/\n  - write_file: {directory: '', file_name: a}\n";
    let d = problems(dir.path(), text);
    assert!(at(&d, "steps[0].http_send.url")
        .message
        .contains("scheme `ftp`"));
    assert_eq!(at(&d, "steps[1].write_file.directory").line, Some(6));
}

#[test]
fn yaml_errors_in_process_files() {
    let dir = tempfile::tempdir().unwrap();
    let d = problems(dir.path(), "name: a\nname: b\nstart: {connector: x}\n");
    assert_eq!(d.len(), 1);
    assert_eq!((d[0].line, d[0].column), (Some(2), Some(1)));
    assert!(d[0].message.contains("duplicate key `name`"));
    let d = problems(dir.path(), "name: a\nstart: {connector: x}\n---\nname: b\n");
    assert_eq!(d[0].line, Some(3));
    let d = problems(dir.path(), "name: a\nstart: {connector: x\n");
    assert!(d[0].line.is_some(), "{}", render(&d));
    let missing = berth_process::load_process(&dir.path().join("nope.yaml")).unwrap_err();
    assert!(missing[0].message.starts_with("cannot read the file"));
}

#[test]
fn anchors_reuse_steps() {
    let dir = tempfile::tempdir().unwrap();
    let text = "name: p\nstart: {connector: x}\nsteps:\n  - &w write_file: {directory: out, file_name: a}\n  - log: &l {message: hi}\n  - log: *l\n";
    let p = process(dir.path(), text);
    assert_eq!(p.steps.len(), 3);
}
