//! AS2-Version and EDIINT-Features (RFC 6017) through the real binary, on both AS2 connectors,
//! with pyas2lib as the partner and its headers changed as other products send them: every 1.x
//! version and a missing one accepted and answered with berth's version and features, the
//! partner's features recorded whatever they are, and the refusals (another major version, a
//! Message-ID over 998 characters) answered with a clear MDN and logged with the peer's address.

#[path = "../as2/common.rs"]
mod common;

use berth_e2e::{free_port, Deployment};
use common::*;
use serde_json::{json, Value};

/// A process for one pair that also logs what the partner announced.
fn features_process(name: &str, connector: &str, connection: Option<&str>, from: &str) -> String {
    let connection = connection
        .map(|c| format!("  connection: {c}\n"))
        .unwrap_or_default();
    format!(
        "name: {name}\nstart:\n  connector: {connector}\n{connection}  operation:\n{}\
         steps:\n  - write_file: {{ directory: inbox, file_name: \"${{file_name}}\" }}\n  \
         - log:\n      level: info\n      message: \"AS2-FEATURES|${{file_name}}|${{as2.version}}|\
         ${{as2.features:-none}}|\"\n",
        operation(from, "")
    )
}

/// `(file name, as2.version, as2.features)` of each logged document.
fn logged(log: &str) -> Vec<(String, String, String)> {
    log.lines()
        .filter_map(|line| {
            let start = line.find("AS2-FEATURES|")?;
            let f: Vec<&str> = line[start..].split('|').collect();
            Some((f[1].to_string(), f[2].to_string(), f[3].to_string()))
        })
        .collect()
}

fn header<'a>(result: &'a Value, name: &str) -> &'a str {
    result["response_headers"][name].as_str().unwrap_or("")
}

#[test]
fn versions_and_features_on_both_connectors() {
    let (shared_port, legacy_port) = (free_port(), free_port());
    let deployment = Deployment::new();
    let keys = Keys::create(deployment.path());
    deployment.write(
        "berth.yaml",
        &format!("shared_server:\n  address: 127.0.0.1\n  port: {shared_port}\n"),
    );
    deployment.write(
        "connections/as2-in.yaml",
        &format!(
            "name: as2-in\nconnector: as2-server-legacy\nsettings:\n  address: 127.0.0.1\n  \
             port: {legacy_port}\n"
        ),
    );
    deployment.write(
        "processes/shared.yaml",
        &features_process("shared", "as2-shared-server", None, PARTNER),
    );
    deployment.write(
        "processes/legacy.yaml",
        &features_process("legacy", "as2-server-legacy", Some("as2-in"), "LEGACY"),
    );
    let berth = deployment.start();

    let targets = [
        ("s", PARTNER, format!("http://127.0.0.1:{shared_port}/as2")),
        ("l", "LEGACY", format!("http://127.0.0.1:{legacy_port}/as2")),
    ];
    let versions = [None, Some("1.0"), Some("1.1"), Some("1.2"), Some("1.3")];
    let long_id = format!("<{}@partner.example>", "x".repeat(999 - 18));
    assert_eq!(long_id.chars().count(), 999);
    let mut cases = Vec::new();
    for (prefix, from, url) in &targets {
        for (i, version) in versions.iter().enumerate() {
            let id = format!("{prefix}-v{}", version.unwrap_or("missing"));
            let mut case = Case::new(&id, from, i, &keys)
                .set("digest", json!("sha256"))
                .set("mdn", json!(if i % 2 == 0 { "signed" } else { "sync" }))
                .set("url", json!(url));
            case = match version {
                Some(v) => case.set("headers", json!({"AS2-Version": v})),
                None => case.set("drop_headers", json!(["AS2-Version"])),
            };
            cases.push(case);
        }
        cases.push(
            Case::new(&format!("{prefix}-features"), from, 0, &keys)
                .set("digest", json!("sha256"))
                .set("url", json!(url))
                .set(
                    "headers",
                    json!({"EDIINT-Features": "CEM, multiple-attachments, Teleport-9"}),
                ),
        );
        cases.push(
            Case::new(&format!("{prefix}-major2"), from, 1, &keys)
                .set("url", json!(url))
                .set("headers", json!({"AS2-Version": "2.0"})),
        );
        cases.push(
            Case::new(&format!("{prefix}-long-id"), from, 2, &keys)
                .set("url", json!(url))
                .set("headers", json!({"Message-ID": long_id})),
        );
    }
    let results = send("http://127.0.0.1:1/unused", &cases, deployment.path());
    let log = berth.log();
    let documents = logged(&log);
    let document = |case: &Case| {
        documents
            .iter()
            .find(|(name, _, _)| *name == case.file_name())
            .unwrap_or_else(|| panic!("{}: no document logged:\n{log}", case.id))
            .clone()
    };

    for case in &cases {
        let id = case.id.as_str();
        let result = &results[id][0];
        // Every answer, accepted or refused, says what berth speaks.
        assert_eq!(header(result, "as2-version"), "1.2", "{id}: {result}");
        assert_eq!(
            header(result, "ediint-features"),
            "AS2-Reliability, multiple-attachments",
            "{id}: {result}"
        );
        if id.ends_with("major2") || id.ends_with("long-id") {
            assert_error(
                case,
                result,
                "processed/error",
                "unexpected-processing-error",
                deployment.path(),
            );
            continue;
        }
        assert_eq!(result["status"], "processed", "{id}: {result}");
        assert_eq!(result["mic_ok"], true, "{id}: {result}");
        let (_, version, features) = document(case);
        let expected_version = match id.split_once("-v") {
            Some((_, "missing")) => "1.0".to_string(),
            Some((_, v)) => v.to_string(),
            // pyas2lib's own header.
            None => "1.2".to_string(),
        };
        assert_eq!(version, expected_version, "{id}");
        // pyas2lib announces `CMS`, a token RFC 6017 does not define: kept, never a failure.
        let expected_features = if id.ends_with("features") {
            "CEM, multiple-attachments, Teleport-9"
        } else {
            "CMS"
        };
        assert_eq!(features, expected_features, "{id}");
    }

    for (prefix, from, _) in &targets {
        let major = &results[&format!("{prefix}-major2")][0];
        let text = major["mdn_text"].as_str().unwrap();
        assert!(
            text.contains("AS2-Version 2.0 is not supported"),
            "{prefix}: {text}"
        );
        let long = &results[&format!("{prefix}-long-id")][0];
        let text = long["mdn_text"].as_str().unwrap();
        assert!(
            text.contains("the Message-ID has 999 characters; at most 998"),
            "{prefix}: {text}"
        );
        // Echoed, so that the partner can match the refusal to its message.
        assert_eq!(long["original_message_id"], long_id.as_str(), "{prefix}");
        let logged_refusal = log.lines().any(|line| {
            line.contains(&format!("from {from} -> {US} at 127.0.0.1"))
                && line.contains("999 characters")
        });
        assert!(
            logged_refusal,
            "{prefix}: refusal not logged with the peer:\n{log}"
        );
    }
    eprintln!(
        "AS2 features: {} messages over both connectors, versions 1.0-1.3 and missing accepted, \
         2.0 and a 999-character Message-ID refused",
        cases.len()
    );
}
