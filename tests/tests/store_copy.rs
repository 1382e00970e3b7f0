//! `berth store copy` through the real binary: an embedded store populated by AS2 messages
//! (pyas2lib) and HTTP documents (one larger than a row holds), refused while berth runs on it,
//! copied into a real PostgreSQL (refused a second time without --append), then berth run on
//! PostgreSQL recognises a resend of a copied message and answers with its first MDN; every
//! document lists, shows and exports byte for byte as it did. And back: PostgreSQL into a new
//! embedded store.

#[path = "../as2/common.rs"]
mod common;

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use berth_e2e::postgres::{write_secret, PgServer};
use berth_e2e::{berth_binary, client, first_listed_id, free_port, output_text, Deployment};
use common::*;
use serde_json::json;

const INBOX: &str = "name: inbox\nstart:\n  connector: http-server-legacy\n  connection: inbound\n  operation: { path: /in }\nsteps:\n  - return: { status: 200, body: \"stored\" }\n";

/// `berth store copy DIR ARGS`: (success, output).
fn store_copy(deployment: &Deployment, args: &[&str]) -> (bool, String) {
    let output = Command::new(berth_binary())
        .args(["store", "copy"])
        .arg(deployment.path())
        .args(args)
        .env_remove("BERTH_STORE_URL")
        .output()
        .unwrap();
    (output.status.success(), output_text(&output))
}

/// Every document as `berth documents` gives it: the listing, and each one's `show` and its
/// payload, raw request and answer as exported.
fn everything(deployment: &Deployment) -> (String, BTreeMap<String, Vec<Vec<u8>>>) {
    let listing = deployment.berth_documents(&["list"]);
    let mut documents = BTreeMap::new();
    for line in listing.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let id = line.split_whitespace().next().unwrap();
        if id.chars().all(|c| c.is_ascii_digit()) {
            continue; // the count line
        }
        let mut parts = vec![deployment.berth_documents(&["show", id]).into_bytes()];
        for part in ["--payload", "--raw", "--answer"] {
            let output = deployment.documents_command(&["export", id, part]);
            // A duplicate has no payload and no raw request; a document not answered, no answer.
            parts.push(match output.status.success() {
                true => output.stdout,
                false => format!("refused: {}", output_text(&output)).into_bytes(),
            });
        }
        documents.insert(id.to_string(), parts);
    }
    (listing, documents)
}

fn yaml(as2_port: u16, store: &str) -> String {
    format!("shared_server:\n  address: 127.0.0.1\n  port: {as2_port}\n{store}")
}

