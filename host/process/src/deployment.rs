//! A deployment folder: its connections and processes, loaded and checked together.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::connection::{load_connection, ConnectionDef};
use crate::diagnostic::Diagnostic;
use crate::process::{load_process, ProcessDef};

/// Everything deployed from one folder.
#[derive(Debug, Clone)]
pub struct Deployment {
    pub dir: PathBuf,
    pub connections: Vec<ConnectionDef>,
    pub processes: Vec<ProcessDef>,
}

impl Deployment {
    pub fn connection(&self, name: &str) -> Option<&ConnectionDef> {
        self.connections.iter().find(|c| c.name == name)
    }

    pub fn process(&self, name: &str) -> Option<&ProcessDef> {
        self.processes.iter().find(|p| p.name == name)
    }
}

/// Loads `DIR/connections/*.yaml|*.yml` and `DIR/processes/*.yaml|*.yml` (in file name order;
/// a missing subfolder is empty) and checks them together: unique names, known connections,
/// and a connection made for the process's connector. Every problem in every file is returned.
pub fn load_deployment(dir: &Path) -> Result<Deployment, Vec<Diagnostic>> {
    let (deployment, diags) = load_deployment_partial(dir);
    if diags.is_empty() {
        Ok(deployment)
    } else {
        Err(diags)
    }
}

/// Like [`load_deployment`], but also returns the files that did load beside the problems, so
/// that a caller can check those further (against plugins) and report everything at once.
pub fn load_deployment_partial(dir: &Path) -> (Deployment, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    if !dir.is_dir() {
        let empty = Deployment {
            dir: dir.to_path_buf(),
            connections: Vec::new(),
            processes: Vec::new(),
        };
        return (
            empty,
            vec![Diagnostic::file_level(dir, "deployment folder not found")],
        );
    }
    let mut connections = Vec::new();
    let mut broken_connections = false;
    for path in yaml_files(&dir.join("connections"), &mut diags) {
        match load_connection(&path) {
            Ok(c) => connections.push(c),
            Err(d) => {
                broken_connections = true;
                diags.extend(d);
            }
        }
    }
    let mut processes = Vec::new();
    for path in yaml_files(&dir.join("processes"), &mut diags) {
        match load_process(&path) {
            Ok(p) => processes.push(p),
            Err(d) => diags.extend(d),
        }
    }

    let mut seen: HashMap<&str, &Path> = HashMap::new();
    for c in &connections {
        if let Some(first) = seen.insert(&c.name, &c.file) {
            diags.push(c.field_diagnostic(
                "name",
                format!(
                    "connection name `{}` is also used by {}",
                    c.name,
                    first.display()
                ),
            ));
        }
    }
    let mut seen: HashMap<&str, &Path> = HashMap::new();
    for p in &processes {
        if let Some(first) = seen.insert(&p.name, &p.file) {
            diags.push(p.doc.diagnostic(
                "/name",
                format!(
                    "process name `{}` is also used by {}",
                    p.name,
                    first.display()
                ),
            ));
        }
    }
    for p in &processes {
        check_connection(p, &connections, broken_connections, &mut diags);
    }

    let deployment = Deployment {
        dir: dir.to_path_buf(),
        connections,
        processes,
    };
    (deployment, diags)
}

/// `broken` says some connection files did not load, so the name may be in one of them.
fn check_connection(
    p: &ProcessDef,
    connections: &[ConnectionDef],
    broken: bool,
    diags: &mut Vec<Diagnostic>,
) {
    let Some(wanted) = &p.start.connection else {
        return;
    };
    match connections.iter().find(|c| &c.name == wanted) {
        Some(c) if c.connector != p.start.connector => diags.push(p.start_diagnostic(
            "connection",
            format!(
                "connection `{wanted}` ({}) is for connector `{}`, but this process starts with `{}`",
                c.file.display(),
                c.connector,
                p.start.connector
            ),
        )),
        Some(_) => {}
        None => {
            let mut known = if connections.is_empty() {
                "no connections are defined (put them in connections/*.yaml)".to_string()
            } else {
                let names: Vec<&str> = connections.iter().map(|c| c.name.as_str()).collect();
                format!("known connections: {}", names.join(", "))
            };
            if broken {
                known.push_str(" (connection files with errors were skipped)");
            }
            diags.push(p.start_diagnostic(
                "connection",
                format!("unknown connection `{wanted}`; {known}"),
            ));
        }
    }
}

/// The `.yaml`/`.yml` files of a folder, sorted by file name. A missing folder has none.
fn yaml_files(folder: &Path, diags: &mut Vec<Diagnostic>) -> Vec<PathBuf> {
    let entries = match std::fs::read_dir(folder) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
        Err(e) => {
            diags.push(Diagnostic::file_level(
                folder,
                format!("cannot list the folder: {e}"),
            ));
            return Vec::new();
        }
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.is_file() && matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"))
        })
        .collect();
    files.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    files
}
