//! Loading a whole deployment folder: cross-file checks and connection files.

mod common;

use berth_process::{load_connection, load_deployment};
use common::{render, write};

const CONN: &str = "name: http-8081\nconnector: http-server-legacy\nsettings:\n  port: 8081\n  tls:\n    certificate: certs/a.pem\n";

fn proc_text(name: &str, connection: &str) -> String {
    format!("name: {name}\nstart:\n  connector: http-server-legacy\n  connection: {connection}\nsteps:\n  - return: {{}}\n")
}

#[test]
fn loads_sorted_and_ignores_other_files() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "connections/http.yaml", CONN);
    write(dir.path(), "processes/b.yml", &proc_text("b", "http-8081"));
    write(dir.path(), "processes/a.yaml", &proc_text("a", "http-8081"));
    write(dir.path(), "processes/readme.txt", "not yaml");
    write(dir.path(), "processes/c.yaml.bak", "::::");
    let dep = load_deployment(dir.path()).unwrap_or_else(|d| panic!("{}", render(&d)));
    let names: Vec<_> = dep.processes.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["a", "b"]);
    assert_eq!(dep.connections.len(), 1);
    assert_eq!(dep.connection("http-8081").unwrap().settings["port"], 8081);
    assert!(dep.process("b").is_some());
}

#[test]
fn missing_folders_are_empty_but_missing_dir_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let dep = load_deployment(dir.path()).unwrap();
    assert!(dep.processes.is_empty() && dep.connections.is_empty());
    let err = load_deployment(&dir.path().join("nope")).unwrap_err();
    assert!(err[0].message.contains("not found"));
}

#[test]
fn duplicate_names_name_both_files() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "connections/one.yaml", CONN);
    write(dir.path(), "connections/two.yaml", CONN);
    write(
        dir.path(),
        "processes/a.yaml",
        &proc_text("same", "http-8081"),
    );
    write(
        dir.path(),
        "processes/b.yaml",
        &proc_text("same", "http-8081"),
    );
    let d = load_deployment(dir.path()).unwrap_err();
    assert_eq!(d.len(), 2, "{}", render(&d));
    assert!(d[0].file.ends_with("connections/two.yaml"));
    assert_eq!((d[0].line, d[0].field.as_str()), (Some(1), "name"));
    assert!(
        d[0].message.contains("also used by") && d[0].message.contains("connections/one.yaml"),
        "{}",
        d[0]
    );
    assert!(d[1].file.ends_with("processes/b.yaml"));
    assert!(
        d[1].message.contains("process name `same` is also used by")
            && d[1].message.contains("processes/a.yaml")
    );
}

#[test]
fn unknown_connection_lists_known_ones() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "connections/http.yaml", CONN);
    write(
        dir.path(),
        "connections/other.yaml",
        "name: other\nconnector: http-server-legacy\n",
    );
    write(dir.path(), "processes/a.yaml", &proc_text("a", "http-8082"));
    let d = load_deployment(dir.path()).unwrap_err();
    assert_eq!(d.len(), 1, "{}", render(&d));
    assert_eq!((d[0].line, d[0].column), (Some(4), Some(3)));
    assert_eq!(d[0].field, "start.connection");
    assert_eq!(
        d[0].message,
        "unknown connection `http-8082`; known connections: http-8081, other"
    );
}

#[test]
fn connection_for_another_connector() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "connections/as2.yaml",
        "name: as2\nconnector: as2-server-legacy\n",
    );
    write(dir.path(), "processes/a.yaml", &proc_text("a", "as2"));
    let d = load_deployment(dir.path()).unwrap_err();
    assert!(
        d[0].message
            .contains("is for connector `as2-server-legacy`"),
        "{}",
        d[0]
    );
}

#[test]
fn all_problems_of_all_files_are_collected() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "connections/bad.yaml", "name: x\nconector: y\n");
    write(
        dir.path(),
        "processes/a.yaml",
        "name: a\nstart: {connector: x}\nsteps:\n  - nope: {}\n",
    );
    write(dir.path(), "processes/b.yaml", "name: [\n");
    write(dir.path(), "processes/c.yaml", &proc_text("c", "missing"));
    let d = load_deployment(dir.path()).unwrap_err();
    let files: Vec<String> = d
        .iter()
        .map(|d| d.file.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        files,
        ["bad.yaml", "bad.yaml", "a.yaml", "b.yaml", "c.yaml"],
        "{}",
        render(&d)
    );
    assert_eq!((d[3].line, d[3].column), (Some(2), Some(1)));
    assert!(
        d[4].message
            .ends_with("(connection files with errors were skipped)"),
        "{}",
        d[4]
    );
}

#[test]
fn connection_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "connections/http.yaml", CONN);
    let c = load_connection(&path).unwrap();
    assert_eq!(c.name, "http-8081");
    assert_eq!(c.connector, "http-server-legacy");
    let d = c.settings_diagnostic("/tls/certificate", "file not found");
    assert_eq!((d.line, d.column), (Some(6), Some(5)));
    assert_eq!(d.field, "settings.tls.certificate");
    let d = c.settings_diagnostic("tls/key", "missing field `key`");
    assert_eq!((d.line, d.field.as_str()), (Some(5), "settings.tls.key"));

    let path = write(
        dir.path(),
        "connections/min.yaml",
        "name: m\nconnector: c\nsettings:\n",
    );
    assert_eq!(
        load_connection(&path).unwrap().settings,
        serde_json::json!({})
    );

    let path = write(
        dir.path(),
        "connections/bad.yaml",
        "name: m\nconnector: 5\nextra: 1\n",
    );
    let d = load_connection(&path).unwrap_err();
    assert_eq!(d.len(), 2, "{}", render(&d));
    assert_eq!((d[0].line, d[0].field.as_str()), (Some(3), "extra"));
    assert_eq!((d[1].line, d[1].field.as_str()), (Some(2), "connector"));
    let path = write(dir.path(), "connections/none.yaml", "settings: {}\n");
    let d = load_connection(&path).unwrap_err();
    let fields: Vec<_> = d.iter().map(|d| d.field.as_str()).collect();
    assert_eq!(fields, ["name", "connector"]);
}
