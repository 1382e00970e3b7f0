use super::*;
use abi_stable::std_types::ROption;
use berth_connector_sdk::abi_stable;
use berth_connector_sdk::certs::role;
use openssl::asn1::Asn1Time;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::X509NameBuilder;

fn key() -> PKey<Private> {
    PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap()
}

/// A self-signed certificate for `cn` valid until `not_after` (Unix seconds).
fn certificate(cn: &str, key: &PKey<Private>, not_after: i64) -> X509 {
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", cn).unwrap();
    let name = name.build();
    let mut builder = X509::builder().unwrap();
    builder.set_version(2).unwrap();
    builder.set_subject_name(&name).unwrap();
    builder.set_issuer_name(&name).unwrap();
    builder.set_pubkey(key).unwrap();
    let start = Asn1Time::from_unix(not_after - 400 * DAY).unwrap();
    builder.set_not_before(&start).unwrap();
    builder
        .set_not_after(&Asn1Time::from_unix(not_after).unwrap())
        .unwrap();
    builder
        .sign(key, openssl::hash::MessageDigest::sha256())
        .unwrap();
    builder.build()
}

#[test]
fn days_count_as_people_count_them() {
    assert_eq!(days(10 * DAY), 10);
    assert_eq!(days(10 * DAY - 5), 10);
    assert_eq!(days(1), 1);
    assert_eq!(days(0), 0);
    assert_eq!(days(-1), -1);
    assert_eq!(days(-DAY), -1);
    assert_eq!(days(-2 * DAY - 5), -2);
    assert_eq!(days(-3 * DAY + 5), -2);
}

#[test]
fn a_reported_certificate_gives_its_subject_end_and_fingerprint() {
    let k = key();
    let cert = certificate("partner", &k, 2_000_000_000);
    let found = CertificateUse::read(
        role::PARTNER_SIGNATURE,
        "p.pem",
        "/partner_certificate",
        vec![cert.to_pem().unwrap()],
        KeyCheck::NO_KEY,
    );
    let (records, mismatch) = record("in", &found);
    assert!(mismatch.is_none());
    let details = records[0].details.as_ref().unwrap();
    assert_eq!(details.subject, "CN=partner");
    assert_eq!(details.not_after, 2_000_000_000);
    assert_eq!(details.fingerprint.len(), 32 * 3 - 1);
    assert_eq!(records[0].days_left(2_000_000_000 - 3 * DAY), Some(3));
}

#[test]
fn a_mismatched_key_is_a_problem_naming_both_files() {
    let k = key();
    let cert = certificate("ours", &k, 2_000_000_000);
    let found = CertificateUse::read(
        role::DECRYPTION,
        "ours.crt",
        "/decryption_key/key",
        vec![cert.to_der().unwrap()],
        KeyCheck::MISMATCH,
    )
    .with_key_file("other.key");
    let (records, mismatch) = record("in", &found);
    assert_eq!(records[0].key, KeyState::Mismatch);
    let message = mismatch.unwrap();
    assert!(
        message.contains("other.key") && message.contains("ours.crt"),
        "{message}"
    );
}

#[test]
fn tls_files_are_read_and_their_key_checked_by_the_host() {
    let dir = tempfile::tempdir().unwrap();
    let (k, other) = (key(), key());
    let cert = certificate("server", &k, 2_000_000_000);
    std::fs::write(dir.path().join("c.pem"), cert.to_pem().unwrap()).unwrap();
    std::fs::write(
        dir.path().join("k.pem"),
        k.private_key_to_pem_pkcs8().unwrap(),
    )
    .unwrap();
    let other_pem = other.private_key_to_pem_pkcs8().unwrap();
    std::fs::write(dir.path().join("o.pem"), other_pem).unwrap();
    let tls = |key: &str| {
        let path = |f: &str| dir.path().join(f).display().to_string().into();
        CertificateUse {
            tls: ROption::RSome(Tls::Pem {
                certificate_file: path("c.pem"),
                private_key_file: path(key),
            }),
            ..CertificateUse::read(
                role::TLS,
                "c.pem",
                "/tls/certificate",
                vec![],
                KeyCheck::BY_HOST,
            )
        }
    };
    let (records, mismatch) = record("in", &tls("k.pem"));
    assert_eq!(records[0].key, KeyState::Matches);
    assert!(mismatch.is_none());
    let (records, mismatch) = record("in", &tls("o.pem"));
    assert_eq!(records[0].key, KeyState::Mismatch);
    assert!(mismatch.is_some());
}

#[test]
fn soonest_first_and_unreadable_last() {
    let at = |process: &str, end: Option<i64>| CertificateRecord {
        process: process.into(),
        role: "r".into(),
        file: "f".into(),
        key_file: None,
        key: KeyState::NoKey,
        details: end
            .map(|not_after| Details {
                subject: "s".into(),
                fingerprint: "x".into(),
                not_after,
            })
            .ok_or_else(|| "gone".to_string()),
    };
    let mut records = vec![
        at("late", Some(50)),
        at("broken", None),
        at("early", Some(-5)),
    ];
    sort(&mut records);
    let order: Vec<&str> = records.iter().map(|r| r.process.as_str()).collect();
    assert_eq!(order, ["early", "late", "broken"]);
}
