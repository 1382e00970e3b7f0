//! A large AS2 message (signed, encrypted, compressed; generated in a temporary folder as the
//! test runs, never stored in git) through the real binary: both AS2 listen connectors unwrap it
//! as one stream into the stored payload, every step kind handles it, the delivered bytes match
//! by SHA-256, the signed MDN carries the MIC computed independently by the generator, and
//! berth's memory stays far below the payload's size. Also on the PostgreSQL backend.

#[path = "../as2/common.rs"]
mod common;

use std::io::Read;
use std::path::Path;
use std::process::Command;
use std::thread::JoinHandle;
use std::time::Duration;

use berth_e2e::large::{hash_of, is_root, memory_kib, receiver, Tmpfs};
use berth_e2e::postgres::PgServer;
use berth_e2e::{free_port, Deployment};
use common::{Keys, PARTNER, US};
use serde_json::Value;

/// The payload: far above every buffer of berth and above the spooling threshold once
/// compressed, encrypted and signed; small enough for a debug build.
const LARGE: u64 = 128 << 20;

/// The message `tests/as2/large_message.py` wrote, and what it says a receiver must find.
struct Message {
    body: std::path::PathBuf,
    len: u64,
    payload_sha256: String,
    mic: String,
}

fn generate(dir: &Path, keys: &Keys) -> Message {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("as2/large_message.py");
    let out = Command::new("python3")
        .arg(script)
        .arg(dir)
        .arg(LARGE.to_string())
        .args([
            keys.file("partner.pem"),
            keys.file("partner.key"),
            keys.file("berth.pem"),
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "large_message.py: {stderr}");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    Message {
        body: v["body"].as_str().unwrap().into(),
        len: v["body_len"].as_u64().unwrap(),
        payload_sha256: v["payload_sha256"].as_str().unwrap().into(),
        mic: v["mic"].as_str().unwrap().into(),
    }
}

/// Every step kind on the payload: a property set and routed on, the payload written to a
/// file under its AS2 file name, sent to the loopback receiver, and returned (which an AS2
/// listener answers with its MDN all the same).
fn process(connector: &str, connection: Option<&str>, receiver_port: u16) -> String {
    let connection = connection
        .map(|c| format!("  connection: {c}\n"))
        .unwrap_or_default();
    let operation = common::operation(PARTNER, "");
    format!(
        r#"name: large
start:
  connector: {connector}
{connection}  operation:
{operation}steps:
  - set_properties:
      sender: "${{as2.from}}"
  - route:
      property: sender
      cases:
        - equals: {PARTNER}
          steps:
            - write_file: {{ directory: inbox, file_name: "${{file_name}}" }}
  - http_send:
      url: "http://127.0.0.1:{receiver_port}/in"
      timeout_seconds: 300
  - log:
      level: info
      message: "LARGE-AS2|${{file_name}}|${{as2.mic}}|${{as2.security}}|${{message_id}}"
  - return:
"#
    )
}

/// Sends the message with a signed synchronous MDN requested; gives the MDN as one MIME entity
/// (its Content-Type, an empty line, the body) for `openssl smime -verify`.
fn send(url: &str, message: &Message) -> Vec<u8> {
    let client = reqwest::blocking::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(300))
        .build()
        .unwrap();
    let file = std::fs::File::open(&message.body).unwrap();
    let response = client
        .post(url)
        .header("AS2-Version", "1.2")
        .header("AS2-From", PARTNER)
        .header("AS2-To", US)
        .header("Message-ID", "<large-1@partner>")
        .header("Subject", "large")
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
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        content_type.starts_with("multipart/signed"),
        "{content_type}"
    );
    let mut entity = format!("Content-Type: {content_type}\r\n\r\n").into_bytes();
    entity.extend_from_slice(&response.bytes().unwrap());
    entity
}

/// The MDN's signature checked with berth's certificate alone (`-nointern`: a signature by any
/// other key fails), its disposition `processed`, and its MIC the generator's.
fn check_mdn(mdn: &[u8], keys: &Keys, dir: &Path, mic: &str) {
    let file = dir.join("mdn.msg");
    std::fs::write(&file, mdn).unwrap();
    let verified = Command::new("openssl")
        .args(["smime", "-verify", "-noverify", "-nointern", "-certfile"])
        .arg(keys.file("berth.pem"))
        .arg("-in")
        .arg(&file)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&verified.stdout);
    assert!(
        verified.status.success(),
        "MDN signature: {}",
        String::from_utf8_lossy(&verified.stderr)
    );
    let field = |name: &str| {
        report
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(str::trim)
            .unwrap_or_else(|| panic!("no {name} in {report}"))
            .to_string()
    };
    assert_eq!(field("Received-Content-MIC:"), format!("{mic}, sha-256"));
    assert!(
        field("Disposition:").ends_with("processed"),
        "{}",
        field("Disposition:")
    );
}

