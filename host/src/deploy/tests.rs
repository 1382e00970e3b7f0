//! Conflicts, in-process: a deployment where two processes would receive the same requests is
//! refused by the same check `berth validate` and `berth run` make, and the refusal says where
//! both sides are. No socket is bound.

use berth_process::Diagnostic;

use super::testing::{answer_steps, free_port, Folder};

/// The one diagnostic whose message contains `needle`.
fn the_one<'a>(diagnostics: &'a [Diagnostic], needle: &str) -> &'a Diagnostic {
    let found: Vec<&Diagnostic> = diagnostics
        .iter()
        .filter(|d| d.message.contains(needle))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "one diagnostic about {needle}: {diagnostics:#?}"
    );
    found[0]
}

fn refused(folder: &Folder) -> Vec<Diagnostic> {
    match folder.check() {
        Ok((_, plan)) => panic!(
            "the deployment was accepted with {} listeners",
            plan.listeners.len()
        ),
        Err(diagnostics) => diagnostics,
    }
}

#[test]
fn two_operations_of_one_connection_claiming_one_route_are_refused_naming_both() {
    let folder = Folder::new();
    folder
        .http_connection("inbound", free_port())
        .answering("alpha", "inbound", "/same", "a")
        .answering("beta", "inbound", "/same", "b");
    let diagnostics = refused(&folder);
    let conflict = the_one(&diagnostics, "route `POST /same`");
    // The second process is the one refused, at its operation (line 5 of the file written by
    // `Folder::http_process`); the first is named with its file.
    assert_eq!(conflict.file, folder.path().join("processes/beta.yaml"));
    assert_eq!(conflict.line, Some(5), "{conflict}");
    assert_eq!(conflict.field, "start.operation", "{conflict}");
    assert!(
        conflict.message.contains("connection `inbound`"),
        "{conflict}"
    );
    assert!(conflict.message.contains("process `alpha`"), "{conflict}");
    let first = folder.path().join("processes/alpha.yaml");
    assert!(
        conflict.message.contains(&first.display().to_string()),
        "{conflict}"
    );
    assert_eq!(diagnostics.len(), 1, "{diagnostics:#?}");
}

#[test]
fn one_path_with_different_methods_is_no_conflict() {
    let folder = Folder::new();
    let steps = answer_steps("ok");
    let get = format!(
        "name: reader\nstart:\n  connector: http-server-legacy\n  connection: inbound\n  \
         operation:\n    path: /same\n    methods: [GET]\nsteps:\n{steps}"
    );
    folder
        .http_connection("inbound", free_port())
        .answering("writer", "inbound", "/same", "ok")
        .write("processes/reader.yaml", &get);
    let (_, plan) = folder
        .check()
        .expect("GET and POST of one path are two routes");
    assert_eq!(plan.listeners.len(), 1);
    let names: Vec<&str> = plan.listeners[0]
        .processes
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(names, ["reader", "writer"]);
}

#[test]
fn one_route_on_two_connections_is_no_conflict() {
    let folder = Folder::new();
    folder
        .http_connection("first", free_port())
        .http_connection("second", free_port())
        .answering("alpha", "first", "/same", "a")
        .answering("beta", "second", "/same", "b");
    let (_, plan) = folder.check().expect("each connection has its own routes");
    assert_eq!(plan.listeners.len(), 2);
}

#[test]
fn two_connections_on_one_port_are_refused_naming_both() {
    let port = free_port();
    let folder = Folder::new();
    folder
        .http_connection("first", port)
        .http_connection("second", port)
        .answering("alpha", "first", "/a", "a")
        .answering("beta", "second", "/b", "b");
    let diagnostics = refused(&folder);
    let conflict = the_one(&diagnostics, &format!("port {port}"));
    // The listener planned second is refused, at its first process's connection.
    assert_eq!(conflict.file, folder.path().join("processes/beta.yaml"));
    assert_eq!(conflict.field, "start.connection", "{conflict}");
    assert!(conflict.line.is_some(), "the line is named: {conflict}");
    let first_file = folder.path().join("processes/alpha.yaml");
    for side in [
        "connection `first` (http-server-legacy) (processes `alpha`, ",
        "connection `second` (http-server-legacy) (processes `beta`)",
        &first_file.display().to_string(),
    ] {
        assert!(
            conflict.message.contains(side),
            "{side} missing: {conflict}"
        );
    }
    assert_eq!(diagnostics.len(), 1, "{diagnostics:#?}");
}
