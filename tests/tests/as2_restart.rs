//! AS2 Restart (draft-harding-as2-restart), the receiving side, through the real binary: a large
//! signed and encrypted message (built with `openssl cms`) cut off mid-transfer by a raw client,
//! berth stopped with SIGTERM and started again, a `HEAD` that answers the bytes kept, a resume
//! at a wrong offset refused, the rest sent with `Content-Range`, and the delivered payload's
//! SHA-256 and the MDN's MIC checked; and a cut-off transfer purged once older than its age.
//!
//! The message is 64 MiB; `BERTH_RESTART_TEST_BYTES=1073741824` runs the 1 GiB case.

#[path = "../as2/common.rs"]
mod common;

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom, Write};
use std::net::{Shutdown, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use berth_e2e::{free_port, Deployment};
use common::{Keys, PARTNER, US};
use openssl::sha::Sha256;

const ETAG: &str = "\"restart-test-transfer-1\"";

fn payload_bytes() -> u64 {
    std::env::var("BERTH_RESTART_TEST_BYTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64 << 20)
}

fn connection(port: u16) -> String {
    format!("name: as2-in\nconnector: as2-server-legacy\nsettings:\n  address: 127.0.0.1\n  port: {port}\n")
}

/// A pair that restarts transfers, keeping them `age` seconds; the payload goes to `inbox/`.
fn process(age: u64) -> String {
    format!(
        "name: partner\nstart:\n  connector: as2-server-legacy\n  connection: as2-in\n  operation:\n\
         \x20   as2_from: {PARTNER}\n    as2_to: {US}\n    partner_certificate: keys/partner.pem\n\
         \x20   decryption_key: {{ key: keys/berth.key, certificate: keys/berth.pem }}\n\
         \x20   mdn_signing_key: {{ key: keys/berth-both.pem }}\n\
         \x20   max_message_bytes: 4294967296\n    max_decompressed_bytes: 4294967296\n\
         \x20   as2_restart: true\n    as2_restart_max_age_seconds: {age}\n\
         steps:\n  - write_file: {{ directory: inbox, file_name: \"${{file_name}}\" }}\n"
    )
}

/// The message on the wire (a DER EnvelopedData), with what the receiver must make of it.
struct Message {
    body: PathBuf,
    len: u64,
    payload_sha256: String,
    /// The MIC the MDN must carry: SHA-256 over the signed MIME entity, base64.
    mic: String,
}

fn openssl(args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Signs then encrypts `size` random bytes as a partner would, in `work`.
fn build_message(work: &Path, keys: &Keys, size: u64) -> Message {
    let file = |name: &str| work.join(name).display().to_string();
    openssl(&["rand", "-out", &file("payload.bin"), &size.to_string()]);
    let payload_sha256 = sha256_of(&work.join("payload.bin")).0;
    {
        let mut entity = std::fs::File::create(work.join("entity.mime")).unwrap();
        entity
            .write_all(
                b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\
                  Content-Disposition: attachment; filename=\"big.bin\"\r\n\r\n",
            )
            .unwrap();
        let mut payload = std::fs::File::open(work.join("payload.bin")).unwrap();
        std::io::copy(&mut payload, &mut entity).unwrap();
    }
    std::fs::remove_file(work.join("payload.bin")).unwrap();
    let mic = openssl::base64::encode_block(&sha256_of(&work.join("entity.mime")).1);
    openssl(&[
        "cms",
        "-sign",
        "-binary",
        "-crlfeol",
        "-md",
        "sha256",
        "-in",
        &file("entity.mime"),
        "-signer",
        &keys.file("partner.pem"),
        "-inkey",
        &keys.file("partner.key"),
        "-out",
        &file("signed.mime"),
    ]);
    std::fs::remove_file(work.join("entity.mime")).unwrap();
    openssl(&[
        "cms",
        "-encrypt",
        "-binary",
        "-aes256",
        "-in",
        &file("signed.mime"),
        "-outform",
        "DER",
        "-out",
        &file("body.der"),
        &keys.file("berth.pem"),
    ]);
    std::fs::remove_file(work.join("signed.mime")).unwrap();
    let body = work.join("body.der");
    let len = std::fs::metadata(&body).unwrap().len();
    Message {
        body,
        len,
        payload_sha256,
        mic,
    }
}

/// SHA-256 of a file as hex and as bytes, read as a stream.
fn sha256_of(path: &Path) -> (String, [u8; 32]) {
    let mut file = std::fs::File::open(path).unwrap();
    let mut sha = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        sha.update(&buf[..n]);
    }
    let digest = sha.finish();
    (digest.iter().map(|b| format!("{b:02x}")).collect(), digest)
}

/// The head of a request of the transfer: the AS2 headers the sender repeats on each request.
fn head(method: &str, port: u16, extra: &[(&str, String)]) -> String {
    let mut text = format!(
        "{method} /as2 HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\
         AS2-Version: 1.2\r\nAS2-From: {PARTNER}\r\nAS2-To: {US}\r\n\
         Message-ID: <restart-1@partner.example>\r\nSubject: a large order\r\n\
         Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m\r\n\
         Disposition-Notification-To: partner@example.com\r\n\
         Disposition-Notification-Options: signed-receipt-protocol=optional, pkcs7-signature; \
         signed-receipt-micalg=optional, sha-256\r\nETag: {ETAG}\r\n"
    );
    for (name, value) in extra {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str("\r\n");
    text
}

/// Writes `len` bytes of `file` from `from` to `stream`.
fn send_part(stream: &mut TcpStream, file: &Path, from: u64, len: u64) {
    let mut file = std::fs::File::open(file).unwrap();
    file.seek(SeekFrom::Start(from)).unwrap();
    std::io::copy(&mut file.take(len), stream).expect("send the body");
}

struct Answer {
    status: u16,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

/// Reads an answer to the end of the connection (every request says `Connection: close`).
fn answer(mut stream: TcpStream) -> Answer {
    stream
        .set_read_timeout(Some(Duration::from_secs(300)))
        .unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read the answer");
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a head");
    let text = String::from_utf8_lossy(&raw[..end]).to_string();
    let mut lines = text.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Answer {
        status,
        headers,
        body: raw[end + 4..].to_vec(),
    }
}

fn connect(port: u16) -> TcpStream {
    TcpStream::connect(("127.0.0.1", port)).expect("connect to berth")
}

/// Opens a resumed POST of the bytes from `from` of a `total`-byte body: its head is sent, the
/// caller sends the bytes (or none).
fn resume(port: u16, from: u64, total: u64) -> TcpStream {
    let mut stream = connect(port);
    let range = [
        (
            "Content-Range",
            format!("bytes {from}-{}/{total}", total - 1),
        ),
        ("Content-Length", (total - from).to_string()),
    ];
    stream
        .write_all(head("POST", port, &range).as_bytes())
        .unwrap();
    stream
}

/// Starts the transfer, sends `cut` bytes and cuts the connection off.
fn send_cut_off(port: u16, message: &Message, cut: u64) {
    let mut stream = connect(port);
    let length = [("Content-Length", message.len.to_string())];
    stream
        .write_all(head("POST", port, &length).as_bytes())
        .unwrap();
    send_part(&mut stream, &message.body, 0, cut);
    // A FIN, not a reset: every byte sent arrives before the end of the stream.
    stream.shutdown(Shutdown::Write).unwrap();
    let _ = answer(stream);
}

fn ask_received(port: u16) -> Answer {
    let mut stream = connect(port);
    stream
        .write_all(head("HEAD", port, &[]).as_bytes())
        .unwrap();
    answer(stream)
}

fn kept_files(deployment: &Deployment) -> Vec<String> {
    match std::fs::read_dir(deployment.path().join("data/restart")) {
        Ok(entries) => entries
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .collect(),
        Err(_) => Vec::new(),
    }
}

#[test]
fn a_transfer_cut_off_survives_a_restart_and_completes_with_content_range() {
    let port = free_port();
    let deployment = Deployment::new();
    let keys = Keys::create(deployment.path());
    deployment.write("connections/as2-in.yaml", &connection(port));
    deployment.write("processes/partner.yaml", &process(86_400));
    let work = tempfile::tempdir().unwrap();
    let message = build_message(work.path(), &keys, payload_bytes());
    let cut = message.len / 2 + 12_345;

    let berth = deployment.start();
    send_cut_off(port, &message, cut);
    berth.wait_for_log("a transfer was cut off", Duration::from_secs(60));
    let log = berth.log();
    assert!(log.contains("127.0.0.1:"), "the peer is named: {log}");
    berth.terminate(Duration::from_secs(30));
    let kept = kept_files(&deployment);
    assert_eq!(
        kept.len(),
        2,
        "the body and its metadata are on disk: {kept:?}"
    );

    let berth = deployment.start();
    let received = ask_received(port);
    assert_eq!(received.status, 200);
    assert_eq!(
        received.headers.get("content-length"),
        Some(&cut.to_string())
    );
    assert!(received.body.is_empty(), "a HEAD has no body");

    // A resume from the wrong offset is refused with what is kept, and logged.
    let wrong = cut + 1;
    let stream = resume(port, wrong, message.len);
    let refused = answer(stream);
    assert_eq!(refused.status, 416);
    assert_eq!(
        refused.headers.get("content-range"),
        Some(&format!("bytes */{cut}"))
    );
    berth.wait_for_log("refused an AS2 restart request", Duration::from_secs(10));
    assert_eq!(
        ask_received(port).headers.get("content-length"),
        Some(&cut.to_string())
    );

    let mut stream = resume(port, cut, message.len);
    send_part(&mut stream, &message.body, cut, message.len - cut);
    let done = answer(stream);
    let mdn = String::from_utf8_lossy(&done.body).to_string();
    assert_eq!(done.status, 200, "{mdn}\n{}", berth.log());
    assert!(mdn.contains("processed"), "{mdn}");
    assert!(
        mdn.contains(&message.mic),
        "the MDN carries the MIC {}: {mdn}",
        message.mic
    );
    let features = done
        .headers
        .get("ediint-features")
        .cloned()
        .unwrap_or_default();
    assert!(features.contains("AS2-Restart"), "{features}");

    let delivered = deployment.path().join("inbox/big.bin");
    assert_eq!(sha256_of(&delivered).0, message.payload_sha256);
    assert!(
        kept_files(&deployment)
            .iter()
            .all(|f| !f.ends_with(".json")),
        "nothing is left"
    );
    berth.terminate(Duration::from_secs(30));
}

#[test]
fn a_cut_off_transfer_older_than_its_age_is_purged_and_cannot_be_resumed() {
    let port = free_port();
    let deployment = Deployment::new();
    let keys = Keys::create(deployment.path());
    deployment.write("connections/as2-in.yaml", &connection(port));
    deployment.write("processes/partner.yaml", &process(1));
    let work = tempfile::tempdir().unwrap();
    let message = build_message(work.path(), &keys, 1 << 20);
    let cut = 100_000;

    let berth = deployment.start();
    send_cut_off(port, &message, cut);
    berth.wait_for_log("a transfer was cut off", Duration::from_secs(60));
    berth.terminate(Duration::from_secs(30));
    assert_eq!(kept_files(&deployment).len(), 2);
    std::thread::sleep(Duration::from_millis(2_500));

    let berth = deployment.start();
    berth.wait_for_log("purged a cut-off AS2 transfer", Duration::from_secs(10));
    assert!(
        kept_files(&deployment).is_empty(),
        "{:?}",
        kept_files(&deployment)
    );
    assert_eq!(
        ask_received(port).headers.get("content-length"),
        Some(&"0".to_string())
    );
    let stream = resume(port, cut, message.len);
    let refused = answer(stream);
    assert_eq!(refused.status, 416);
    berth.wait_for_log("no bytes of this transfer", Duration::from_secs(10));
    berth.terminate(Duration::from_secs(30));
}
