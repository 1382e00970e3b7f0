//! The deployment file loader of berth-process: `YamlDoc::parse` (YAML with positions), process
//! and connection files, a deployment folder checked as a whole, and `${property}` templates.
//!
//! Input: the text of one process file. berth-process loads files by path only, so each input
//! is written to `processes/fuzz.yaml` of a folder made once per fuzzing process, beside copies
//! of the shipped `connections/*.yaml`.
#![no_main]

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use berth_process::{
    load_connection, load_deployment_partial, Diagnostic, Properties, Template, YamlDoc,
};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// The deployment folder of this fuzzing process.
static DIR: LazyLock<PathBuf> = LazyLock::new(|| {
    // libFuzzer ends the process without running destructors: remove what earlier runs left.
    remove_stale_dirs();
    let dir = std::env::temp_dir().join(format!("{PREFIX}{}", std::process::id()));
    let connections = dir.join("connections");
    std::fs::create_dir_all(&connections).unwrap();
    std::fs::create_dir_all(dir.join("processes")).unwrap();
    for (name, text) in [
        (
            "as2-8080.yaml",
            include_str!("../../connections/as2-8080.yaml"),
        ),
        (
            "http-8081.yaml",
            include_str!("../../connections/http-8081.yaml"),
        ),
    ] {
        std::fs::write(connections.join(name), text).unwrap();
    }
    dir
});

const PREFIX: &str = "berth-fuzz-process-";

/// The folders of fuzzing processes that are gone (Linux: no `/proc/PID`).
fn remove_stale_dirs() {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix(PREFIX)) else {
            continue;
        };
        if pid.parse::<u32>().is_ok() && !Path::new("/proc").join(pid).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let dir = &*DIR;
    let file = dir.join("processes").join("fuzz.yaml");
    std::fs::write(&file, data).unwrap();

    // The folder as `berth run` loads it: the process (diagnostics, or a checked process), then
    // its connection checked against the shipped connections.
    let (deployment, diags) = load_deployment_partial(dir);
    diags.iter().for_each(|d| check(d, &file));
    match deployment.processes.as_slice() {
        [] => assert!(!diags.is_empty(), "a rejected process file says why"),
        [p] => {
            assert!(!p.name.is_empty());
            for step in &p.steps {
                walk_steps(step, 0);
            }
            // Plugins point into their operation settings; every such pointer is located.
            for pointer in pointers(&p.start.operation) {
                check(&p.operation_diagnostic(&pointer, "x"), &file);
            }
            check(&p.start_diagnostic("connector", "x"), &file);
        }
        more => panic!("{} processes from one file", more.len()),
    }
    assert_eq!(deployment.connections.len(), 2);
    // The same text as a connection file.
    match load_connection(&file) {
        Ok(c) => {
            for pointer in pointers(&c.settings) {
                check(&c.settings_diagnostic(&pointer, "x"), &file);
            }
        }
        Err(diags) => {
            assert!(!diags.is_empty());
            diags.iter().for_each(|d| check(d, &file));
        }
    }

    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(doc) = YamlDoc::parse(text, Path::new("fuzz.yaml")) {
        for pointer in pointers(doc.value()) {
            let d = doc.diagnostic(&pointer, "x");
            check(&d, Path::new("fuzz.yaml"));
        }
        // Pointers that are not in the document fall back to an ancestor (or nothing).
        let _ = doc.position("/no/such/field");
        let _ = doc.position("steps/0/write_file");
    }
    templates(text);
});

/// What every diagnostic must hold: the file, 1-based positions, and a one-line rendering.
fn check(d: &Diagnostic, file: &Path) {
    assert!(d.file == file || d.file.starts_with(&*DIR), "{d:?}");
    assert!(d.line.is_none_or(|l| l >= 1), "{d:?}");
    assert!(d.column.is_none_or(|c| c >= 1), "{d:?}");
    assert!(d.column.is_none() || d.line.is_some(), "{d:?}");
    let _ = d.to_string();
}

fn walk_steps(step: &berth_process::Step, depth: usize) {
    assert!(depth < 10_000);
    let _ = (step.label(), step.kind());
    for s in step.nested() {
        walk_steps(s, depth + 1);
    }
}

/// The JSON pointer of every node of `value` (at most a few thousand: inputs are small).
fn pointers(value: &Value) -> Vec<String> {
    fn go(value: &Value, at: &mut String, out: &mut Vec<String>) {
        out.push(at.clone());
        let len = at.len();
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    at.push('/');
                    at.push_str(&k.replace('~', "~0").replace('/', "~1"));
                    go(v, at, out);
                    at.truncate(len);
                }
            }
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    at.push_str(&format!("/{i}"));
                    go(v, at, out);
                    at.truncate(len);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    go(value, &mut String::new(), &mut out);
    out
}

/// Each line of the input as a template, rendered with and without its properties set.
fn templates(text: &str) {
    for line in text.lines().chain(std::iter::once(text)) {
        let Ok(t) = Template::parse(line) else {
            continue;
        };
        let names: Vec<String> = t.property_names().map(str::to_string).collect();
        let mut props = Properties::new();
        for name in &names {
            props.set(name.clone(), "v");
        }
        let rendered = t
            .render(&props)
            .unwrap_or_else(|e| panic!("{line:?} with every property set: {e}"));
        if !line.contains('$') {
            assert_eq!(rendered, line);
        }
        let _ = t.render(&Properties::new());
    }
}
