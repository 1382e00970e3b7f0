//! What berth says about a deployment it cannot run: every message names the file, the line or
//! the processes concerned, and berth refuses to start rather than half-run.

use berth_e2e::{built_plugin, free_port, output_text, Deployment};

fn echo_process(name: &str, connection: &str, path: &str) -> String {
    format!(
        "name: {name}\nstart:\n  connector: http-server-legacy\n  connection: {connection}\n  operation:\n    path: {path}\nsteps:\n  - return: {{ status: 200 }}\n"
    )
}

#[test]
fn a_malformed_process_file_is_reported_with_file_line_and_field() {
    let deployment = Deployment::new();
    deployment.http_connection("inbound", free_port(), "").write(
        "processes/bad.yaml",
        "name: bad\nstart:\n  connector: http-server-legacy\n  connection: inbound\n  operation:\n    path: /in\n    methods: [POST, FETCH]\nsteps: []\n",
    );
    let output = deployment.berth(&["validate"]);
    let text = output_text(&output);
    assert!(!output.status.success(), "{text}");
    assert!(text.contains("processes/bad.yaml:7"), "{text}");
    assert!(text.contains("start.operation.methods[1]"), "{text}");
    assert!(text.contains("FETCH"), "{text}");
}

#[test]
fn a_yaml_syntax_error_names_its_line() {
    let deployment = Deployment::new();
    deployment.write(
        "processes/broken.yaml",
        "name: broken\nstart:\n  connector: http-server-legacy\n   connection: x\n",
    );
    let output = deployment.berth(&["validate"]);
    let text = output_text(&output);
    assert!(!output.status.success(), "{text}");
    assert!(text.contains("processes/broken.yaml:4"), "{text}");
}

#[test]
fn an_unknown_step_lists_the_known_ones() {
    let deployment = Deployment::new();
    deployment.http_connection("inbound", free_port(), "").write(
        "processes/typo.yaml",
        "name: typo\nstart:\n  connector: http-server-legacy\n  connection: inbound\n  operation: { path: /in }\nsteps:\n  - writ_file: { directory: out }\n",
    );
    let output = deployment.berth(&["validate"]);
    let text = output_text(&output);
    assert!(!output.status.success(), "{text}");
    assert!(text.contains("processes/typo.yaml:7"), "{text}");
    assert!(text.contains("write_file"), "{text}");
}

#[test]
fn a_missing_plugin_is_an_unknown_connector_that_lists_the_known_ones() {
    let deployment = Deployment::new();
    deployment.write(
        "processes/ftp.yaml",
        "name: ftp\nstart:\n  connector: ftp-server\n  connection: x\n  operation: {}\n",
    );
    let output = deployment.berth(&["run"]);
    let text = output_text(&output);
    assert!(!output.status.success(), "{text}");
    assert!(text.contains("processes/ftp.yaml:3"), "{text}");
    // The unknown connection is reported in the same run.
    assert!(text.contains("processes/ftp.yaml:4"), "{text}");
    assert!(text.contains("unknown connector `ftp-server`"), "{text}");
    assert!(text.contains("http-server-legacy"), "{text}");
}

#[test]
fn a_file_that_is_not_a_plugin_is_refused_and_the_others_load() {
    let deployment = Deployment::new();
    std::fs::create_dir_all(deployment.path().join("plugins")).unwrap();
    std::fs::write(deployment.path().join("plugins/notes.so"), "not a library").unwrap();
    // A real shared library that is not a berth plugin.
    deployment.add_plugin(std::path::Path::new(&foreign_library()), "libz-copy.so");
    let output = deployment.berth(&["plugins"]);
    let text = output_text(&output);
    assert!(output.status.success(), "{text}");
    assert!(text.contains("http-server-legacy"), "{text}");
    assert!(text.contains("notes.so: not a loadable library"), "{text}");
    assert!(text.contains("libz-copy.so: not a berth plugin"), "{text}");
}

fn foreign_library() -> String {
    for candidate in [
        "/lib/x86_64-linux-gnu/libz.so.1",
        "/usr/lib/x86_64-linux-gnu/libz.so.1",
        "/lib/aarch64-linux-gnu/libz.so.1",
        "/usr/lib/aarch64-linux-gnu/libz.so.1",
    ] {
        if std::path::Path::new(candidate).exists() {
            return candidate.to_string();
        }
    }
    panic!("no libz shared library found to stand in for a foreign library");
}

#[test]
fn a_plugin_built_against_an_incompatible_sdk_is_refused_by_name() {
    let deployment = Deployment::new();
    deployment.add_plugin(&built_plugin("old_sdk_test_plugin"), "libold.so");
    let output = deployment.berth(&["plugins"]);
    let text = output_text(&output);
    assert!(output.status.success(), "{text}");
    assert!(
        text.contains("libold.so: built against connector SDK 0.1.0"),
        "{text}"
    );
    assert!(
        text.contains("rebuild the plugin against berth-connector-sdk"),
        "{text}"
    );
    assert!(text.contains("connector http-server-legacy"), "{text}");
}

