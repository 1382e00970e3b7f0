//! Bad store settings and faults at start, through the real binary against a real PostgreSQL:
//! refused credentials, a URL from BERTH_STORE_URL that leads nowhere, and a database of a
//! newer schema stop `berth run` with a message naming the setting and the cause; the password
//! appears in no log line, error, `berth status` or API answer.

use std::process::{Command, Output};
use std::time::Duration;

use berth_e2e::postgres::{write_secret, PgServer, DB_USER};
use berth_e2e::{berth_binary, client, free_port, output_text, Deployment};

/// `berth run DIR` to its end (it must fail), with BERTH_STORE_URL set or removed.
fn run_fails(deployment: &Deployment, env_url: Option<&str>) -> String {
    let mut command = Command::new(berth_binary());
    command
        .arg("run")
        .arg(deployment.path())
        .env("BERTH_LOG", "info");
    match env_url {
        Some(url) => command.env("BERTH_STORE_URL", url),
        None => command.env_remove("BERTH_STORE_URL"),
    };
    let output: Output = command.output().unwrap();
    let text = output_text(&output);
    assert!(!output.status.success(), "berth run started:\n{text}");
    text
}

fn store_yaml(url: &str, extra: &str) -> String {
    format!("store:\n  backend: postgres\n  url: \"{url}\"\n{extra}")
}

#[test]
fn faults_at_start_name_the_setting_and_the_cause_never_the_password() {
    let server = PgServer::shared();
    let db = server.create_database("faults");
    let deployment = Deployment::new();
    std::fs::create_dir_all(deployment.path().join("secrets")).unwrap();

    // A wrong password from the password file.
    let wrong = "not-the-Password-42";
    write_secret(&deployment.path().join("secrets/db"), wrong);
    deployment.write(
        "berth.yaml",
        &store_yaml(&server.url(&db), "  password_file: secrets/db\n"),
    );
    let text = run_fails(&deployment, None);
    assert!(text.contains("store.password_file"), "{text}");
    assert!(text.contains("refused the login"), "{text}");
    assert!(text.contains("password authentication failed"), "{text}");
    assert!(!text.contains(wrong), "{text}");

    // A wrong password in the URL itself: masked wherever the URL is shown.
    let port = server.port();
    let in_url = format!("postgres://{DB_USER}:{wrong}@127.0.0.1:{port}/{db}");
    deployment.write("berth.yaml", &store_yaml(&in_url, ""));
    let text = run_fails(&deployment, None);
    assert!(text.contains("(store.url)"), "{text}");
    assert!(text.contains("user and password of the URL"), "{text}");
    assert!(text.contains(&format!("{DB_USER}:***@")), "{text}");
    assert!(!text.contains(wrong), "{text}");

    // The environment's URL wins and is named as such; nothing listens at its port.
    let nowhere = format!(
        "postgres://{DB_USER}:{wrong}@127.0.0.1:{}/{db}",
        free_port()
    );
    let text = run_fails(&deployment, Some(&nowhere));
    assert!(text.contains("(BERTH_STORE_URL)"), "{text}");
    assert!(text.contains("unreachable"), "{text}");
    assert!(!text.contains(wrong), "{text}");
    let text = run_fails(&deployment, Some("postgres://berth@127.0.0.1:notaport/x"));
    assert!(text.contains("BERTH_STORE_URL is not a valid"), "{text}");

    // A URL naming a database that does not exist.
    let right = server.password();
    let missing = format!("postgres://{DB_USER}:{right}@127.0.0.1:{port}/no_such_db");
    let text = run_fails(&deployment, Some(&missing));
    assert!(text.contains("(BERTH_STORE_URL)"), "{text}");
    assert!(text.contains("\"no_such_db\" does not exist"), "{text}");
    assert!(!text.contains(right), "{text}");

    // A database a newer berth has migrated.
    let newer = server.create_database("newer");
    server.sql(
        &newer,
        "CREATE TABLE schema_version (version BIGINT NOT NULL); INSERT INTO schema_version VALUES (999)",
    );
    write_secret(&deployment.path().join("secrets/db"), server.password());
    deployment.write(
        "berth.yaml",
        &store_yaml(&server.url(&newer), "  password_file: secrets/db\n"),
    );
    let text = run_fails(&deployment, None);
    assert!(text.contains("(store.url)"), "{text}");
    assert!(text.contains("schema version 999"), "{text}");
}

#[test]
fn the_password_is_in_no_log_status_or_api_answer() {
    let server = PgServer::shared();
    let db = server.create_database("secret");
    let (admin, http) = (free_port(), free_port());
    let deployment = Deployment::new();
    let port = server.port();
    let password = server.password();
    let url = format!("postgres://{DB_USER}:{password}@127.0.0.1:{port}/{db}");
    deployment
        .write(
            "berth.yaml",
            &format!(
                // /ready is asked below: no drain at the stop.
                "admin:\n  address: 127.0.0.1\n  port: {admin}\nlimits:\n  drain_seconds: 0\n{}",
                store_yaml(&url, "")
            ),
        )
        .http_connection("inbound", http, "")
        .write(
            "processes/inbox.yaml",
            "name: inbox\nstart:\n  connector: http-server-legacy\n  connection: inbound\n  operation: { path: /in }\nsteps:\n  - return: { status: 200, body: \"stored\" }\n",
        );
    let berth = deployment.start();
    let sent = client()
        .post(format!("http://127.0.0.1:{http}/in"))
        .body("x")
        .send()
        .unwrap();
    assert_eq!(sent.status().as_u16(), 200);

    let token = std::fs::read_to_string(deployment.path().join("data/admin.token")).unwrap();
    let mut seen = String::new();
    for path in [
        "/api/status",
        "/api/listeners",
        "/api/documents",
        "/metrics",
        "/ready",
    ] {
        let response = client()
            .get(format!("http://127.0.0.1:{admin}{path}"))
            .bearer_auth(token.trim())
            .send()
            .unwrap();
        assert!(response.status().is_success(), "{path}");
        seen.push_str(&response.text().unwrap());
    }
    let status = deployment.berth(&["status"]);
    assert!(status.status.success(), "{}", output_text(&status));
    seen.push_str(&output_text(&status));
    let listeners = Command::new(berth_binary())
        .args(["listeners", "--dir"])
        .arg(deployment.path())
        .output()
        .unwrap();
    assert!(listeners.status.success(), "{}", output_text(&listeners));
    seen.push_str(&output_text(&listeners));
    seen.push_str(&deployment.berth_documents(&["list"]));
    seen.push_str(&berth.log());
    assert!(seen.contains("listening"), "{seen}");
    assert!(!seen.contains(password), "the password was shown:\n{seen}");
    assert!(berth.terminate(Duration::from_secs(10)).success());
}
