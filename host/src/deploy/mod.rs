//! From the files of a deployment folder to listeners ready to bind: every connection and
//! operation checked by its plugin, routes and ports checked for conflicts, listeners opened.
//!
//! Nothing here binds a socket, so `berth validate` runs exactly the same checks as `berth run`.

pub mod certs;
mod check;
mod conflicts;
#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use berth_connector_sdk::abi::Endpoint;
use berth_connector_sdk::module::ListenerBox;
use berth_process::{ConnectionDef, Deployment, Diagnostic, ProcessDef};

use crate::plugins::{Plugin, Registry};

pub use check::{check, check_deployment, deployment_dir, load_registry, report};

/// A listener opened by its plugin, not yet bound.
pub struct PlannedListener {
    /// The connection's name, or `None` for a shared-server connector.
    pub connection: Option<String>,
    pub kind: String,
    pub plugin: Arc<Plugin>,
    /// Call the plugin on the blocking pool.
    pub blocking: bool,
    /// The connection's settings as JSON (empty for shared-server connectors), to tell versions
    /// apart on redeploy.
    pub connection_settings: String,
    /// The processes whose Start uses this listener.
    pub processes: Vec<Arc<ProcessDef>>,
    pub endpoints: Vec<Endpoint>,
    pub listener: Arc<ListenerBox>,
}

impl PlannedListener {
    /// How logs and errors name this listener.
    pub fn label(&self) -> String {
        match &self.connection {
            Some(name) => format!("connection `{name}` ({})", self.kind),
            None => format!("{} on the shared web server", self.kind),
        }
    }
}

/// Everything `berth run` needs to start serving.
pub struct Plan {
    /// Plugin files that were refused when this plan was made.
    pub refused_plugins: usize,
    pub listeners: Vec<PlannedListener>,
    /// Every certificate the deployment uses, soonest expiry first.
    pub certificates: Vec<certs::CertificateRecord>,
}

/// Check a loaded deployment against the plugins and open its listeners. `diagnostics` holds
/// the problems found while loading the files, so that one run reports everything.
pub fn plan(
    deployment: Deployment,
    registry: &Registry,
    mut diagnostics: Vec<Diagnostic>,
) -> Result<Plan, Vec<Diagnostic>> {
    let connections: BTreeMap<&str, &ConnectionDef> = deployment
        .connections
        .iter()
        .map(|c| (c.name.as_str(), c))
        .collect();
    for connection in &deployment.connections {
        check_connection(connection, registry, &mut diagnostics);
    }
    // Before anything opens: a key that does not match is refused at its own field.
    let (certificates, key_problems) = certs::collect(&deployment, registry);
    diagnostics.extend(key_problems);
    // Group the processes by the listener they share: a connection, or the shared web server
    // for a connector kind that needs no connection.
    let mut groups: BTreeMap<(String, String), Vec<Arc<ProcessDef>>> = BTreeMap::new();
    for process in deployment.processes {
        if let Some(key) = check_process(&process, &connections, registry, &mut diagnostics) {
            groups.entry(key).or_default().push(Arc::new(process));
        }
    }
    for ((connection, kind), processes) in &groups {
        if let Some((plugin, _)) = registry.kind(kind) {
            conflicts::check_routes(plugin, kind, connection, processes, &mut diagnostics);
        }
    }
    if !diagnostics.is_empty() {
        return Err(diagnostics);
    }

    let mut listeners = Vec::new();
    for ((connection, kind), processes) in groups {
        let (plugin, info) = registry.kind(&kind).expect("checked above");
        let connection_def = connections.get(connection.as_str()).copied();
        match open(plugin, &kind, connection_def, &processes, &deployment.dir) {
            Ok((endpoints, listener)) => listeners.push(PlannedListener {
                connection: connection_def.map(|c| c.name.clone()),
                connection_settings: connection_def
                    .map(|c| c.settings.to_string())
                    .unwrap_or_default(),
                kind: kind.clone(),
                plugin: Arc::clone(plugin),
                blocking: info.blocking,
                processes,
                endpoints,
                listener: Arc::new(listener),
            }),
            Err(message) => diagnostics.push(open_failure(connection_def, &processes, message)),
        }
    }
    conflicts::check_endpoints(&listeners, &mut diagnostics);
    if !diagnostics.is_empty() {
        return Err(diagnostics);
    }
    Ok(Plan {
        refused_plugins: registry.refused.len(),
        listeners,
        certificates,
    })
}

