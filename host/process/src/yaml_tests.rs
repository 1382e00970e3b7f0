//! Tests of the YAML reader: typing, positions, anchors and the errors users hit.

use std::path::Path;

use serde_json::json;

use crate::yaml::YamlDoc;

fn parse(text: &str) -> YamlDoc {
    YamlDoc::parse(text, Path::new("f.yaml")).unwrap_or_else(|d| panic!("{d}"))
}

#[test]
fn values_and_types() {
    let d = parse("a: 1\nb: '1'\nc: \"true\"\nd: true\ne: ~\nf: [x, 2.5]\ng: !!str 12\nh: yes\n");
    assert_eq!(
        d.value(),
        &json!({"a": 1, "b": "1", "c": "true", "d": true, "e": null, "f": ["x", 2.5], "g": "12", "h": "yes"})
    );
}

#[test]
fn positions_are_one_based_and_at_keys() {
    let text =
        "name: x\nsteps:\n  - write_file:\n      directory: out\n  - log:\n      message: hi\n";
    let d = parse(text);
    assert_eq!(d.position(""), Some((1, 1)));
    assert_eq!(d.position("/name"), Some((1, 1)));
    assert_eq!(d.position("/steps"), Some((2, 1)));
    assert_eq!(d.position("/steps/0"), Some((3, 5)));
    assert_eq!(d.position("/steps/0/write_file"), Some((3, 5)));
    assert_eq!(d.position("/steps/0/write_file/directory"), Some((4, 7)));
    assert_eq!(d.position("/steps/1/log/message"), Some((6, 7)));
    // Missing nodes fall back to the nearest ancestor.
    assert_eq!(d.position("/steps/0/write_file/file_name"), Some((3, 5)));
    assert_eq!(d.position("steps/1/log/level"), Some((5, 5)));
    let diag = d.diagnostic("/steps/1/log/level", "missing");
    assert_eq!(diag.to_string(), "f.yaml:5:5: steps[1].log.level: missing");
}

#[test]
fn anchors_and_aliases() {
    let d = parse("base: &h {a: 1, b: [x]}\ncopy: *h\nname: &n joe\nother: *n\n");
    assert_eq!(d.value()["copy"], json!({"a": 1, "b": ["x"]}));
    assert_eq!(d.value()["other"], json!("joe"));
    // Inside an alias there is no own position: the alias's key is used.
    assert_eq!(d.position("/copy/b/0"), Some((2, 1)));
}

#[test]
fn duplicate_keys_are_errors() {
    let err = YamlDoc::parse("a: 1\nb:\n  c: 1\n  c: 2\n", Path::new("f.yaml")).unwrap_err();
    assert_eq!(err.line, Some(4));
    assert_eq!(err.column, Some(3));
    assert!(
        err.message.contains("duplicate key `c` (first at line 3)"),
        "{err}"
    );
}

#[test]
fn multiple_documents_are_errors() {
    let err = YamlDoc::parse("a: 1\n---\nb: 2\n", Path::new("f.yaml")).unwrap_err();
    assert_eq!(err.line, Some(2), "{err}");
    assert!(err.message.contains("second YAML document"), "{err}");
    // A single document that starts with `---` is fine.
    assert_eq!(parse("---\na: 1\n").value(), &json!({"a": 1}));
}

#[test]
fn syntax_errors_have_positions() {
    let err = YamlDoc::parse("a: 1\nb: [1, 2\nc: 3\n", Path::new("f.yaml")).unwrap_err();
    assert!(err.line.is_some() && err.column.is_some(), "{err}");
    let err = YamlDoc::parse("a: 1\n  b: 2\n", Path::new("f.yaml")).unwrap_err();
    assert_eq!(err.line, Some(2), "{err}");
    let err = YamlDoc::parse("a: *nope\n", Path::new("f.yaml")).unwrap_err();
    assert_eq!(err.line, Some(1), "{err}");
}

#[test]
fn complex_keys_are_errors() {
    let err = YamlDoc::parse("? [a, b]\n: 1\n", Path::new("f.yaml")).unwrap_err();
    assert_eq!(err.line, Some(1), "{err}");
}

#[test]
fn empty_file_is_null() {
    assert_eq!(parse("").value(), &serde_json::Value::Null);
    assert_eq!(
        parse("# only a comment\n").value(),
        &serde_json::Value::Null
    );
}

#[test]
fn alias_bombs_are_refused() {
    let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..9 {
        let prev = format!("*a{}", i - 1);
        let row = [prev.as_str(); 10].join(", ");
        text.push_str(&format!("a{i}: &a{i} [{row}]\n"));
    }
    let err = YamlDoc::parse(&text, Path::new("f.yaml")).unwrap_err();
    assert!(err.message.contains("aliases expand to more than"), "{err}");
    assert_eq!(err.line, Some(6), "{err}");
}
