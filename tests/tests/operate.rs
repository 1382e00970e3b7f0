//! Operating a running berth: listener states and control from the CLI and the admin API,
//! errored listeners, live deploy, metrics.

use std::process::Command;
use std::time::{Duration, Instant};

use berth_e2e::{berth_binary, client, free_port, output_text, Deployment};

fn process(name: &str, connection: &str, body: &str) -> String {
    format!(
        "name: {name}\nstart:\n  connector: http-server-legacy\n  connection: {connection}\n  operation: {{ path: /{name} }}\nsteps:\n  - return: {{ status: 200, body: \"{body}\" }}\n"
    )
}

fn with_admin(deployment: &Deployment) -> u16 {
    let admin = free_port();
    deployment.write(
        "berth.yaml",
        &format!("admin:\n  address: 127.0.0.1\n  port: {admin}\n"),
    );
    admin
}

/// Run `berth ARGS --dir DEPLOYMENT`; (success, output).
fn berth(deployment: &Deployment, args: &[&str]) -> (bool, String) {
    let output = Command::new(berth_binary())
        .args(args)
        .arg("--dir")
        .arg(deployment.path())
        .output()
        .unwrap();
    (output.status.success(), output_text(&output))
}

fn post(port: u16, path: &str) -> (u16, String, Option<String>) {
    let response = client()
        .post(format!("http://127.0.0.1:{port}{path}"))
        .body("x")
        .send()
        .unwrap();
    let retry = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    (response.status().as_u16(), response.text().unwrap(), retry)
}

/// Poll until `check` holds, for up to 10 s (live deploy looks every 2 s).
fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("never happened: {what}");
}

#[test]
fn listeners_pause_resume_and_restart_from_the_command_line() {
    let port = free_port();
    let deployment = Deployment::new();
    with_admin(&deployment);
    deployment
        .http_connection("inbound", port, "")
        .write("processes/orders.yaml", &process("orders", "inbound", "v1"))
        .write(
            "processes/invoices.yaml",
            &process("invoices", "inbound", "ok"),
        );
    let _berth = deployment.start();

    let (ok, table) = berth(&deployment, &["listeners"]);
    assert!(ok, "{table}");
    assert_eq!(table.matches("listening").count(), 2, "{table}");
    assert!(
        table.contains(&format!("http://127.0.0.1:{port}")),
        "{table}"
    );

    let (ok, out) = berth(&deployment, &["listeners", "pause", "orders"]);
    assert!(ok && out.contains("paused"), "{out}");
    let (status, _, retry) = post(port, "/orders");
    assert_eq!((status, retry.as_deref()), (503, Some("60")));
    assert_eq!(
        post(port, "/invoices").0,
        200,
        "another process on the same port is not paused"
    );

    // A restart reloads the process from disk and keeps it paused.
    deployment.write("processes/orders.yaml", &process("orders", "inbound", "v2"));
    let (ok, out) = berth(&deployment, &["listeners", "restart", "orders"]);
    assert!(ok && out.contains("paused"), "{out}");
    assert_eq!(post(port, "/orders").0, 503);
    let (ok, out) = berth(&deployment, &["listeners", "resume", "orders"]);
    assert!(ok && out.contains("listening"), "{out}");
    assert_eq!(post(port, "/orders"), (200, "v2".to_string(), None));

    let (ok, out) = berth(&deployment, &["listeners", "resume", "orders"]);
    assert!(!ok && out.contains("only a paused listener"), "{out}");
    let (ok, out) = berth(&deployment, &["listeners", "pause", "--all"]);
    assert!(ok && out.matches("paused").count() == 2, "{out}");
    let output = deployment.berth(&["status"]);
    let status = output_text(&output);
    assert!(
        output.status.success() && status.contains("\"paused\": 2"),
        "{status}"
    );
}

#[test]
fn an_errored_listener_does_not_stop_the_others_and_a_restart_rebinds_it() {
    let (free, taken_port) = (free_port(), free_port());
    let taken = std::net::TcpListener::bind(("127.0.0.1", taken_port)).unwrap();
    let deployment = Deployment::new();
    with_admin(&deployment);
    deployment
        .http_connection("good", free, "")
        .http_connection("blocked", taken_port, "")
        .write("processes/alpha.yaml", &process("alpha", "good", "alpha"))
        .write("processes/beta.yaml", &process("beta", "blocked", "beta"));
    let _berth = deployment.start();
    assert_eq!(post(free, "/alpha").0, 200);
    let (_, table) = berth(&deployment, &["listeners"]);
    let beta = table
        .lines()
        .find(|l| l.starts_with("beta"))
        .unwrap()
        .to_string();
    assert!(
        beta.contains("errored") && beta.contains("Address already in use"),
        "{table}"
    );

    drop(taken);
    let (ok, out) = berth(&deployment, &["listeners", "restart", "beta"]);
    assert!(ok && out.contains("listening"), "{out}");
    assert_eq!(post(taken_port, "/beta").0, 200);
}