fn check_connection(connection: &ConnectionDef, registry: &Registry, out: &mut Vec<Diagnostic>) {
    let Some((plugin, kind)) = registry.kind(&connection.connector) else {
        out.push(connection.doc.diagnostic(
            "/connector",
            registry.unknown_kind_message(&connection.connector),
        ));
        return;
    };
    if !kind.needs_connection {
        out.push(connection.doc.diagnostic(
            "/connector",
            format!(
                "connector `{}` is served by the shared web server (berth.yaml) and takes no \
                 connection",
                kind.name
            ),
        ));
        return;
    }
    for problem in plugin.check_connection(&kind.name, &connection.settings) {
        out.push(connection.settings_diagnostic(&problem.pointer, problem.message.as_str()));
    }
}

/// Check a process's Start against its plugin; its listener group when it is sound.
fn check_process(
    process: &ProcessDef,
    connections: &BTreeMap<&str, &ConnectionDef>,
    registry: &Registry,
    out: &mut Vec<Diagnostic>,
) -> Option<(String, String)> {
    let start = &process.start;
    let Some((plugin, kind)) = registry.kind(&start.connector) else {
        out.push(
            process.start_diagnostic("connector", registry.unknown_kind_message(&start.connector)),
        );
        return None;
    };
    let before = out.len();
    for problem in plugin.check_operation(&kind.name, &start.operation) {
        out.push(process.operation_diagnostic(&problem.pointer, problem.message.as_str()));
    }
    let key =
        match (&start.connection, kind.needs_connection) {
            (None, true) => {
                let known: Vec<&str> = connections
                    .values()
                    .filter(|c| c.connector == kind.name)
                    .map(|c| c.name.as_str())
                    .collect();
                out.push(process.start_diagnostic(
                    "connector",
                    format!(
                    "connector `{}` needs `start.connection`: the name of a connection file in \
                     connections/ (connections of this connector: {})",
                    kind.name,
                    if known.is_empty() { "none".to_string() } else { known.join(", ") }
                ),
                ));
                None
            }
            (Some(_), false) => {
                out.push(process.start_diagnostic(
                    "connection",
                    format!(
                        "connector `{}` is served by the shared web server and takes no connection",
                        kind.name
                    ),
                ));
                None
            }
            (Some(name), true) => match connections.get(name.as_str()) {
                Some(connection) if connection.connector != kind.name => {
                    out.push(process.start_diagnostic(
                        "connection",
                        format!(
                            "connection `{name}` ({}) is for connector `{}`, not `{}`",
                            connection.file.display(),
                            connection.connector,
                            kind.name
                        ),
                    ));
                    None
                }
                // An unknown connection name is reported when the deployment is loaded.
                _ => Some((name.clone(), kind.name.clone())),
            },
            (None, false) => Some((String::new(), kind.name.clone())),
        };
    key.filter(|_| out.len() == before)
}

fn open(
    plugin: &Plugin,
    kind: &str,
    connection: Option<&ConnectionDef>,
    processes: &[Arc<ProcessDef>],
    dir: &Path,
) -> Result<(Vec<Endpoint>, ListenerBox), String> {
    let operations: Vec<(String, serde_json::Value)> = processes
        .iter()
        .map(|p| (p.name.clone(), p.start.operation.clone()))
        .collect();
    let empty = serde_json::Value::Object(Default::default());
    let (name, settings) = match connection {
        Some(c) => (Some(c.name.as_str()), &c.settings),
        None => (None, &empty),
    };
    let opened = plugin.open(kind, name, settings, &operations, dir)?;
    let endpoints = opened.endpoints.into_vec();
    if endpoints.is_empty() {
        return Err("the connector asked for no endpoint to listen on".to_string());
    }
    for endpoint in &endpoints {
        if endpoint.listen().is_none() {
            return Err(
                "the connector asked for a kind of endpoint that this berth does not know; \
                 upgrade berth"
                    .to_string(),
            );
        }
    }
    Ok((endpoints, opened.listener))
}

fn open_failure(
    connection: Option<&ConnectionDef>,
    processes: &[Arc<ProcessDef>],
    message: String,
) -> Diagnostic {
    match connection {
        Some(c) => c
            .doc
            .diagnostic("/settings", format!("cannot open: {message}")),
        None => processes[0]
            .doc
            .diagnostic("/start/operation", format!("cannot open: {message}")),
    }
}