/// Starts the deployment (its `large` process written for `receiver`), sends the large
/// message to `url` and checks every delivery, the MDN, the logged properties and the memory.
fn through_every_step(
    deployment: &Deployment,
    keys: &Keys,
    url: &str,
    receiver: JoinHandle<(u64, String, bool)>,
) -> berth_e2e::Berth {
    let work = tempfile::tempdir().unwrap();
    let message = generate(work.path(), keys);
    let berth = deployment.start();
    let idle = memory_kib(berth.pid()).0 << 10;
    let mdn = send(url, &message);
    check_mdn(&mdn, keys, work.path(), &message.mic);
    let delivered = (LARGE, message.payload_sha256.clone());
    let written = deployment.path().join("inbox/large.edi");
    let mut written = std::fs::File::open(written).unwrap();
    assert_eq!(hash_of(&mut written), delivered, "write_file");
    let (len, hash, _sized) = receiver.join().unwrap();
    assert_eq!((len, hash), delivered, "http_send");
    berth.wait_for_log("LARGE-AS2|", Duration::from_secs(10));
    let log = berth.log();
    let line = log.lines().find(|l| l.contains("LARGE-AS2|")).unwrap();
    let expected = format!(
        "LARGE-AS2|large.edi|{}, sha-256|encrypted,signed(sha-256),compressed|<large-1@partner>",
        message.mic
    );
    assert!(line.contains(&expected), "{line}");
    // The old path held the payload in memory (at least LARGE); the stream holds buffers.
    let grown = (memory_kib(berth.pid()).0 << 10).saturating_sub(idle);
    assert!(
        grown < LARGE / 4,
        "berth's peak memory grew by {} MiB for a {} MiB payload",
        grown >> 20,
        LARGE >> 20
    );
    let spool = deployment.path().join("data/spool");
    let left: Vec<_> = match std::fs::read_dir(&spool) {
        Ok(entries) => entries.map(|e| e.unwrap().path()).collect(),
        Err(_) => Vec::new(),
    };
    assert!(left.is_empty(), "spool files left: {left:?}");
    berth
}

/// The sizes of the files in the SQLite store's payload folder.
fn stored_payloads(deployment: &Deployment) -> Vec<u64> {
    let dir = deployment.path().join("data/payloads");
    let mut sizes: Vec<u64> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .collect();
    sizes.sort_unstable();
    sizes
}

fn legacy(deployment: &Deployment, port: u16, receiver_port: u16) {
    deployment.write(
        "connections/as2-in.yaml",
        &format!(
            "name: as2-in\nconnector: as2-server-legacy\nsettings:\n  address: 127.0.0.1\n  port: {port}\n"
        ),
    );
    deployment.write(
        "processes/large.yaml",
        &process("as2-server-legacy", Some("as2-in"), receiver_port),
    );
}

#[test]
fn a_large_message_through_the_legacy_server_and_every_step_kind() {
    let (port, (receiver_port, received)) = (free_port(), receiver());
    let deployment = Deployment::new();
    let keys = Keys::create(deployment.path());
    legacy(&deployment, port, receiver_port);
    let url = format!("http://127.0.0.1:{port}/as2");
    let berth = through_every_step(&deployment, &keys, &url, received);
    // The payload is stored once (the file the listener wrote, linked in), beside the evidence
    // (the request as received), which is the encrypted message, not the payload.
    let sizes = stored_payloads(&deployment);
    assert!(sizes.contains(&LARGE), "{sizes:?}");
    assert_eq!(
        sizes.iter().filter(|s| **s >= LARGE).count(),
        1,
        "{sizes:?}"
    );
    drop(berth);
}

#[test]
fn a_large_message_through_the_shared_server_and_every_step_kind() {
    let (port, (receiver_port, received)) = (free_port(), receiver());
    let deployment = Deployment::new();
    let keys = Keys::create(deployment.path());
    deployment.write(
        "berth.yaml",
        &format!("shared_server:\n  address: 127.0.0.1\n  port: {port}\n"),
    );
    deployment.write(
        "processes/large.yaml",
        &process("as2-shared-server", None, receiver_port),
    );
    let url = format!("http://127.0.0.1:{port}/as2");
    let berth = through_every_step(&deployment, &keys, &url, received);
    assert!(stored_payloads(&deployment).contains(&LARGE));
    drop(berth);
}

