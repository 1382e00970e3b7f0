//! Filename preservation through the real binary, with both AS2 connectors and pyas2lib as the
//! partner: a pair that refuses file names already received answers the second message with
//! a name it sent before with `processed/error: duplicate-filename` and does not run it; a
//! resend of the first message's Message-ID still gets the first MDN; another name is fine;
//! a pair without the setting accepts the same name twice.

#[path = "../as2/common.rs"]
mod common;

use berth_e2e::{free_port, Deployment};
use common::*;
use serde_json::json;

/// Process names, their pair's AS2-From, whether it refuses names, per connector.
const PAIRS: [(&str, &str, bool); 2] = [("names", "NAMES", true), ("free", "FREE", false)];

fn deployment(port: u16, legacy_port: u16) -> (Deployment, Keys) {
    let deployment = Deployment::new();
    let keys = Keys::create(deployment.path());
    deployment.write(
        "berth.yaml",
        &format!("shared_server:\n  address: 127.0.0.1\n  port: {port}\n"),
    );
    deployment.write(
        "connections/as2-in.yaml",
        &format!(
            "name: as2-in\nconnector: as2-server-legacy\nsettings:\n  address: 127.0.0.1\n  \
             port: {legacy_port}\n"
        ),
    );
    for (connector, connection, tag) in [
        ("as2-shared-server", None, "S"),
        ("as2-server-legacy", Some("as2-in"), "L"),
    ] {
        for (name, from, refuse) in PAIRS {
            let extra = if refuse {
                "refuse_duplicate_file_names: true"
            } else {
                ""
            };
            let op = operation(&format!("{from}_{tag}"), extra);
            deployment.write(
                &format!("processes/{name}-{tag}.yaml"),
                &process(&format!("{name}-{tag}"), connector, connection, &op),
            );
        }
    }
    (deployment, keys)
}

/// How many times the process ran for `file_name` from `from`.
fn runs(log: &str, file_name: &str, from: &str) -> usize {
    log.matches(&format!("AS2-RECEIVED|{file_name}|{from}|"))
        .count()
}

#[test]
fn a_file_name_received_before_is_refused_with_duplicate_filename() {
    let (port, legacy_port) = (free_port(), free_port());
    let (deployment, keys) = deployment(port, legacy_port);
    let berth = deployment.start();
    for (tag, url) in [
        ("S", format!("http://127.0.0.1:{port}/as2")),
        ("L", format!("http://127.0.0.1:{legacy_port}/as2")),
    ] {
        let names = format!("NAMES_{tag}");
        let free = format!("FREE_{tag}");
        let order = format!("order-{tag}.edi");
        let signed = |id: &str, from: &str, name: &str| {
            Case::new(&format!("{id}-{tag}"), from, 0, &keys)
                .set("digest", json!("sha256"))
                .set("enc_alg", json!("aes_256_cbc"))
                .set("mdn", json!("signed"))
                .set("filename", json!(name))
        };
        let first = signed("first", &names, &order)
            .set("message_id", json!(format!("fn-first-{tag}@partner")));
        // The same Message-ID and content again: a resend, not a second file of that name.
        let mut resend = signed("resend", &names, &order)
            .set("message_id", json!(format!("fn-first-{tag}@partner")))
            .set("payload_b64", first.value["payload_b64"].clone());
        resend.payload = first.payload.clone();
        let free_order = format!("free-{order}");
        let batch = [
            first,
            signed("second", &names, &order),
            resend,
            signed("other", &names, &format!("other-{tag}.edi")),
            signed("free1", &free, &free_order),
            signed("free2", &free, &free_order),
        ];
        let results = send(&url, &batch, deployment.path());
        // The refused file never reached the process: the first one's bytes are still there.
        let written = std::fs::read(deployment.path().join("inbox").join(&order)).unwrap();
        assert!(written == batch[0].payload, "{tag}: the first file stays");
        let result = |id: &str| results[&format!("{id}-{tag}")][0].clone();

        let first = result("first");
        assert_eq!(first["status"], "processed", "{tag}: {first}");
        assert_eq!(first["mic_ok"], true, "{tag}: {first}");
        let second = result("second");
        assert_eq!(second["http_status"], 200, "{tag}: {second}");
        assert_eq!(second["status"], "processed/error", "{tag}: {second}");
        assert_eq!(second["detail"], "duplicate-filename", "{tag}: {second}");
        assert_eq!(second["mdn_signed"], true, "{tag}: {second}");
        let again = result("resend");
        assert_eq!(again["status"], "processed", "{tag}: {again}");
        assert_eq!(again["mic"], first["mic"], "{tag}: the first MDN again");
        assert_eq!(result("other")["status"], "processed", "{tag}");
        assert_eq!(result("free1")["status"], "processed", "{tag}");
        assert_eq!(result("free2")["status"], "processed", "{tag}");

        let log = berth.log();
        assert_eq!(runs(&log, &order, &names), 1, "{tag}: run once:\n{log}");
        assert_eq!(runs(&log, &format!("other-{tag}.edi"), &names), 1, "{tag}");
        assert_eq!(
            runs(&log, &free_order, &free),
            2,
            "{tag}: setting off:\n{log}"
        );
        assert!(
            log.lines().any(|l| l.contains("duplicate-filename")
                && l.contains(&format!("{order:?}"))
                && l.contains("127.0.0.1")),
            "{tag}: the refusal is logged with the name and the peer:\n{log}"
        );
    }
}
