//! The message store on PostgreSQL through the real binary: `berth run` with
//! `store.backend: postgres` against a real server started by the test, an HTTP document and an
//! AS2 message (pyas2lib) accepted and stored there (nothing in the deployment folder), listed and
//! shown by `berth documents`, and an AS2 resend recognised as a duplicate with its first MDN.

#[path = "../as2/common.rs"]
mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use berth_e2e::postgres::{write_secret, PgServer};
use berth_e2e::{berth_binary, client, first_listed_id, free_port, output_text, Deployment};
use common::*;
use serde_json::json;

#[test]
fn documents_and_as2_messages_are_stored_in_postgres() {
    let started = Instant::now();
    let server = PgServer::start();
    let db = server.create_database("e2e");
    let (http_port, as2_port) = (free_port(), free_port());
    let deployment = Deployment::new();
    let keys = Keys::create(deployment.path());
    std::fs::create_dir_all(deployment.path().join("secrets")).unwrap();
    write_secret(
        &deployment.path().join("secrets/db"),
        &format!("{}\n", server.password()),
    );
    deployment
        .write(
            "berth.yaml",
            &format!(
                "shared_server:\n  address: 127.0.0.1\n  port: {as2_port}\nstore:\n  backend: postgres\n  url: {}\n  password_file: secrets/db\n",
                server.url(&db)
            ),
        )
        .http_connection("inbound", http_port, "")
        .write(
            "processes/inbox.yaml",
            "name: inbox\nstart:\n  connector: http-server-legacy\n  connection: inbound\n  operation: { path: /in }\nsteps:\n  - return: { status: 200, body: \"stored\" }\n",
        )
        .write(
            "processes/partner.yaml",
            &process(
                "partner",
                "as2-shared-server",
                None,
                &operation(PARTNER, ""),
            ),
        );
    let berth = deployment.start();
    println!("server and berth up after {:?}", started.elapsed());

    let response = client()
        .post(format!("http://127.0.0.1:{http_port}/in"))
        .body("ISA*00*over-http~")
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.text().unwrap(), "stored");

    let case = Case::new("pg-as2", PARTNER, 0, &keys)
        .set("digest", json!("sha256"))
        .set("mdn", json!("signed"))
        .set("repeat", json!(2));
    let results = send(
        &format!("http://127.0.0.1:{as2_port}/as2"),
        std::slice::from_ref(&case),
        deployment.path(),
    );
    let sent = &results["pg-as2"];
    let lines = received_lines(&berth.log());
    assert_processed(&case, &sent[0], deployment.path(), &lines);
    // The resend gets the first MDN again and is not run a second time.
    assert_eq!(sent[1]["status"], "processed", "{sent:?}");
    assert_eq!(sent[1]["mic"], sent[0]["mic"], "{sent:?}");
    assert_eq!(berth.log().matches("AS2-RECEIVED|").count(), 1);

    // Listed beside the running host, from PostgreSQL: nothing went to the deployment folder.
    let list = deployment.berth_documents(&["list"]);
    assert!(list.contains("3 documents"), "{list}");
    assert!(list.contains("duplicate"), "{list}");
    // (data/ still holds the admin token.)
    assert!(!deployment.path().join("data/store.sqlite").exists());
    assert_eq!(
        server.sql(
            &db,
            "SELECT state, count(*) FROM documents GROUP BY state ORDER BY state"
        ),
        "duplicate|1\nprocessed|2"
    );
    let as2 = deployment.berth_documents(&["list", "--process", "partner", "--state", "processed"]);
    assert!(as2.contains("1 document\n"), "{as2}");
    let id = first_listed_id(&as2);
    let shown = deployment.berth_documents(&["show", id]);
    assert!(shown.contains("state      processed"), "{shown}");
    assert!(shown.contains("answer     processed"), "{shown}");
    let http = deployment.berth_documents(&["list", "--process", "inbox"]);
    let id = first_listed_id(&http);
    let shown = deployment.berth_documents(&["show", id]);
    assert!(shown.contains("payload    17 bytes"), "{shown}");
    assert!(shown.contains("| stored"), "{shown}");
    assert!(shown.contains("answer     200"), "{shown}");

    let log = berth.log();
    assert!(berth.terminate(Duration::from_secs(10)).success());
    assert!(
        !log.contains(server.password()),
        "the password is never logged:\n{log}"
    );

    // BERTH_STORE_URL overrides store.url: a wrong URL in the file, the right one outside.
    let yaml = std::fs::read_to_string(deployment.path().join("berth.yaml")).unwrap();
    let wrong = format!("127.0.0.1:{}", free_port());
    deployment.write(
        "berth.yaml",
        &yaml.replace(&format!("127.0.0.1:{}", server.port()), &wrong),
    );
    let listed = Command::new(berth_binary())
        .args(["documents", "list", "--dir"])
        .arg(deployment.path())
        .env("BERTH_STORE_URL", server.url(&db))
        .output()
        .unwrap();
    assert!(listed.status.success(), "{}", output_text(&listed));
    assert!(output_text(&listed).contains("3 documents"));
    println!("done after {:?}", started.elapsed());
}

/// A database that is not there stops `berth run` with a message naming the setting and the
/// cause; a backend berth does not know is refused by `berth validate` at its line.
#[test]
fn bad_store_settings_are_named() {
    let deployment = Deployment::new();
    let url = format!("postgres://berth@127.0.0.1:{}/berth", free_port());
    deployment.write(
        "berth.yaml",
        &format!("store:\n  backend: postgres\n  url: {url}\n"),
    );
    let output = deployment.berth(&["run"]);
    let text = output_text(&output);
    assert!(!output.status.success(), "{text}");
    assert!(text.contains("store.url"), "{text}");
    assert!(text.contains("unreachable"), "{text}");

    deployment.write(
        "berth.yaml",
        "store:\n  retention_days: 3\n  backend: mysql\n",
    );
    let output = deployment.berth(&["validate"]);
    let text = output_text(&output);
    assert!(!output.status.success(), "{text}");
    assert!(text.contains("berth.yaml:3"), "{text}");
    assert!(text.contains("store.backend"), "{text}");
}
