//! Certificates that change without an outage, through the real binary and both AS2
//! connectors, with pyas2lib as the partner: the partner's old and new certificates both verify,
//! messages to our previous and current certificates both decrypt, a stranger's signature gets
//! `authentication-failed`, and the MDN is signed by the key whose `from` time has come (pyas2lib
//! verifies it with the certificate we expect, and fails with any other).

#[path = "../as2/common.rs"]
mod common;

use std::time::Duration;

use berth_e2e::tls::write_self_signed;
use berth_e2e::{free_port, output_text, Deployment};
use common::*;
use serde_json::json;

/// The renewed keys beside `Keys::create`'s: the partner's new certificate, our new one, and
/// the MDN signing key that only starts in 2999.
fn renewed_keys(keys: &Keys) {
    for name in ["partner-new", "berth-new", "mdn-next"] {
        write_self_signed(&keys.dir, &format!("{name}.pem"), &format!("{name}.key"));
        let mut both = std::fs::read(keys.dir.join(format!("{name}.key"))).unwrap();
        both.extend(std::fs::read(keys.dir.join(format!("{name}.pem"))).unwrap());
        std::fs::write(keys.dir.join(format!("{name}-both.pem")), both).unwrap();
    }
}

/// The operation with every list form: two partner certificates, two decryption keys, and MDN
/// signing keys from the start, from 2001 (the one that signs now) and from 2999.
fn rollover_operation() -> String {
    format!(
        "    as2_from: {PARTNER}\n    as2_to: {US}\n\
         \x20   partner_certificates: [keys/partner.pem, keys/partner-new.pem]\n\
         \x20   decryption_keys:\n\
         \x20     - {{ key: keys/berth-new.key, certificate: keys/berth-new.pem }}\n\
         \x20     - {{ key: keys/berth.key, certificate: keys/berth.pem }}\n\
         \x20   mdn_signing_keys:\n\
         \x20     - {{ key: keys/berth-both.pem }}\n\
         \x20     - {{ key: keys/mdn-next-both.pem, from: \"2999-01-01T00:00:00Z\" }}\n\
         \x20     - {{ key: keys/berth-new-both.pem, from: \"2001-01-01T00:00:00Z\" }}\n\
         \x20   require_signed: true\n"
    )
}

/// Messages from the partner across the overlap, each with a signed MDN that pyas2lib checks
/// with `mdn_verify_cert`.
fn cases(keys: &Keys, prefix: &str) -> (Vec<Case>, Vec<Case>, Vec<Case>, Case) {
    let signed = |id: &str, kind: usize, sign: &str, encrypt: &str| {
        Case::new(&format!("{prefix}-{id}"), PARTNER, kind, keys)
            .set("digest", json!("sha256"))
            .set("sign_key", json!(keys.file(sign)))
            .set("enc_alg", json!("aes_256_cbc"))
            .set("encrypt_cert", json!(keys.file(encrypt)))
            .set("mdn", json!("signed"))
            .set("mdn_verify_cert", json!(keys.file("berth-new.pem")))
    };
    let processed = vec![
        signed("old-old", 0, "partner-both.pem", "berth.pem"),
        signed("old-new", 1, "partner-both.pem", "berth-new.pem"),
        signed("new-old", 2, "partner-new-both.pem", "berth.pem"),
        signed("new-new", 0, "partner-new-both.pem", "berth-new.pem")
            .set("key_enc_alg", json!("rsaes_oaep")),
    ];
    // Accepted by berth, but the MDN does not verify with these: neither the superseded key
    // nor the one whose time has not come signs.
    let mdn_not_by = vec![
        signed("mdn-not-old", 1, "partner-new-both.pem", "berth-new.pem")
            .set("mdn_verify_cert", json!(keys.file("berth.pem"))),
        signed("mdn-not-next", 2, "partner-both.pem", "berth.pem")
            .set("mdn_verify_cert", json!(keys.file("mdn-next.pem"))),
    ];
    let refused = vec![
        signed("stranger", 0, "stranger-both.pem", "berth-new.pem"),
        signed("to-nobody", 1, "partner-new-both.pem", "stranger.pem"),
    ];
    let unsigned = Case::new(&format!("{prefix}-unsigned"), PARTNER, 2, keys)
        .set("enc_alg", json!("aes_128_cbc"))
        .set("encrypt_cert", json!(keys.file("berth.pem")))
        .set("mdn", json!("signed"))
        .set("mdn_verify_cert", json!(keys.file("berth-new.pem")));
    (processed, mdn_not_by, refused, unsigned)
}