#[test]
fn two_connections_on_one_port_are_refused_naming_both() {
    let port = free_port();
    let deployment = Deployment::new();
    deployment
        .http_connection("first", port, "")
        .http_connection("second", port, "")
        .write("processes/a.yaml", &echo_process("alpha", "first", "/a"))
        .write("processes/b.yaml", &echo_process("beta", "second", "/b"));
    let output = deployment.berth(&["run"]);
    let text = output_text(&output);
    assert!(!output.status.success(), "{text}");
    assert!(text.contains(&format!("port {port}")), "{text}");
    for name in ["`first`", "`second`", "`alpha`", "`beta`"] {
        assert!(text.contains(name), "{name} missing: {text}");
    }
}

#[test]
fn two_operations_claiming_one_route_are_refused_naming_both_processes() {
    let deployment = Deployment::new();
    deployment
        .http_connection("inbound", free_port(), "")
        .write(
            "processes/a.yaml",
            &echo_process("alpha", "inbound", "/same"),
        )
        .write(
            "processes/b.yaml",
            &echo_process("beta", "inbound", "/same"),
        );
    let output = deployment.berth(&["validate"]);
    let text = output_text(&output);
    assert!(!output.status.success(), "{text}");
    assert!(text.contains("route `POST /same`"), "{text}");
    assert!(text.contains("`alpha`"), "{text}");
    assert!(text.contains("processes/b.yaml"), "{text}");
}

#[test]
fn an_unknown_connection_is_reported_with_the_known_ones() {
    let deployment = Deployment::new();
    deployment
        .http_connection("inbound", free_port(), "")
        .write("processes/a.yaml", &echo_process("alpha", "inbuond", "/a"));
    let output = deployment.berth(&["validate"]);
    let text = output_text(&output);
    assert!(!output.status.success(), "{text}");
    assert!(text.contains("processes/a.yaml:4"), "{text}");
    assert!(text.contains("inbound"), "{text}");
}

#[test]
fn a_valid_deployment_validates() {
    let deployment = Deployment::new();
    deployment
        .http_connection("inbound", free_port(), "")
        .write("processes/a.yaml", &echo_process("alpha", "inbound", "/a"))
        .write("processes/b.yaml", &echo_process("beta", "inbound", "/b"));
    let output = deployment.berth(&["validate"]);
    let text = output_text(&output);
    assert!(output.status.success(), "{text}");
    assert!(text.contains("ok: 2 processes on 1 listener"), "{text}");
}

#[test]
fn the_schema_holds_each_connector_and_the_steps() {
    let deployment = Deployment::new();
    let output = deployment.berth(&["schema"]);
    assert!(output.status.success(), "{}", output_text(&output));
    let schema: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let text = schema.to_string();
    assert!(text.contains("http-server-legacy"), "{text}");
    assert!(text.contains("max_body_bytes"), "{text}");
    assert!(text.contains("write_file"), "{text}");
}

#[test]
fn the_shipped_example_deployment_validates() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap();
    let output = std::process::Command::new(berth_e2e::berth_binary())
        .arg("validate")
        .arg(root)
        .output()
        .unwrap();
    let text = output_text(&output);
    assert!(output.status.success(), "{text}");
}

/// The shipped example deployment runs: copied as it is, with only its ports moved to free
/// ones so the test cannot collide with anything on the machine.
#[test]
fn the_shipped_http_example_files_orders_by_content_type() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap();
    let deployment = Deployment::new();
    let (http, as2, shared, admin) = (free_port(), free_port(), free_port(), free_port());
    for folder in ["connections", "processes", "certs"] {
        for entry in std::fs::read_dir(root.join(folder)).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            let text = text
                .replace("port: 8081", &format!("port: {http}"))
                .replace("port: 8080", &format!("port: {as2}"))
                .replace("address: 0.0.0.0", "address: 127.0.0.1");
            let name = path.file_name().unwrap().to_str().unwrap();
            deployment.write(&format!("{folder}/{name}"), &text);
        }
    }
    let settings = std::fs::read_to_string(root.join("berth.yaml"))
        .unwrap()
        .replace("port: 9090", &format!("port: {shared}"))
        .replace("address: 0.0.0.0", "address: 127.0.0.1");
    deployment.write(
        "berth.yaml",
        &format!("{settings}admin:\n  address: 127.0.0.1\n  port: {admin}\n"),
    );
    let _berth = deployment.start();
    let response = berth_e2e::client()
        .post(format!("http://127.0.0.1:{http}/orders?id=1001"))
        .header("content-type", "application/xml")
        .body("<order id=\"1001\"/>")
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);
    assert_eq!(response.text().unwrap(), "{\"received\": \"1001\"}");
    let filed = deployment.path().join("data/inbox/xml/order-1001.xml");
    assert_eq!(
        std::fs::read_to_string(filed).unwrap(),
        "<order id=\"1001\"/>"
    );
    let echo = berth_e2e::client()
        .post(format!("http://127.0.0.1:{http}/echo"))
        .body("hello")
        .send()
        .unwrap();
    assert_eq!(echo.text().unwrap(), "hello");
}
