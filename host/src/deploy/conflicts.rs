//! Two operations claiming one route, or two listeners claiming one port: refused at deploy time,
//! naming both sides. The vendor only warns that this "results in conflicts"; a partner's
//! document landing in the wrong process is worse than a refused deployment.

use std::collections::BTreeMap;
use std::sync::Arc;

use berth_connector_sdk::abi::Listen;
use berth_process::{Diagnostic, ProcessDef};

use super::PlannedListener;
use crate::plugins::Plugin;

pub fn check_routes(
    plugin: &Plugin,
    kind: &str,
    connection: &str,
    processes: &[Arc<ProcessDef>],
    out: &mut Vec<Diagnostic>,
) {
    let mut claimed: BTreeMap<String, &ProcessDef> = BTreeMap::new();
    for process in processes {
        let claims = match plugin.claims(kind, &process.start.operation) {
            Ok(claims) => claims,
            Err(message) => {
                out.push(process.operation_diagnostic("", message));
                continue;
            }
        };
        for claim in claims {
            if let Some(first) = claimed.get(&claim) {
                let place = if connection.is_empty() {
                    "the shared web server".to_string()
                } else {
                    format!("connection `{connection}`")
                };
                out.push(process.operation_diagnostic(
                    "",
                    format!(
                        "route `{claim}` on {place} is already claimed by process `{}` ({}); \
                         each route belongs to one process",
                        first.name,
                        first.file.display()
                    ),
                ));
            } else {
                claimed.insert(claim, process);
            }
        }
    }
}

pub fn check_endpoints(listeners: &[PlannedListener], out: &mut Vec<Diagnostic>) {
    let mut ports: BTreeMap<u16, &PlannedListener> = BTreeMap::new();
    let mut prefixes: BTreeMap<&str, &PlannedListener> = BTreeMap::new();
    for listener in listeners {
        for endpoint in &listener.endpoints {
            let first = match endpoint.listen() {
                Some(Listen::Port { port, .. }) => ports.insert(*port, listener).map(|first| {
                    ports.insert(*port, first);
                    (first, format!("port {port}"))
                }),
                Some(Listen::Shared { path_prefix }) => prefixes
                    .insert(path_prefix.as_str(), listener)
                    .map(|first| {
                        prefixes.insert(path_prefix.as_str(), first);
                        (
                            first,
                            format!("path {path_prefix} of the shared web server"),
                        )
                    }),
                // Refused when the plan was made.
                None => None,
            };
            if let Some((first, what)) = first {
                if std::ptr::eq(first, listener) {
                    continue;
                }
                out.push(conflict(first, listener, &what));
            }
        }
    }
}

fn conflict(first: &PlannedListener, second: &PlannedListener, what: &str) -> Diagnostic {
    let names = |l: &PlannedListener| {
        l.processes
            .iter()
            .map(|p| format!("`{}`", p.name))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let process = &second.processes[0];
    Diagnostic {
        file: process.file.clone(),
        line: None,
        column: None,
        field: "start.connection".to_string(),
        message: format!(
            "{} (processes {}) and {} (processes {}) both listen on {what}; give one of them \
             another port",
            first.label(),
            names(first),
            second.label(),
            names(second)
        ),
    }
}
