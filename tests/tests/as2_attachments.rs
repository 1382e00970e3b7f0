//! Multiple attachments (RFC 6362) through the real binary, with both AS2 connectors: messages
//! built without berth's code (tests/as2/attachments_message.py: a multipart/related entity
//! written by hand, signed and encrypted by `openssl cms`), each attachment delivered as a
//! document of its own, byte for byte under its own name and MIME type, linked by the message's
//! Message-ID; one signed MDN whose MIC is the one the generator computed over the whole signed
//! entity; a resend answered with that MDN and nothing stored or run again; a message whose
//! one attachment fails answered `processed/error` while the others are delivered; and a large
//! message split into its files in bounded memory.

#[path = "../as2/common.rs"]
mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use berth_e2e::large::{hash_of, memory_kib};
use berth_e2e::postgres::{write_secret, PgServer};
use berth_e2e::{free_port, Deployment};
use common::{Keys, US};
use serde_json::{json, Value};

/// The message the generator wrote, and what it says a receiver must find.
struct Message {
    body: std::path::PathBuf,
    len: u64,
    mic: String,
    /// Each attachment's name, length and SHA-256 (hex).
    parts: Vec<(String, u64, String)>,
}

/// One attachment of a message to generate.
fn part(name: &str, mime_type: &str, cte: &str, data: &[u8]) -> Value {
    json!({ "name": name, "type": mime_type, "cte": cte, "data_b64": common::base64(data) })
}

fn generate(dir: &Path, keys: &Keys, parts: Vec<Value>) -> Message {
    generate_with(dir, keys, json!({ "parts": parts }))
}

/// As [`generate`], from a whole spec (see the script).
fn generate_with(dir: &Path, keys: &Keys, mut spec: Value) -> Message {
    spec["boundary"] = json!(format!("berth-test-{}", std::process::id()));
    let spec_file = dir.join("spec.json");
    std::fs::write(&spec_file, spec.to_string()).unwrap();
    let spec = spec_file;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("as2/attachments_message.py");
    let out = Command::new("python3")
        .arg(script)
        .arg(dir)
        .arg(&spec)
        .args([
            keys.file("partner.pem"),
            keys.file("partner.key"),
            keys.file("berth.pem"),
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "attachments_message.py: {stderr}");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let parts = v["parts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_string(),
                p["len"].as_u64().unwrap(),
                p["sha256"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    Message {
        body: v["body"].as_str().unwrap().into(),
        len: v["body_len"].as_u64().unwrap(),
        mic: v["mic"].as_str().unwrap().into(),
        parts,
    }
}

/// What berth answered: the response's AS2 headers and the signed MDN's fields.
struct Mdn {
    as2_version: String,
    features: String,
    disposition: String,
    mic: String,
}

/// Sends the message from `from` with a signed synchronous MDN requested, and checks the MDN's
/// signature with berth's certificate alone.
fn send(url: &str, from: &str, message_id: &str, message: &Message, keys: &Keys) -> Mdn {
    let client = reqwest::blocking::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(300))
        .build()
        .unwrap();
    let file = std::fs::File::open(&message.body).unwrap();
    let response = client
        .post(url)
        .header("AS2-Version", "1.2")
        .header("EDIINT-Features", "multiple-attachments")
        .header("AS2-From", from)
        .header("AS2-To", US)
        .header("Message-ID", message_id)
        .header("Subject", "attachments")
        .header(
            "Content-Type",
            "application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m",
        )
        .header("Disposition-Notification-To", "mdn@partner")
        .header(
            "Disposition-Notification-Options",
            "signed-receipt-protocol=required, pkcs7-signature; signed-receipt-micalg=required, sha-256",
        )
        .body(reqwest::blocking::Body::sized(file, message.len))
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    };
    let (as2_version, features) = (header("as2-version"), header("ediint-features"));
    let content_type = header("content-type");
    assert!(
        content_type.starts_with("multipart/signed"),
        "{content_type}"
    );
    let mut entity = format!("Content-Type: {content_type}\r\n\r\n").into_bytes();
    entity.extend_from_slice(&response.bytes().unwrap());
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("mdn.msg");
    std::fs::write(&file, entity).unwrap();
    let verified = Command::new("openssl")
        .args(["smime", "-verify", "-noverify", "-nointern", "-certfile"])
        .arg(keys.file("berth.pem"))
        .arg("-in")
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        verified.status.success(),
        "MDN signature: {}",
        String::from_utf8_lossy(&verified.stderr)
    );
    let report = String::from_utf8_lossy(&verified.stdout).to_string();
    let field = |name: &str| {
        report
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(str::trim)
            .unwrap_or_else(|| panic!("no {name} in {report}"))
            .to_string()
    };
    Mdn {
        as2_version,
        features,
        disposition: field("Disposition:"),
        mic: field("Received-Content-MIC:"),
    }
}