#[test]
fn a_large_message_through_the_legacy_server_on_postgres() {
    let server = PgServer::shared();
    let db = server.create_database("as2_large");
    let (port, (receiver_port, received)) = (free_port(), receiver());
    let deployment = Deployment::new();
    let keys = Keys::create(deployment.path());
    deployment.write("berth.yaml", &server.store_yaml(deployment.path(), &db));
    legacy(&deployment, port, receiver_port);
    let url = format!("http://127.0.0.1:{port}/as2");
    let berth = through_every_step(&deployment, &keys, &url, received);
    let stored = server.sql(&db, "SELECT payload_len FROM documents");
    assert_eq!(stored.trim(), LARGE.to_string());
    drop(berth);
}

/// A message whose `Content-Length` does not fit on the disk beside the store's reserve gets
/// 413 before its body is read (an HTTP error, not an MDN: see the AS2 listener's `request`),
/// which an AS2 sender takes as a failed transfer to send again; nothing is kept.
#[test]
fn an_oversize_message_is_refused_with_413_before_its_body_is_read() {
    // Nothing reaches the steps, so no receiver listens on their port.
    let (port, receiver_port) = (free_port(), free_port());
    let deployment = Deployment::new();
    Keys::create(deployment.path());
    deployment.write(
        "berth.yaml",
        "store:\n  disk_reserve_bytes: 1000000000000000000\n",
    );
    legacy(&deployment, port, receiver_port);
    let berth = deployment.start();
    let len = 16u64 << 20;
    let body = std::io::repeat(b'x').take(len);
    let client = reqwest::blocking::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let response = client
        .post(format!("http://127.0.0.1:{port}/as2"))
        .header("AS2-Version", "1.2")
        .header("AS2-From", PARTNER)
        .header("AS2-To", US)
        .header("Message-ID", "<oversize@partner>")
        .header(
            "Content-Type",
            "application/pkcs7-mime; smime-type=enveloped-data",
        )
        .header("Disposition-Notification-To", "mdn@partner")
        .body(reqwest::blocking::Body::sized(body, len))
        .send();
    // The answer comes before the body is read; the client may still be writing it.
    if let Ok(response) = response {
        assert_eq!(response.status().as_u16(), 413);
        let text = response.text().unwrap();
        assert!(
            text.contains("does not fit on this server's disk"),
            "{text}"
        );
    }
    berth.wait_for_log(
        "does not fit on the disk beside its reserve",
        Duration::from_secs(10),
    );
    let listed = deployment.berth_documents(&["list"]);
    assert!(!listed.contains("large"), "{listed}");
    assert!(!deployment.path().join("inbox").exists());
}

/// The compressed message fits on the disk, its payload does not: the payload file fills the
/// disk while it is unwrapped, and the sender gets 503 (this side's trouble, to send again
/// later), not an error MDN, which would end the transfer; nothing is kept.
#[test]
fn a_payload_that_fills_the_disk_gets_503_and_nothing_is_kept() {
    if !is_root() {
        eprintln!(
            "SKIPPED: mounting a small tmpfs as the store's disk needs root (CI runs as root)"
        );
        return;
    }
    let (port, receiver_port) = (free_port(), free_port());
    let deployment = Deployment::new();
    let keys = Keys::create(deployment.path());
    let data = deployment.path().join("data");
    let _tmpfs = Tmpfs::mount(&data, "80m");
    deployment.write("berth.yaml", "store:\n  disk_reserve_bytes: 0\n");
    legacy(&deployment, port, receiver_port);
    let work = tempfile::tempdir().unwrap();
    let message = generate(work.path(), &keys);
    assert!(message.len < 60 << 20, "the message itself must fit");
    let berth = deployment.start();
    let client = reqwest::blocking::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(300))
        .build()
        .unwrap();
    let response = client
        .post(format!("http://127.0.0.1:{port}/as2"))
        .header("AS2-Version", "1.2")
        .header("AS2-From", PARTNER)
        .header("AS2-To", US)
        .header("Message-ID", "<too-big-unwrapped@partner>")
        .header(
            "Content-Type",
            "application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m",
        )
        .header("Disposition-Notification-To", "mdn@partner")
        .body(reqwest::blocking::Body::sized(
            std::fs::File::open(&message.body).unwrap(),
            message.len,
        ))
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 503, "{}", berth.log());
    let log = berth.log();
    let line = log.lines().find(|l| l.contains("not stored")).unwrap();
    assert!(line.contains("127.0.0.1:"), "{line}");
    let files = |dir: &str| match std::fs::read_dir(data.join(dir)) {
        Ok(entries) => entries.count(),
        Err(_) => 0,
    };
    assert_eq!((files("spool"), files("payloads")), (0, 0), "files kept");
    drop(berth);
}