#[test]
fn an_embedded_store_moves_to_postgres_and_keeps_its_duplicates() {
    let server = PgServer::shared();
    let db = server.create_database("copy");
    let (http_port, as2_port) = (free_port(), free_port());
    let deployment = Deployment::new();
    let keys = Keys::create(deployment.path());
    std::fs::create_dir_all(deployment.path().join("secrets")).unwrap();
    write_secret(&deployment.path().join("secrets/db"), server.password());
    deployment
        .write("berth.yaml", &yaml(as2_port, ""))
        .http_connection("inbound", http_port, "")
        .write("processes/inbox.yaml", INBOX)
        .write(
            "processes/partner.yaml",
            &process(
                "partner",
                "as2-shared-server",
                None,
                &operation(PARTNER, ""),
            ),
        );

    // The embedded store, populated through the real binary.
    let berth = deployment.start();
    let url = format!("http://127.0.0.1:{as2_port}/as2");
    let case = |id: &str| {
        Case::new(id, PARTNER, 0, &keys)
            .set("digest", json!("sha256"))
            .set("mdn", json!("signed"))
            .set("message_id", json!(format!("<{id}@partner.example>")))
            .set("keep_bytes", json!(true))
    };
    let cases = [case("copy-1"), case("copy-2").set("repeat", json!(2))];
    let first = send(&url, &cases, deployment.path());
    assert_eq!(first["copy-1"][0]["status"], "processed", "{first:?}");
    assert_eq!(first["copy-2"][1]["status"], "processed", "{first:?}");
    let http = client();
    let large: Vec<u8> = (0..700_000u32).map(|i| (i * 7 % 251) as u8).collect();
    for body in [b"ISA*00*small~".to_vec(), large] {
        let response = http
            .post(format!("http://127.0.0.1:{http_port}/in"))
            .body(body)
            .send()
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
    }
    assert_eq!(berth.log().matches("AS2-RECEIVED|").count(), 2);
    let pg_url = server.url(&db);
    let password_file = deployment.path().join("secrets/db");
    let password_file = password_file.to_str().unwrap();
    let (copied, text) = store_copy(
        &deployment,
        &["--to", &pg_url, "--password-file", password_file],
    );
    assert!(!copied, "{text}");
    assert!(
        text.contains("berth is running on the embedded store"),
        "{text}"
    );
    assert!(berth.terminate(Duration::from_secs(10)).success());
    let before = everything(&deployment);
    assert!(before.0.contains("5 documents"), "{}", before.0);
    assert_eq!(before.1.len(), 5, "{}", before.0);
    let payloads: Vec<usize> = before.1.values().map(|parts| parts[1].len()).collect();
    assert!(payloads.contains(&700_000), "{payloads:?}");
    let mdns = before
        .1
        .values()
        .filter(|p| p[3].starts_with(b"AS2-Version"))
        .count();
    assert!(mdns >= 2, "the AS2 documents' answers are their MDNs");

    let (copied, text) = store_copy(
        &deployment,
        &["--to", &pg_url, "--password-file", password_file],
    );
    assert!(copied, "{text}");
    assert!(text.contains("copied 5 documents"), "{text}");
    assert!(!text.contains(server.password()), "{text}");
    let (copied, text) = store_copy(
        &deployment,
        &["--to", &pg_url, "--password-file", password_file],
    );
    assert!(!copied, "{text}");
    assert!(
        text.contains("already holds documents") && text.contains("--append"),
        "{text}"
    );
    let (copied, text) = store_copy(
        &deployment,
        &[
            "--to",
            &pg_url,
            "--password-file",
            password_file,
            "--append",
        ],
    );
    assert!(copied, "{text}");
    assert!(
        text.contains("copied 0 documents") && text.contains("5 already there"),
        "{text}"
    );
    // The large payload went into chunks.
    assert_eq!(
        server.sql(&db, "SELECT count(*) > 0 FROM payload_chunks"),
        "t"
    );

    // The same deployment on PostgreSQL: everything reads as it did.
    std::fs::remove_dir_all(deployment.path().join("data")).unwrap();
    let store =
        format!("store:\n  backend: postgres\n  url: {pg_url}\n  password_file: secrets/db\n");
    deployment.write("berth.yaml", &yaml(as2_port, &store));
    let after = everything(&deployment);
    assert_eq!(after.0, before.0, "the listing changed");
    assert_eq!(after.1, before.1, "a document changed");

    // A resend of a copied message is a duplicate: the first MDN again, not run again.
    let berth = deployment.start();
    let resent = send(&url, &[case("copy-1")], deployment.path());
    let (original, again) = (&first["copy-1"][0], &resent["copy-1"][0]);
    assert_eq!(again["status"], "processed", "{again}");
    assert_eq!(again["mic"], original["mic"], "{again}");
    assert_eq!(
        again["answer_b64"], original["answer_b64"],
        "not the original MDN"
    );
    assert_eq!(
        berth.log().matches("AS2-RECEIVED|").count(),
        0,
        "{}",
        berth.log()
    );
    assert!(berth.terminate(Duration::from_secs(10)).success());
    let listing = deployment.berth_documents(&["list", "--state", "duplicate"]);
    assert!(listing.contains("2 documents"), "{listing}");
    let id = first_listed_id(&listing);
    let shown = deployment.berth_documents(&["show", id]);
    assert!(shown.contains("duplicate of"), "{shown}");

    // And back: PostgreSQL into the embedded store of a fresh deployment folder.
    let back = Deployment::new();
    back.write("berth.yaml", &yaml(as2_port, ""));
    let (copied, text) = store_copy(
        &back,
        &["--from", &pg_url, "--password-file", password_file],
    );
    assert!(copied, "{text}");
    assert!(text.contains("copied 6 documents"), "{text}");
    let returned = everything(&back);
    let on_pg = everything(&deployment);
    assert_eq!(returned, on_pg, "the way back changed something");

    // Not into an embedded store berth runs on, even when told to append.
    back.http_connection("inbound", free_port(), "")
        .write("processes/inbox.yaml", INBOX);
    let berth = back.start();
    let (copied, text) = store_copy(
        &back,
        &[
            "--from",
            &pg_url,
            "--password-file",
            password_file,
            "--append",
        ],
    );
    assert!(!copied, "{text}");
    assert!(
        text.contains("berth is running on the embedded store"),
        "{text}"
    );
    assert!(berth.terminate(Duration::from_secs(10)).success());
}
