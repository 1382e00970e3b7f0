//! Certificate expiry through the real binary: `berth certs` lists what an AS2 deployment uses,
//! soonest first with the expired one marked; `/metrics` carries the seconds left; berth warns
//! at start; `berth validate` warns about the window and refuses a key that is not its
//! certificate's, naming the file and the field. Certificates are made by the `openssl` command
//! (`-days`) and, for the one already expired, by the openssl crate with explicit dates.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use berth_e2e::tls::write_self_signed;
use berth_e2e::{client, free_port, output_text, Deployment};
use openssl::asn1::Asn1Time;
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::rsa::Rsa;
use openssl::x509::{X509NameBuilder, X509};

const DAY: i64 = 86_400;

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A self-signed certificate and key from the `openssl` command, valid for `days`.
fn openssl_req(dir: &Path, name: &str, cn: &str, days: u32) {
    let out = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256"])
        .args(["-days", &days.to_string(), "-subj", &format!("/CN={cn}")])
        .arg("-keyout")
        .arg(dir.join(format!("{name}.key")))
        .arg("-out")
        .arg(dir.join(format!("{name}.pem")))
        .output()
        .expect("run openssl");
    assert!(out.status.success(), "{}", output_text(&out));
}

/// A certificate valid from 40 days ago until `ended_days_ago` days ago.
fn expired(dir: &Path, name: &str, cn: &str, ended_days_ago: i64) {
    let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
    let mut subject = X509NameBuilder::new().unwrap();
    subject.append_entry_by_text("CN", cn).unwrap();
    let subject = subject.build();
    let mut builder = X509::builder().unwrap();
    builder.set_version(2).unwrap();
    builder.set_subject_name(&subject).unwrap();
    builder.set_issuer_name(&subject).unwrap();
    builder.set_pubkey(&key).unwrap();
    let start = Asn1Time::from_unix(now() - 40 * DAY).unwrap();
    let end = Asn1Time::from_unix(now() - ended_days_ago * DAY).unwrap();
    builder.set_not_before(&start).unwrap();
    builder.set_not_after(&end).unwrap();
    builder.sign(&key, MessageDigest::sha256()).unwrap();
    std::fs::write(
        dir.join(format!("{name}.pem")),
        builder.build().to_pem().unwrap(),
    )
    .unwrap();
}

fn sha256(file: &Path) -> String {
    let cert = X509::from_pem(&std::fs::read(file).unwrap()).unwrap();
    let digest = cert.digest(MessageDigest::sha256()).unwrap();
    digest
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn process(name: &str, connector: &str, connection: Option<&str>, operation: &str) -> String {
    let connection = connection
        .map(|c| format!("  connection: {c}\n"))
        .unwrap_or_default();
    format!(
        "name: {name}\nstart:\n  connector: {connector}\n{connection}  operation:\n{operation}\
         steps:\n  - log:\n      message: received\n"
    )
}

/// An AS2 deployment: partner certificates that expire in 10 days and expired 2 days ago on the
/// shared server, our decryption key for a year, and a legacy connection with HTTPS.
fn deployment(decryption_key: &str) -> (Deployment, u16) {
    let deployment = Deployment::new();
    let keys = deployment.path().join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    openssl_req(&keys, "soon", "partner-soon", 10);
    expired(&keys, "old", "partner-old", 2);
    openssl_req(&keys, "ours", "berth-ours", 365);
    openssl_req(&keys, "other", "someone-else", 365);
    write_self_signed(&keys, "tls.pem", "tls.key");
    let (shared, legacy, tls, admin) = (free_port(), free_port(), free_port(), free_port());
    deployment.write(
        "berth.yaml",
        &format!(
            "shared_server:\n  address: 127.0.0.1\n  port: {shared}\nadmin:\n  address: \
             127.0.0.1\n  port: {admin}\ncertificates:\n  warn_days: 30\n"
        ),
    );
    deployment.write(
        "processes/partner.yaml",
        &process(
            "partner",
            "as2-shared-server",
            None,
            &format!(
                "    as2_from: THEM\n    as2_to: US\n\
                 \x20   partner_certificates: [keys/soon.pem, keys/old.pem]\n\
                 \x20   decryption_key:\n\
                 \x20     key: {decryption_key}\n\
                 \x20     certificate: keys/ours.pem\n"
            ),
        ),
    );
    deployment.write(
        "connections/as2-in.yaml",
        &format!(
            "name: as2-in\nconnector: as2-server-legacy\nsettings:\n  address: 127.0.0.1\n  \
             port: {legacy}\n  tls: {{ port: {tls}, certificate: keys/tls.pem, \
             private_key: keys/tls.key }}\n"
        ),
    );
    deployment.write(
        "processes/legacy.yaml",
        &process(
            "legacy",
            "as2-server-legacy",
            Some("as2-in"),
            "    as2_from: THEM\n    as2_to: LEGACY\n",
        ),
    );
    (deployment, admin)
}

/// The value of the one gauge sample whose labels include `labels`.
fn gauge(metrics: &str, labels: &[(&str, &str)]) -> f64 {
    let found: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("berth_certificate_expiry_seconds{"))
        .filter(|l| {
            labels
                .iter()
                .all(|(k, v)| l.contains(&format!("{k}=\"{v}\"")))
        })
        .collect();
    assert_eq!(found.len(), 1, "{labels:?} in:\n{metrics}");
    found[0].rsplit(' ').next().unwrap().parse().unwrap()
}

