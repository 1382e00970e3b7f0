//! Helpers shared by the integration tests: deployment folders in a temp dir.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use berth_process::{load_process, Diagnostic, ProcessDef};

/// Writes `text` to `dir/rel`, creating folders.
pub fn write(dir: &Path, rel: &str, text: &str) -> PathBuf {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap();
    path
}

/// Loads a process from text, panicking with the diagnostics on failure.
pub fn process(dir: &Path, text: &str) -> ProcessDef {
    let path = write(dir, "processes/p.yaml", text);
    load_process(&path).unwrap_or_else(|d| panic!("{}", render(&d)))
}

/// Loads a process that must fail and returns its diagnostics.
pub fn problems(dir: &Path, text: &str) -> Vec<Diagnostic> {
    let path = write(dir, "processes/p.yaml", text);
    match load_process(&path) {
        Ok(_) => panic!("expected diagnostics"),
        Err(d) => d,
    }
}

pub fn render(diags: &[Diagnostic]) -> String {
    diags.iter().map(|d| format!("{d}\n")).collect()
}

/// The single diagnostic whose field is `field`.
pub fn at<'a>(diags: &'a [Diagnostic], field: &str) -> &'a Diagnostic {
    let found: Vec<_> = diags.iter().filter(|d| d.field == field).collect();
    assert_eq!(found.len(), 1, "field {field} in:\n{}", render(diags));
    found[0]
}
