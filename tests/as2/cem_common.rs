//! What the CEM end-to-end tests share: the partner's side (tests/as2/cem.py) run from the test
//! virtualenv, the partner's keys, and the checks on berth's answers. Included with `#[path]`
//! by tests/tests/as2_cem*.rs.
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

use berth_e2e::receiver::Received;
use berth_e2e::tls::write_self_signed;
use berth_e2e::{client, Deployment};
use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::rsa::Rsa;
use openssl::x509::{X509Builder, X509NameBuilder, X509};
use serde_json::{json, Value};

use super::common::*;

/// Seconds between the request and its respond-by date: room for the checks made before it.
pub const RESPOND_IN: u64 = 30;

pub fn run_cem(mode: &str, spec: &Value, work: &Path, name: &str) -> Value {
    let file = work.join(format!("{name}.json"));
    std::fs::write(&file, spec.to_string()).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("as2/cem.py");
    let output = Command::new(python())
        .arg(&script)
        .arg(mode)
        .arg(&file)
        .output()
        .expect("run the CEM partner");
    assert!(
        output.status.success(),
        "cem.py {mode} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("cem.py's JSON")
}

/// The partner's renewed key, and a certificate that expired yesterday.
pub fn partner_keys(keys: &Keys) {
    write_self_signed(&keys.dir, "partner-new.pem", "partner-new.key");
    let mut both = std::fs::read(keys.dir.join("partner-new.key")).unwrap();
    both.extend(std::fs::read(keys.dir.join("partner-new.pem")).unwrap());
    std::fs::write(keys.dir.join("partner-new-both.pem"), both).unwrap();
    let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", "partner-expired").unwrap();
    let name = name.build();
    let mut builder = X509Builder::new().unwrap();
    builder.set_version(2).unwrap();
    let serial = BigNum::from_u32(4242).unwrap().to_asn1_integer().unwrap();
    builder.set_serial_number(&serial).unwrap();
    builder.set_subject_name(&name).unwrap();
    builder.set_issuer_name(&name).unwrap();
    builder.set_pubkey(&key).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    builder
        .set_not_before(&Asn1Time::from_unix(now - 10 * 86_400).unwrap())
        .unwrap();
    builder
        .set_not_after(&Asn1Time::from_unix(now - 86_400).unwrap())
        .unwrap();
    builder.sign(&key, MessageDigest::sha256()).unwrap();
    let pem = builder.build().to_pem().unwrap();
    std::fs::write(keys.dir.join("partner-expired.pem"), pem).unwrap();
}

pub fn fingerprint(pem_file: &Path) -> String {
    let cert = X509::from_pem(&std::fs::read(pem_file).unwrap()).unwrap();
    let digest = cert.digest(MessageDigest::sha256()).unwrap();
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn cem_operation() -> String {
    operation(PARTNER, "accept_certificate_exchange: true")
}

pub fn admin_get(deployment: &Deployment, admin: u16, path: &str) -> Value {
    let token = std::fs::read_to_string(deployment.path().join("data/admin.token")).unwrap();
    let response = client()
        .get(format!("http://127.0.0.1:{admin}{path}"))
        .bearer_auth(token.trim())
        .send()
        .unwrap();
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
    serde_json::from_slice(&response.bytes().unwrap()).unwrap()
}

/// The CEM response as the receiver got it, checked by the partner's side.
pub fn response_of(received: &Received, keys: &Keys, work: &Path, name: &str) -> Value {
    let mut raw = received.headers.join("\r\n").into_bytes();
    raw.extend_from_slice(b"\r\n\r\n");
    raw.extend_from_slice(&received.body);
    let file = work.join(format!("{name}.msg"));
    std::fs::write(&file, raw).unwrap();
    let spec = json!({ "message": file, "verify_cert": keys.file("berth.pem") });
    run_cem("response", &spec, work, &format!("{name}-check"))
}

/// A message signed with `sign` (pyas2lib), answered by a synchronous MDN.
pub fn message(url: &str, keys: &Keys, work: &Path, id: &str, sign: &str) -> Value {
    let case = Case::new(id, PARTNER, 0, keys)
        .set("digest", json!("sha256"))
        .set("sign_key", json!(keys.file(sign)))
        .set("encrypt_cert", json!(null))
        .set("mdn", json!("sync"));
    send(url, &[case], work).remove(id).unwrap().remove(0)
}

pub fn assert_accepted(result: &Value, what: &str) {
    assert_eq!(result["http_status"], 200, "{what}: {result}");
    assert_eq!(result["status"], "processed", "{what}: {result}");
}

pub fn assert_authentication_failed(result: &Value, what: &str) {
    assert_eq!(result["http_status"], 200, "{what}: {result}");
    let disposition = result["disposition"].as_str().unwrap_or_default();
    assert!(
        disposition.contains("authentication-failed"),
        "{what}: {result}"
    );
}
