//! The stored set handed to the listener: each partner keeps its own signing certificates, and
//! one verifies only from its respond-by date.

use berth_connector_sdk::exchange::ExchangedCertificate;
use berth_connector_sdk::prelude::*;
use openssl::asn1::Asn1Time;
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::rsa::Rsa;
use openssl::x509::{X509Builder, X509NameBuilder, X509};

use super::settings::As2Operation;
use super::*;

fn operation(from: &str) -> As2Operation {
    let json =
        format!(r#"{{"as2_from":"{from}","as2_to":"US","accept_certificate_exchange":true}}"#);
    berth_connector_sdk::settings::parse(&json).unwrap()
}

fn certificate(cn: &str) -> X509 {
    let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", cn).unwrap();
    let name = name.build();
    let mut builder = X509Builder::new().unwrap();
    builder.set_subject_name(&name).unwrap();
    builder.set_issuer_name(&name).unwrap();
    builder.set_pubkey(&key).unwrap();
    builder
        .set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    builder
        .set_not_after(&Asn1Time::days_from_now(30).unwrap())
        .unwrap();
    builder.sign(&key, MessageDigest::sha256()).unwrap();
    builder.build()
}

fn exchanged(
    operation: &str,
    partner: &str,
    usages: &str,
    cert: &X509,
    from: i64,
) -> ExchangedCertificate {
    let der = cert.to_der().unwrap();
    ExchangedCertificate {
        operation: operation.into(),
        partner: partner.into(),
        usages: usages.into(),
        fingerprint: exchange::fingerprint(&der).unwrap().into(),
        certificate_der: der.into(),
        active_from: from,
        request_id: "r@them".into(),
        received_at: 0,
    }
}

#[test]
fn each_partner_takes_its_signing_certificates_and_uses_them_from_their_date() {
    let context = OpenContext {
        connection_name: None,
        deployment_dir: std::env::temp_dir(),
        log: Logger::discard(),
    };
    let operations = vec![
        ("a".to_string(), operation("THEM")),
        ("b".to_string(), operation("OTHER")),
    ];
    let listener = open_shared(context, operations).unwrap().1;
    let (now_cert, later_cert, encrypting, foreign) = (
        certificate("now"),
        certificate("later"),
        certificate("enc"),
        certificate("foreign"),
    );
    let set = vec![
        exchanged("a", "THEM", "digitalSignature", &now_cert, 100),
        exchanged(
            "a",
            "THEM",
            "keyEncipherment,digitalSignature",
            &later_cert,
            200,
        ),
        // Not for verifying signatures.
        exchanged("a", "THEM", "keyEncipherment", &encrypting, 100),
        // Another operation's, even with the same partner name.
        exchanged("b", "THEM", "digitalSignature", &foreign, 100),
    ];
    listener.exchanged_certificates(&set);
    let a = &listener.partners[&("THEM".to_string(), "US".to_string())];
    let b = &listener.partners[&("OTHER".to_string(), "US".to_string())];
    let subjects = |settings: &crate::receive::PartnerSettings| -> Vec<String> {
        settings
            .partner_certificates
            .iter()
            .map(|c| format!("{:?}", c.subject_name().entries().next().unwrap().data()))
            .collect()
    };
    assert!(a.settings_at(99).partner_certificates.is_empty());
    assert!(matches!(a.settings_at(99), std::borrow::Cow::Borrowed(_)));
    assert_eq!(subjects(&a.settings_at(100)), ["\"now\""]);
    assert_eq!(subjects(&a.settings_at(200)), ["\"now\"", "\"later\""]);
    assert!(b.settings_at(1_000).partner_certificates.is_empty());
    // A later set replaces the earlier one.
    listener.exchanged_certificates(&[]);
    assert!(a.settings_at(1_000).partner_certificates.is_empty());
}

#[test]
fn cem_is_announced_only_where_accepted() {
    let mdn = |on| {
        let mdn = crate::mdn::Mdn {
            message_id: "<m@us>".into(),
            headers: vec![("EDIINT-Features".into(), crate::ediint::features_header())],
            body: Vec::new(),
        };
        crate::ediint::announce_cem(mdn, on).headers[0].1.clone()
    };
    let base = crate::ediint::features_header();
    assert_eq!(mdn(true), format!("{base}, CEM"));
    assert_eq!(mdn(false), base);
}

#[test]
fn certificate_exchange_needs_the_partners_certificate_and_our_signing_key() {
    let bare = operation("THEM");
    let problems = super::settings::check_operation(&bare);
    let messages: Vec<String> = problems
        .iter()
        .map(|p| format!("{}: {}", p.pointer, p.message))
        .collect();
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert!(messages[0].starts_with("/accept_certificate_exchange: certificate exchange needs the partner's current certificate"));
    assert!(
        messages[1].contains("needs an MDN signing key"),
        "{messages:?}"
    );
    let json = r#"{"as2_from":"THEM","as2_to":"US","accept_certificate_exchange":true,
        "partner_certificate":"p.pem","mdn_signing_key":{"key":"k.pem"}}"#;
    let complete: As2Operation = berth_connector_sdk::settings::parse(json).unwrap();
    assert!(super::settings::check_operation(&complete).is_empty());
}
