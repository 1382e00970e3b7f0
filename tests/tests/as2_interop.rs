//! Senders that are not pyas2lib, through the real binary to both AS2 connectors: AES-GCM
//! (128/192/256) inside plain EnvelopedData with the tag appended, as pkijs and some
//! BouncyCastle-based products send it, with RSA PKCS#1 v1.5 or RSA-OAEP (SHA-1/256/512)
//! key transport, around a detached multipart/signed entity, asking for a signed synchronous
//! MDN. tests/as2/interop.py builds them with `cryptography` and `asn1crypto` and checks the
//! MDN's signature against our certificate and its Received-Content-MIC against the MIC it
//! computed over the signed entity; this file checks what reached the process, byte for byte.
//! Large messages (over the 4 MiB spool threshold) decrypt while streaming from the spool file;
//! a wrong or truncated tag is answered with decryption-failed and delivers nothing.

#[path = "../as2/common.rs"]
mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use berth_e2e::{free_port, Deployment};
use common::*;
use serde_json::{json, Value};

const TRANSPORTS: [&str; 4] = ["rsa", "oaep-sha1", "oaep-sha256", "oaep-sha512"];
const PROCESSED: &str = "automatic-action/MDN-sent-automatically; processed";
const DECRYPTION_FAILED: &str =
    "automatic-action/MDN-sent-automatically; processed/error: decryption-failed";

/// One message: how interop.py builds it, and the payload it carries.
struct Message {
    spec: Value,
    payload: Vec<u8>,
    /// A tampered tag: refused, nothing delivered.
    refused: bool,
}

impl Message {
    fn id(&self) -> &str {
        self.spec["id"].as_str().unwrap()
    }
    fn file_name(&self) -> &str {
        self.spec["filename"].as_str().unwrap()
    }
}

/// Every key size x key transport (small, alternating binary/base64 and DER/BER), two large
/// ones, and the tampered ones: a wrong tag (small and large) and a truncated tag.
fn messages(url: &str, work: &Path) -> Vec<Message> {
    let mut plan: Vec<(String, u32, &str, Option<&str>, usize)> = Vec::new();
    for bits in [128, 192, 256] {
        for transport in TRANSPORTS {
            plan.push((
                format!("gcm{bits}-{transport}"),
                bits,
                transport,
                None,
                3000,
            ));
        }
    }
    let large = (5 << 20) + 17;
    plan.push((
        "large-gcm256-oaep-sha512".into(),
        256,
        "oaep-sha512",
        None,
        large,
    ));
    plan.push(("large-gcm128-rsa".into(), 128, "rsa", None, large));
    plan.push(("wrong-tag".into(), 192, "oaep-sha256", Some("tag"), 3000));
    plan.push(("truncated-tag".into(), 128, "rsa", Some("truncate"), 3000));
    plan.push(("large-wrong-tag".into(), 256, "rsa", Some("tag"), large));
    plan.into_iter()
        .enumerate()
        .map(|(i, (id, bits, transport, tamper, size))| {
            // Every byte value, then the id: each delivery is told apart from the others.
            let mut payload: Vec<u8> = (0..size).map(|n| (n * 7 + i) as u8).collect();
            payload.extend_from_slice(id.as_bytes());
            let payload_file = work.join(format!("{id}.payload"));
            std::fs::write(&payload_file, &payload).unwrap();
            let spec = json!({
                "id": id,
                "url": url,
                "as2_from": PARTNER,
                "as2_to": US,
                "payload_file": payload_file,
                "filename": format!("{id}.bin"),
                "bits": bits,
                "transport": transport,
                "tamper": tamper,
                "transfer": if i % 2 == 0 { "binary" } else { "base64" },
                "ber": i % 3 == 1,
            });
            Message {
                spec,
                payload,
                refused: tamper.is_some(),
            }
        })
        .collect()
}

