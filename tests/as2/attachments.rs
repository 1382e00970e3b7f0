//! The helpers of tests/tests/as2_attachments.rs: the generator of messages with several
//! attachments (tests/as2/attachments_message.py), the sender that checks the signed MDN with
//! `openssl smime`, the deployment with one pair per AS2 connector, and what berth logged and
//! listed. Included with `#[path]`.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use berth_e2e::{free_port, Deployment};
use serde_json::{json, Value};

use super::common::{self, Keys, US};

/// The message the generator wrote, and what it says a receiver must find.
pub struct Message {
    pub body: std::path::PathBuf,
    pub len: u64,
    pub mic: String,
    /// Each attachment's name, length and SHA-256 (hex).
    pub parts: Vec<(String, u64, String)>,
}

/// One attachment of a message to generate.
pub fn part(name: &str, mime_type: &str, cte: &str, data: &[u8]) -> Value {
    json!({ "name": name, "type": mime_type, "cte": cte, "data_b64": common::base64(data) })
}

pub fn generate(dir: &Path, keys: &Keys, parts: Vec<Value>) -> Message {
    generate_with(dir, keys, json!({ "parts": parts }))
}

/// As [`generate`], from a whole spec (see the script).
pub fn generate_with(dir: &Path, keys: &Keys, mut spec: Value) -> Message {
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
pub struct Mdn {
    pub as2_version: String,
    pub features: String,
    pub disposition: String,
    pub mic: String,
}

/// Sends the message from `from` with a signed synchronous MDN requested, and checks the MDN's
/// signature with berth's certificate alone.
pub fn send(url: &str, from: &str, message_id: &str, message: &Message, keys: &Keys) -> Mdn {
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
pub fn documents_of(deployment: &Deployment, message_id: &str) -> Vec<(String, String)> {
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

pub fn listed_documents_of(deployment: &Deployment, message_id: &str) -> Vec<(String, String)> {
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
pub fn process(
    name: &str,
    connector: &str,
    connection: Option<&str>,
    from: &str,
    tag: &str,
) -> String {
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
pub fn deployment() -> (Deployment, Keys, Vec<(&'static str, String, String)>) {
    deployment_with("")
}

/// As [`deployment`], with more lines in berth.yaml (the store's).
pub fn deployment_with(settings: &str) -> (Deployment, Keys, Vec<(&'static str, String, String)>) {
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
pub fn logged(log: &str, tag: &str, message_id: &str) -> Vec<(String, String, String, String)> {
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