/// The documents of one message (by its Message-ID) as `berth documents list` shows them:
/// (state, file name), sorted by file name, once their outcomes are recorded (written after
/// the answer, so a moment later on a busy database).
fn documents_of(deployment: &Deployment, message_id: &str) -> Vec<(String, String)> {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let listed = listed_documents_of(deployment, message_id);
        let recorded = listed.iter().all(|(state, _)| state != "received");
        if recorded || std::time::Instant::now() > deadline {
            return listed;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn listed_documents_of(deployment: &Deployment, message_id: &str) -> Vec<(String, String)> {
    let listing =
        deployment.berth_documents(&["list", "--property", &format!("message_id={message_id}")]);
    let mut found: Vec<(String, String)> = listing
        .lines()
        .skip(1)
        .filter(|l| l.contains("message_id="))
        .map(|l| {
            let state = ["processed", "failed", "duplicate", "received"]
                .into_iter()
                .find(|s| l.contains(&format!(" {s} ")))
                .unwrap_or_else(|| panic!("no state in {l}"));
            let name = l
                .split_whitespace()
                .find_map(|w| w.strip_prefix("file_name="))
                .unwrap_or("-");
            (state.to_string(), name.to_string())
        })
        .collect();
    found.sort_by(|a, b| (&a.1, &a.0).cmp(&(&b.1, &b.0)));
    found
}

/// The process of one pair: every attachment written to `inbox/TAG/` under its own name (once:
/// a name already there fails the document), and its properties logged on one line.
fn process(name: &str, connector: &str, connection: Option<&str>, from: &str, tag: &str) -> String {
    let connection = connection
        .map(|c| format!("  connection: {c}\n"))
        .unwrap_or_default();
    // The large test's message is 128 MiB of random bytes, above the default limit.
    let operation = common::operation(from, "max_message_bytes: 1073741824");
    format!(
        "name: {name}\nstart:\n  connector: {connector}\n{connection}  operation:\n{operation}\
         steps:\n  - write_file: {{ directory: inbox/{tag}, file_name: \"${{file_name}}\", \
         if_exists: fail }}\n  - log:\n      level: info\n      message: \
         \"ATTACHMENT|{tag}|${{file_name}}|${{mime_type}}|${{as2.attachment}}|${{message_id}}|\
         ${{as2.mic}}|\"\n"
    )
}

/// Both connectors, one pair each: `(tag, AS2-From, url)`.
fn deployment() -> (Deployment, Keys, Vec<(&'static str, String, String)>) {
    deployment_with("")
}

/// As [`deployment`], with more lines in berth.yaml (the store's).
fn deployment_with(settings: &str) -> (Deployment, Keys, Vec<(&'static str, String, String)>) {
    let (port, legacy_port) = (free_port(), free_port());
    let deployment = Deployment::new();
    let keys = Keys::create(deployment.path());
    deployment.write(
        "berth.yaml",
        &format!("shared_server:\n  address: 127.0.0.1\n  port: {port}\n{settings}"),
    );
    deployment.write(
        "connections/as2-in.yaml",
        &format!(
            "name: as2-in\nconnector: as2-server-legacy\nsettings:\n  address: 127.0.0.1\n  \
             port: {legacy_port}\n"
        ),
    );
    let pairs = vec![
        (
            "S",
            "PARTNER_S".to_string(),
            format!("http://127.0.0.1:{port}/as2"),
        ),
        (
            "L",
            "PARTNER_L".to_string(),
            format!("http://127.0.0.1:{legacy_port}/as2"),
        ),
    ];
    for (tag, from, _) in &pairs {
        let (connector, connection) = match *tag {
            "S" => ("as2-shared-server", None),
            _ => ("as2-server-legacy", Some("as2-in")),
        };
        deployment.write(
            &format!("processes/attach-{tag}.yaml"),
            &process(&format!("attach-{tag}"), connector, connection, from, tag),
        );
    }
    (deployment, keys, pairs)
}

/// The logged lines of one message's attachments: (file name, MIME type, place, MIC).
fn logged(log: &str, tag: &str, message_id: &str) -> Vec<(String, String, String, String)> {
    let mut lines: Vec<_> = log
        .lines()
        .filter_map(|l| l.split_once(&format!("ATTACHMENT|{tag}|")).map(|(_, r)| r))
        .map(|r| r.split('|').map(str::to_string).collect::<Vec<_>>())
        .filter(|f| f[3] == message_id)
        .map(|f| (f[0].clone(), f[1].clone(), f[2].clone(), f[4].clone()))
        .collect();
    lines.sort();
    lines
}

#[test]
fn each_attachment_becomes_a_document_answered_by_one_mdn() {
    let (deployment, keys, pairs) = deployment();
    through_both_connectors(&deployment, &keys, &pairs);
}

/// The same on the PostgreSQL store: each attachment's payload goes into its own chunks.
#[test]
fn each_attachment_becomes_a_document_on_postgres() {
    let server = PgServer::shared();
    let db = server.create_database("as2_attachments");
    let store = format!(
        "store:\n  backend: postgres\n  url: {}\n  password_file: secrets/db\n",
        server.url(&db)
    );
    let (deployment, keys, pairs) = deployment_with(&store);
    std::fs::create_dir_all(deployment.path().join("secrets")).unwrap();
    write_secret(
        &deployment.path().join("secrets/db"),
        &format!("{}\n", server.password()),
    );
    through_both_connectors(&deployment, &keys, &pairs);
    let stored = server.sql(
        &db,
        "SELECT count(*) FROM documents WHERE state = 'processed'",
    );
    assert_eq!(stored.trim(), "6");
}

/// Three attachments to each connector, then the same message again.
fn through_both_connectors(
    deployment: &Deployment,
    keys: &Keys,
    pairs: &[(&'static str, String, String)],
) {
    let berth = deployment.start();
    let work = tempfile::tempdir().unwrap();
    let edi = b"ISA*00*          *00*          *ZZ*PARTNER~\r\nST*850*0001~\r\nSE*2*0001~\r\n";
    let xml = b"<?xml version=\"1.0\"?>\n<invoice id=\"7\">\n  <line/>\n</invoice>\n";
    let pdf: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    for (tag, from, url) in pairs {
        let parts = vec![
            part("order.edi", "application/edi-x12", "binary", edi),
            part("invoice.xml", "application/xml", "binary", xml),
            part("scan.pdf", "application/pdf", "base64", &pdf),
        ];
        let message = generate(work.path(), keys, parts);
        let message_id = format!("<attach-{tag}@partner>");
        let mdn = send(url, from, &message_id, &message, keys);
        assert_eq!(mdn.as2_version, "1.2", "{tag}");
        assert!(
            mdn.features.contains("multiple-attachments"),
            "{tag}: {}",
            mdn.features
        );
        assert!(
            mdn.disposition.ends_with("; processed"),
            "{tag}: {}",
            mdn.disposition
        );
        assert_eq!(mdn.mic, format!("{}, sha-256", message.mic), "{tag}");

        let inbox = deployment.path().join("inbox").join(tag);
        let expected: [(&str, &[u8]); 3] =
            [("order.edi", edi), ("invoice.xml", xml), ("scan.pdf", &pdf)];
        for (name, data) in expected {
            let written = std::fs::read(inbox.join(name)).unwrap();
            assert!(written == data, "{tag}: {name} differs from what was sent");
        }
        for (name, len, sha) in &message.parts {
            let mut file = std::fs::File::open(inbox.join(name)).unwrap();
            assert_eq!(hash_of(&mut file), (*len, sha.clone()), "{tag}: {name}");
        }
        berth.wait_for_log(
            &format!("ATTACHMENT|{tag}|scan.pdf|"),
            Duration::from_secs(10),
        );
        let mic = format!("{}, sha-256", message.mic);
        let runs = logged(&berth.log(), tag, &message_id);
        assert_eq!(
            runs,
            [
                (
                    "invoice.xml".into(),
                    "application/xml".into(),
                    "2 of 3".into(),
                    mic.clone()
                ),
                (
                    "order.edi".into(),
                    "application/edi-x12".into(),
                    "1 of 3".into(),
                    mic.clone()
                ),
                (
                    "scan.pdf".into(),
                    "application/pdf".into(),
                    "3 of 3".into(),
                    mic.clone()
                ),
            ],
            "{tag}: the process ran once per attachment, each with its own name and type"
        );
        let processed = |n: &str| ("processed".to_string(), n.to_string());
        let three = [
            processed("invoice.xml"),
            processed("order.edi"),
            processed("scan.pdf"),
        ];
        assert_eq!(documents_of(deployment, &message_id), three, "{tag}");

        // The same message again: the same MDN, nothing stored or run again (the resend itself
        // is listed once, as a duplicate).
        let again = send(url, from, &message_id, &message, keys);
        assert_eq!(
            (&again.disposition, &again.mic),
            (&mdn.disposition, &mdn.mic),
            "{tag}"
        );
        let mut listed = documents_of(deployment, &message_id);
        listed.retain(|(state, _)| state != "duplicate");
        assert_eq!(listed, three, "{tag}: a resend stores no document again");
        assert_eq!(
            logged(&berth.log(), tag, &message_id).len(),
            3,
            "{tag}: not run again"
        );
    }
    drop(berth);
}

#[test]
fn one_failing_attachment_fails_the_message_and_the_others_are_delivered() {
    let (deployment, keys, pairs) = deployment();
    let berth = deployment.start();
    let work = tempfile::tempdir().unwrap();
    for (tag, from, url) in &pairs {
        let inbox = deployment.path().join("inbox").join(tag);
        std::fs::create_dir_all(&inbox).unwrap();
        // The second attachment's name is taken: its `write_file` (if_exists: fail) fails.
        std::fs::write(inbox.join("taken.xml"), b"already here").unwrap();
        let parts = vec![
            part(
                "first.edi",
                "application/edi-x12",
                "binary",
                b"ISA*first~\r\n",
            ),
            part("taken.xml", "application/xml", "binary", b"<taken/>"),
            part("third.txt", "text/plain", "base64", b"the third"),
        ];
        let message = generate(work.path(), &keys, parts);
        let message_id = format!("<failing-{tag}@partner>");
        let mdn = send(url, from, &message_id, &message, &keys);
        assert!(
            mdn.disposition
                .ends_with("; processed/error: unexpected-processing-error"),
            "{tag}: {}",
            mdn.disposition
        );
        assert_eq!(mdn.mic, format!("{}, sha-256", message.mic), "{tag}");
        assert_eq!(
            std::fs::read(inbox.join("first.edi")).unwrap(),
            b"ISA*first~\r\n"
        );
        assert_eq!(
            std::fs::read(inbox.join("third.txt")).unwrap(),
            b"the third"
        );
        assert_eq!(
            std::fs::read(inbox.join("taken.xml")).unwrap(),
            b"already here"
        );
        // Each document keeps its own fate: the failed one can be retried on its own.
        assert_eq!(
            documents_of(&deployment, &message_id),
            [
                ("processed".to_string(), "first.edi".to_string()),
                ("failed".to_string(), "taken.xml".to_string()),
                ("processed".to_string(), "third.txt".to_string()),
            ],
            "{tag}"
        );
        let log = berth.log();
        assert!(
            log.contains("attachment 2 of 3 (document "),
            "{tag}: the failure names the attachment:\n{log}"
        );

        // A multipart entity without its closing delimiter: refused whole, nothing delivered.
        let broken = json!({
            "parts": [part("lost.edi", "application/edi-x12", "binary", b"ISA*lost~")],
            "unterminated": true,
        });
        let message = generate_with(work.path(), &keys, broken);
        let message_id = format!("<broken-{tag}@partner>");
        let mdn = send(url, from, &message_id, &message, &keys);
        assert!(
            mdn.disposition
                .ends_with("; processed/error: unexpected-processing-error"),
            "{tag}: {}",
            mdn.disposition
        );
        assert_eq!(mdn.mic, format!("{}, sha-256", message.mic), "{tag}");
        assert!(!inbox.join("lost.edi").exists(), "{tag}");
        assert!(documents_of(&deployment, &message_id).is_empty(), "{tag}");
        let log = berth.log();
        assert!(
            log.lines().any(|l| l.contains(&message_id)
                && l.contains("the attachments could not be split")
                && l.contains("127.0.0.1:")),
            "{tag}: the refusal is logged with its reason and the peer:\n{log}"
        );
    }
    drop(berth);
}

/// Two attachments of 64 MiB each: streamed from the message into the payload file, split into
/// one file per part, delivered byte for byte, with berth's memory far below their size.
#[test]
fn a_large_message_with_several_attachments_is_split_in_bounded_memory() {
    const PART: u64 = 64 << 20;
    let (deployment, keys, pairs) = deployment();
    let (tag, from, url) = pairs.into_iter().find(|p| p.0 == "L").unwrap();
    let work = tempfile::tempdir().unwrap();
    let parts = vec![
        json!({ "name": "big-1.bin", "type": "application/octet-stream", "cte": "binary", "size": PART }),
        json!({ "name": "big-2.edi", "type": "application/edi-x12", "cte": "binary", "size": PART }),
        part("small.xml", "application/xml", "base64", b"<small/>"),
    ];
    let message = generate(work.path(), &keys, parts);
    let berth = deployment.start();
    let idle = memory_kib(berth.pid()).0 << 10;
    let message_id = "<large-attachments@partner>";
    let mdn = send(&url, &from, message_id, &message, &keys);
    assert!(
        mdn.disposition.ends_with("; processed"),
        "{}",
        mdn.disposition
    );
    assert_eq!(mdn.mic, format!("{}, sha-256", message.mic));
    let inbox = deployment.path().join("inbox").join(tag);
    for (name, len, sha) in &message.parts {
        let mut file = std::fs::File::open(inbox.join(name)).unwrap();
        assert_eq!(hash_of(&mut file), (*len, sha.clone()), "{name}");
    }
    assert_eq!(documents_of(&deployment, message_id).len(), 3);
    let grown = (memory_kib(berth.pid()).0 << 10).saturating_sub(idle);
    let total = 2 * PART;
    eprintln!(
        "peak memory grew by {} MiB (idle peak {} MiB) for {} MiB of attachments",
        grown >> 20,
        idle >> 20,
        total >> 20
    );
    // The target for any size (64 MiB above idle); holding the message whole, or even one
    // attachment with the payload, would take 128 MiB or more.
    assert!(
        grown < 64 << 20,
        "berth's peak memory grew by {} MiB for {} MiB of attachments",
        grown >> 20,
        total >> 20
    );
    let spool = deployment.path().join("data/spool");
    let left = || -> Vec<_> {
        match std::fs::read_dir(&spool) {
            Ok(entries) => entries.map(|e| e.unwrap().path()).collect(),
            Err(_) => Vec::new(),
        }
    };
    assert!(left().is_empty(), "spool files left: {:?}", left());
    // A resend is split again before the host finds it a duplicate: its part files, never
    // taken, go with the request.
    let again = send(&url, &from, message_id, &message, &keys);
    assert_eq!(
        (&again.disposition, &again.mic),
        (&mdn.disposition, &mdn.mic)
    );
    let mut listed = documents_of(&deployment, message_id);
    listed.retain(|(state, _)| state != "duplicate");
    assert_eq!(listed.len(), 3, "a resend stores no document again");
    assert!(left().is_empty(), "spool files left: {:?}", left());
    drop(berth);
}