#[test]
fn certs_metrics_warnings_and_validate_show_what_expires() {
    let (deployment, admin) = deployment("keys/ours.key");
    let keys = deployment.path().join("keys");

    let listed = deployment.berth(&["certs"]);
    let text = String::from_utf8_lossy(&listed.stdout).to_string();
    assert!(listed.status.success(), "{}", output_text(&listed));
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("DAYS LEFT"), "{text}");
    // Soonest first: the expired partner certificate, the one ending in 10 days, then the
    // HTTPS and our own certificates a year out.
    assert!(lines[1].starts_with("EXPIRED -2 "), "{text}");
    assert!(
        lines[1].contains("partner") && lines[1].contains("partner-signature"),
        "{text}"
    );
    assert!(
        lines[1].contains("CN=partner-old") && lines[1].contains("keys/old.pem"),
        "{text}"
    );
    assert!(lines[1].contains(&sha256(&keys.join("old.pem"))), "{text}");
    assert!(lines[2].starts_with("10 "), "{text}");
    assert!(lines[2].contains("CN=partner-soon"), "{text}");
    assert!(lines[2].contains(&sha256(&keys.join("soon.pem"))), "{text}");
    let rest = lines[3..].join("\n");
    assert!(
        rest.contains("CN=berth-ours") && rest.contains("decryption"),
        "{text}"
    );
    assert!(rest.contains("keys/ours.key"), "{text}");
    let tls = lines.iter().find(|l| l.contains(" tls ")).expect(&text);
    assert!(
        tls.contains("legacy") && tls.contains("keys/tls.pem"),
        "{text}"
    );
    assert_eq!(lines.len(), 5, "{text}");

    let validated = deployment.berth(&["validate"]);
    let text = output_text(&validated);
    assert!(validated.status.success(), "{text}");
    assert!(text.contains("warning: certificate keys/soon.pem (CN=partner-soon) of process `partner` (partner-signature) expires in 10 days"), "{text}");
    assert!(text.contains("warning: certificate keys/old.pem (CN=partner-old) of process `partner` (partner-signature) EXPIRED 2 days ago"), "{text}");
    assert!(!text.contains("berth-ours"), "outside the window: {text}");

    let berth = deployment.start_with(&["--log-format", "json"]);
    let log = berth.log();
    let warnings: Vec<serde_json::Value> = log
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|l| l["level"] == "WARN" && l["fields"]["file"].is_string())
        .map(|l| l["fields"].clone())
        .collect();
    let soon = warnings
        .iter()
        .find(|w| w["file"] == "keys/soon.pem")
        .unwrap_or_else(|| panic!("no warning at start:\n{log}"));
    assert_eq!(
        soon["message"],
        "certificate expires soon: renew it and deploy the new one"
    );
    assert_eq!(soon["process"], "partner");
    assert_eq!(soon["role"], "partner-signature");
    assert_eq!(soon["subject"], "CN=partner-soon");
    assert_eq!(soon["days_left"], 10);
    let old = warnings
        .iter()
        .find(|w| w["file"] == "keys/old.pem")
        .expect(&log);
    assert!(
        old["message"].as_str().unwrap().contains("EXPIRED"),
        "{old}"
    );
    assert_eq!(old["days_left"], -2);
    assert!(
        !warnings.iter().any(|w| w["subject"] == "CN=berth-ours"),
        "{log}"
    );

    let metrics = client()
        .get(format!("http://127.0.0.1:{admin}/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    let soon = gauge(
        &metrics,
        &[("process", "partner"), ("subject", "CN=partner-soon")],
    );
    assert!(
        (10.0 * DAY as f64 - 600.0..=10.0 * DAY as f64).contains(&soon),
        "{soon}"
    );
    let old = gauge(
        &metrics,
        &[("role", "partner-signature"), ("subject", "CN=partner-old")],
    );
    assert!(
        (-2.0 * DAY as f64 - 600.0..=-2.0 * DAY as f64).contains(&old),
        "{old}"
    );
    let ours = gauge(
        &metrics,
        &[("role", "decryption"), ("subject", "CN=berth-ours")],
    );
    assert!(ours > 364.0 * DAY as f64, "{ours}");
    gauge(
        &metrics,
        &[
            ("process", "legacy"),
            ("role", "tls"),
            ("subject", "CN=localhost"),
        ],
    );
    berth.terminate(Duration::from_secs(10));
}

#[test]
fn validate_refuses_a_key_that_is_not_its_certificates_naming_file_and_field() {
    let (deployment, _) = deployment("keys/other.key");
    let validated = deployment.berth(&["validate"]);
    let text = output_text(&validated);
    assert!(!validated.status.success(), "{text}");
    let error = text
        .lines()
        .find(|l| l.contains("does not belong"))
        .unwrap_or_else(|| panic!("no refusal:\n{text}"));
    assert!(error.contains("processes/partner.yaml:"), "{error}");
    assert!(
        error.contains("decryption_key.key") || error.contains("decryption_key/key"),
        "{error}"
    );
    assert!(
        error.contains("keys/other.key") && error.contains("keys/ours.pem"),
        "{error}"
    );
    // `berth certs` still lists everything, with the mismatch marked.
    let listed = deployment.berth(&["certs"]);
    let text = output_text(&listed);
    assert!(listed.status.success(), "{text}");
    assert!(text.contains("keys/other.key (DOES NOT MATCH)"), "{text}");
}
