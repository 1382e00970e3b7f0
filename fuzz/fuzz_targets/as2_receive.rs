//! One AS2 request through `berth_as2::receive::receive` (headers, S/MIME unwrapping, MIC,
//! policy), then the MDN for its outcome, built and read back.
//!
//! Input: HTTP-like header lines `Name: value`, an empty line, the body (see
//! `common::split_request`); the seeds in `fuzz/seeds/as2_receive/` are real messages, plain,
//! compressed, signed and encrypted, made by `cargo run --example make_seeds` in `fuzz/`.
//!
//! The partner configuration is fixed: our decryption key is the demo key `certs/berth.key`
//! (so that the encrypted seeds decrypt), the partners' signing certificates are the demo
//! partners' (ACME, GLOBEX), nothing is required (unsigned and unencrypted messages go all the
//! way through), and the MDN signing key is an EC key generated once per process.
#![no_main]

use std::sync::LazyLock;

use berth_as2::certs::{load_certificates, load_private_key, KeyPair};
use berth_as2::disposition::Disposition;
use berth_as2::mdn::{parse_mdn, Mdn};
use berth_as2::mic::Mic;
use berth_as2::receive::{receive, MdnContext, MdnOptions, PartnerSettings, Rejection};
use berth_as2::unwrap::Limits;
use libfuzzer_sys::fuzz_target;
use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::PKey;
use openssl::x509::{X509Builder, X509NameBuilder};

#[path = "common/mod.rs"]
mod common;

struct Fixture {
    settings: PartnerSettings,
    limits: Limits,
    mdn_key: KeyPair,
    opts: MdnOptions,
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let cert = |pem: &[u8]| {
        load_certificates(pem, None)
            .expect("demo certificate")
            .remove(0)
    };
    let ours = KeyPair::new(
        cert(include_bytes!("../../certs/berth.crt")),
        load_private_key(include_bytes!("../../certs/berth.key"), None).expect("demo key"),
    )
    .expect("demo key pair");
    Fixture {
        settings: PartnerSettings {
            decryption_keys: vec![ours],
            partner_certificates: vec![
                cert(include_bytes!("../../certs/partner-acme.crt")),
                cert(include_bytes!("../../certs/partner-globex.crt")),
            ],
            require_signed: false,
            require_encrypted: false,
            allow_expired_certificates: false,
        },
        // The default depth; decompressed content capped lower than the default 512 MiB so
        // that a compression bomb costs milliseconds, not the fuzzer's memory limit.
        limits: Limits {
            max_decompressed_size: 8 << 20,
            ..Limits::default()
        },
        mdn_key: ec_key_pair(),
        opts: MdnOptions {
            reporting_ua: "berth fuzz".into(),
            message_id_domain: "fuzz.example".into(),
            legacy_smime: false,
        },
    }
});

/// A self-signed P-256 certificate: MDN signing in every iteration stays cheap.
fn ec_key_pair() -> KeyPair {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    let key = PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", "berth fuzz MDN").unwrap();
    let name = name.build();
    let mut b = X509Builder::new().unwrap();
    b.set_version(2).unwrap();
    b.set_serial_number(&BigNum::from_u32(1).unwrap().to_asn1_integer().unwrap())
        .unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(&name).unwrap();
    b.set_pubkey(&key).unwrap();
    b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::days_from_now(365).unwrap())
        .unwrap();
    b.sign(&key, MessageDigest::sha256()).unwrap();
    KeyPair::new(b.build(), key).unwrap()
}

fuzz_target!(|data: &[u8]| {
    let fx = &*FIXTURE;
    let (headers, body) = common::split_request(data);
    match receive(&headers, body, &fx.settings, &fx.limits) {
        Ok(r) => {
            let p = &r.properties;
            assert!(!p.mime_type.is_empty());
            assert_eq!(p.mime_type, p.mime_type.to_ascii_lowercase());
            if let Some(name) = &p.file_name {
                common::check_safe_filename("(message)", name);
            }
            assert!(r.mic().is_some(), "an accepted message has a MIC");
            check_mdn(&r.context, Disposition::Processed, None);
        }
        Err(Rejection::BadRequest(e)) => {
            let _ = (e.header(), e.to_string());
        }
        Err(Rejection::Failed(f)) => {
            assert!(!f.disposition.is_success(), "{:?}", f.disposition);
            check_mdn(&f.context, f.disposition, Some(&f.detail));
        }
    }
});

/// Builds the MDN the sender asked for and reads it back as the sender would.
fn check_mdn(context: &MdnContext, disposition: Disposition, detail: Option<&str>) {
    let fx = &*FIXTURE;
    let built = context
        .build_mdn(disposition, detail, &fx.opts, Some(&fx.mdn_key))
        .expect("building an MDN never fails");
    let Some(Mdn { headers, body, .. }) = built else {
        assert!(context.receipt.is_none());
        return;
    };
    let receipt = context
        .receipt
        .as_ref()
        .expect("an MDN only when asked for");
    for (name, value) in &headers {
        assert!(
            !value.contains(['\r', '\n']),
            "MDN header {name} spans lines: {value:?}"
        );
    }
    let headers: Vec<(String, Vec<u8>)> = headers
        .into_iter()
        .map(|(n, v)| (n, v.into_bytes()))
        .collect();
    let certs = [fx.mdn_key.certificate.clone()];
    let parsed = parse_mdn(&headers, &body, Some(&certs))
        .unwrap_or_else(|e| panic!("our own MDN does not parse: {e}"));
    assert_eq!(parsed.signed, receipt.request.signed);
    assert_eq!(parsed.disposition, Some(disposition));
    assert_eq!(parsed.received_content_mic.as_ref(), context.mic.as_ref());
    if let Some(mic) = &context.mic {
        assert_eq!(Mic::parse(&mic.field_value(false)).as_ref(), Some(mic));
    }
}