fn run(deployment: &Deployment, keys: &Keys, url: &str, prefix: &str, log: impl Fn() -> String) {
    let (processed, mdn_not_by, refused, unsigned) = cases(keys, prefix);
    let all: Vec<Case> = processed
        .into_iter()
        .chain(mdn_not_by)
        .chain(refused)
        .chain([unsigned])
        .collect();
    let results = send(url, &all, deployment.path());
    let log = log();
    let lines = received_lines(&log);
    let path = deployment.path();
    for case in &all[..4] {
        assert_processed(case, &results[&case.id][0], path, &lines);
    }
    for case in &all[4..6] {
        let result = &results[&case.id][0];
        assert_eq!(result["http_status"], 200, "{}: {result}", case.id);
        assert_eq!(result["status"], "failed/Failure", "{}: {result}", case.id);
        assert_eq!(result["mdn_signed"], true, "{}: {result}", case.id);
        assert!(
            path.join("inbox").join(case.file_name()).exists(),
            "{}: berth accepted it; only the MDN check is the partner's",
            case.id
        );
    }
    let expect = [
        ("authentication-failed", &all[6]),
        ("decryption-failed", &all[7]),
        ("insufficient-message-security", &all[8]),
    ];
    for (detail, case) in expect {
        let result = &results[&case.id][0];
        assert_error(case, result, "processed/error", detail, path);
        assert_eq!(result["mdn_signed"], true, "{}: {result}", case.id);
    }
    // The refusal names what the stranger's signature asked for.
    assert!(
        log.contains("the signature names issuer CN=localhost, serial"),
        "{log}"
    );
}

#[test]
fn the_shared_server_accepts_both_certificates_of_an_overlap_and_rolls_its_mdn_key() {
    let port = free_port();
    let deployment = Deployment::new();
    let keys = Keys::create(deployment.path());
    renewed_keys(&keys);
    deployment.write(
        "berth.yaml",
        &format!("shared_server:\n  address: 127.0.0.1\n  port: {port}\n"),
    );
    deployment.write(
        "processes/partner.yaml",
        &process("partner", "as2-shared-server", None, &rollover_operation()),
    );
    let berth = deployment.start();
    let url = format!("http://127.0.0.1:{port}/as2");
    run(&deployment, &keys, &url, "shared", || berth.log());
    berth.terminate(Duration::from_secs(10));
}

#[test]
fn the_legacy_server_accepts_both_certificates_of_an_overlap_and_rolls_its_mdn_key() {
    let (port, tls_port) = (free_port(), free_port());
    let deployment = Deployment::new();
    let keys = Keys::create(deployment.path());
    renewed_keys(&keys);
    write_self_signed(&keys.dir, "tls.pem", "tls.key");
    deployment.write(
        "connections/as2-in.yaml",
        &format!(
            "name: as2-in\nconnector: as2-server-legacy\nsettings:\n  address: 127.0.0.1\n  \
             port: {port}\n  tls: {{ port: {tls_port}, certificate: keys/tls.pem, \
             private_key: keys/tls.key }}\n"
        ),
    );
    deployment.write(
        "processes/partner.yaml",
        &process(
            "partner",
            "as2-server-legacy",
            Some("as2-in"),
            &rollover_operation(),
        ),
    );
    let berth = deployment.start();
    let url = format!("https://127.0.0.1:{tls_port}/as2");
    run(&deployment, &keys, &url, "legacy", || berth.log());
    berth.terminate(Duration::from_secs(10));
}

#[test]
fn validate_refuses_both_forms_and_bad_dates_at_their_fields() {
    let deployment = Deployment::new();
    renewed_keys(&Keys::create(deployment.path()));
    let operation = format!(
        "    as2_from: {PARTNER}\n    as2_to: {US}\n\
         \x20   partner_certificate: keys/partner.pem\n\
         \x20   partner_certificates: [keys/partner.pem, keys/partner-new.pem]\n\
         \x20   mdn_signing_keys:\n\
         \x20     - {{ key: keys/berth-both.pem }}\n\
         \x20     - {{ key: keys/berth-new-both.pem, from: \"2027-02-30\" }}\n"
    );
    deployment.write(
        "processes/partner.yaml",
        &process("partner", "as2-shared-server", None, &operation),
    );
    let output = deployment.berth(&["validate"]);
    let text = output_text(&output);
    assert!(!output.status.success(), "{text}");
    assert!(text.contains("partner_certificates"), "{text}");
    assert!(
        text.contains("give either `partner_certificate` or `partner_certificates`"),
        "{text}"
    );
    assert!(text.contains("mdn_signing_keys[1].from"), "{text}");
    assert!(text.contains("no such date"), "{text}");
}