#[test]
fn the_deployment_folder_is_deployed_live() {
    let port = free_port();
    let deployment = Deployment::new();
    let admin = with_admin(&deployment);
    deployment
        .http_connection("inbound", port, "")
        .write("processes/a.yaml", &process("a", "inbound", "a1"));
    let berth = deployment.start();
    assert_eq!(post(port, "/a").1, "a1");

    deployment.write("processes/b.yaml", &process("b", "inbound", "b1"));
    eventually("process b is deployed", || post(port, "/b").0 == 200);
    deployment.write("processes/a.yaml", &process("a", "inbound", "a2"));
    eventually("process a is redeployed", || post(port, "/a").1 == "a2");
    std::fs::remove_file(deployment.path().join("processes/b.yaml")).unwrap();
    eventually("process b is undeployed", || post(port, "/b").0 == 404);

    // A broken new file leaves the running version in place and says why.
    deployment.write("processes/c.yaml", "name: c\nstart: [not, a, mapping]\n");
    eventually("the error is reported", || {
        berth.log().contains("deployment not applied")
    });
    assert_eq!(post(port, "/a").1, "a2");
    let token = std::fs::read_to_string(deployment.path().join("data/admin.token")).unwrap();
    let status = client()
        .get(format!("http://127.0.0.1:{admin}/api/status"))
        .bearer_auth(token.trim())
        .send()
        .unwrap()
        .text()
        .unwrap();
    let status: serde_json::Value = serde_json::from_str(&status).unwrap();
    let error = status["deploy_error"].as_str().unwrap_or_default();
    assert!(error.contains("processes/c.yaml:2"), "{status}");
}

#[test]
fn the_admin_api_needs_its_token_and_metrics_count_requests() {
    let port = free_port();
    let deployment = Deployment::new();
    let admin = with_admin(&deployment);
    deployment
        .http_connection("inbound", port, "")
        .write("processes/a.yaml", &process("a", "inbound", "a"));
    let _berth = deployment.start();
    let api = format!("http://127.0.0.1:{admin}");
    let refused = client().get(format!("{api}/api/listeners")).send().unwrap();
    assert_eq!(refused.status().as_u16(), 401);
    let wrong = client()
        .get(format!("{api}/api/listeners"))
        .bearer_auth("guess")
        .send()
        .unwrap();
    assert_eq!(wrong.status().as_u16(), 401);

    for _ in 0..3 {
        assert_eq!(post(port, "/a").0, 200);
    }
    assert_eq!(post(port, "/nowhere").0, 404);
    let metrics = client()
        .get(format!("{api}/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        metrics.contains("berth_requests_total{listener=\"a\",status=\"200\"} 3"),
        "{metrics}"
    );
    assert!(
        metrics.contains("berth_documents_total{process=\"a\",outcome=\"accepted\"} 3"),
        "{metrics}"
    );
    assert!(
        metrics.contains("berth_listener_state{listener=\"a\",state=\"listening\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("berth_request_duration_seconds_bucket"),
        "{metrics}"
    );
    assert!(metrics.contains("berth_store_bytes"), "{metrics}");
}

#[test]
fn json_log_lines_carry_the_process_and_the_document() {
    let port = free_port();
    let deployment = Deployment::new();
    with_admin(&deployment);
    deployment.http_connection("inbound", port, "").write(
        "processes/a.yaml",
        "name: a\nstart:\n  connector: http-server-legacy\n  connection: inbound\n  operation: { path: /a }\nsteps:\n  - log: { message: \"step says hello\" }\n",
    );
    let berth = deployment.start_with(&["--log-format", "json"]);
    assert_eq!(post(port, "/a").0, 200);
    berth.wait_for_log("step says hello", Duration::from_secs(5));
    let log = berth.log();
    let line = log.lines().find(|l| l.contains("step says hello")).unwrap();
    let event: serde_json::Value = serde_json::from_str(line).unwrap();
    let span = &event["span"];
    assert_eq!(span["name"], "document", "{line}");
    assert_eq!(span["process"], "a", "{line}");
    assert!(
        span["document"].as_str().is_some_and(|d| !d.is_empty()),
        "{line}"
    );
}

#[test]
fn a_plugin_dropped_into_the_folder_is_deployed_live() {
    let (port, plugin_port) = (free_port(), free_port());
    let deployment = Deployment::new();
    with_admin(&deployment);
    deployment
        .http_connection("inbound", port, "")
        .write("processes/a.yaml", &process("a", "inbound", "a"));
    let _berth = deployment.start();
    // The connector and a process using it arrive while berth runs.
    deployment
        .add_plugin(
            &berth_e2e::built_plugin("panicking_test_plugin"),
            "libpanicking.so",
        )
        .write(
            "connections/p.yaml",
            &format!("name: p\nconnector: panicking\nsettings:\n  port: {plugin_port}\n"),
        )
        .write(
            "processes/p.yaml",
            "name: p\nstart:\n  connector: panicking\n  connection: p\n  operation: {}\n",
        );
    eventually("the new connector serves", || {
        client()
            .post(format!("http://127.0.0.1:{plugin_port}/ok"))
            .body("x")
            .send()
            .is_ok_and(|r| r.status().as_u16() == 200)
    });
    assert_eq!(post(port, "/a").0, 200, "the other listener kept serving");
}