/// Sends every message with interop.py; its results by message id.
fn send(messages: &[Message], keys: &Keys, work: &Path) -> Vec<Value> {
    let spec = json!({
        "sign_key": keys.file("partner.key"),
        "sign_cert": keys.file("partner.pem"),
        "encrypt_cert": keys.file("berth.pem"),
        "mdn_cert": keys.file("berth.pem"),
        "cases": messages.iter().map(|m| m.spec.clone()).collect::<Vec<_>>(),
    });
    let spec_file = work.join("interop.json");
    std::fs::write(&spec_file, spec.to_string()).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("as2/interop.py");
    let output = Command::new(python())
        .arg(&script)
        .arg("send")
        .arg(&spec_file)
        .output()
        .expect("run the interop sender");
    assert!(
        output.status.success(),
        "interop sender failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let results: Vec<Value> = serde_json::from_slice(&output.stdout).expect("sender's JSON");
    assert_eq!(results.len(), messages.len());
    results
}

fn check(messages: &[Message], results: &[Value], deployment: &Path, log: &str, label: &str) {
    let lines = received_lines(log);
    for (m, r) in messages.iter().zip(results) {
        let id = m.id();
        assert_eq!(r["id"], id);
        assert_eq!(r["http_status"], 200, "{label} {id}: {r}");
        assert_eq!(r["mdn_signed"], true, "{label} {id}: MDN signature: {r}");
        assert_eq!(
            r["original_message_id"], r["message_id"],
            "{label} {id}: {r}"
        );
        let delivered = deployment.join("inbox").join(m.file_name());
        if m.refused {
            assert_eq!(r["disposition"], DECRYPTION_FAILED, "{label} {id}: {r}");
            assert!(!delivered.exists(), "{label} {id}: a bad tag was delivered");
            // Logged with its reason.
            let message_id = r["message_id"].as_str().unwrap();
            assert!(
                log.lines().any(|l| l.contains(message_id)
                    && l.contains("decryption-failed")
                    && l.contains("authentication tag mismatch")),
                "{label} {id}: refusal not logged with its reason:\n{log}"
            );
            continue;
        }
        assert_eq!(r["disposition"], PROCESSED, "{label} {id}: {r}");
        assert_eq!(r["mic"], r["expected_mic"], "{label} {id}: MIC");
        let written = std::fs::read(&delivered)
            .unwrap_or_else(|e| panic!("{label} {id}: {}: {e}", delivered.display()));
        assert!(
            written == m.payload,
            "{label} {id}: delivered {} bytes differ from the {} sent",
            written.len(),
            m.payload.len()
        );
        let props = lines
            .get(m.file_name())
            .unwrap_or_else(|| panic!("{label} {id}: no AS2-RECEIVED line"));
        assert_eq!(props[5], r["mic"].as_str().unwrap(), "{label} {id}");
    }
    let spool = deployment.join("data/spool");
    if let Ok(entries) = std::fs::read_dir(&spool) {
        let left: Vec<_> = entries.collect();
        assert!(
            left.is_empty(),
            "{label}: spool files left behind: {left:?}"
        );
    }
}

fn run(deployment: Deployment, keys: Keys, url: &str, label: &str) {
    let berth = deployment.start();
    let work = deployment.path().join("interop");
    std::fs::create_dir_all(&work).unwrap();
    let messages = messages(url, &work);
    let results = send(&messages, &keys, &work);
    check(&messages, &results, deployment.path(), &berth.log(), label);
    eprintln!(
        "{label}: {} interop messages (GCM EnvelopedData, every key size x key transport, \
         large and small, tampered tags) answered as expected",
        messages.len()
    );
    berth.terminate(Duration::from_secs(10));
}

#[test]
fn gcm_enveloped_data_to_the_shared_server() {
    let port = free_port();
    let deployment = Deployment::new();
    let keys = Keys::create(deployment.path());
    deployment.write(
        "berth.yaml",
        &format!("shared_server:\n  address: 127.0.0.1\n  port: {port}\n"),
    );
    let op = operation(PARTNER, "require_signed: true\nrequire_encrypted: true");
    deployment.write(
        "processes/interop.yaml",
        &process("interop", "as2-shared-server", None, &op),
    );
    let url = format!("http://127.0.0.1:{port}/as2");
    run(deployment, keys, &url, "AS2 shared server");
}

#[test]
fn gcm_enveloped_data_to_the_legacy_server() {
    let port = free_port();
    let deployment = Deployment::new();
    let keys = Keys::create(deployment.path());
    deployment.write(
        "connections/as2-in.yaml",
        &format!(
            "name: as2-in\nconnector: as2-server-legacy\nsettings:\n  address: 127.0.0.1\n  \
             port: {port}\n"
        ),
    );
    let op = operation(PARTNER, "require_signed: true\nrequire_encrypted: true");
    deployment.write(
        "processes/interop.yaml",
        &process("interop", "as2-server-legacy", Some("as2-in"), &op),
    );
    let url = format!("http://127.0.0.1:{port}/as2");
    run(deployment, keys, &url, "AS2 Server (legacy)");
}
