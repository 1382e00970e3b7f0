//! Self-signed certificates made at test time, so no key material is committed for tests.

use std::path::Path;

use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::rsa::Rsa;
use openssl::x509::extension::SubjectAlternativeName;
use openssl::x509::{X509NameBuilder, X509};

/// Write `cert.pem` and `key.pem` for `localhost` / 127.0.0.1 into `dir`.
pub fn write_self_signed(dir: &Path, cert_name: &str, key_name: &str) {
    let rsa = Rsa::generate(2048).expect("RSA key");
    let key = PKey::from_rsa(rsa).expect("key");
    let mut name = X509NameBuilder::new().expect("name");
    name.append_entry_by_text("CN", "localhost").expect("CN");
    let name = name.build();
    let mut builder = X509::builder().expect("x509");
    builder.set_version(2).expect("version");
    let serial = BigNum::from_u32(1)
        .and_then(|n| n.to_asn1_integer())
        .expect("serial");
    builder.set_serial_number(&serial).expect("serial");
    builder.set_subject_name(&name).expect("subject");
    builder.set_issuer_name(&name).expect("issuer");
    builder.set_pubkey(&key).expect("pubkey");
    builder
        .set_not_before(&Asn1Time::days_from_now(0).expect("time"))
        .expect("not before");
    builder
        .set_not_after(&Asn1Time::days_from_now(30).expect("time"))
        .expect("not after");
    let san = SubjectAlternativeName::new()
        .dns("localhost")
        .ip("127.0.0.1")
        .build(&builder.x509v3_context(None, None))
        .expect("SAN");
    builder.append_extension(san).expect("extension");
    builder.sign(&key, MessageDigest::sha256()).expect("sign");
    let cert = builder.build();
    std::fs::create_dir_all(dir).expect("mkdir");
    std::fs::write(dir.join(cert_name), cert.to_pem().expect("pem")).expect("write cert");
    std::fs::write(
        dir.join(key_name),
        key.private_key_to_pem_pkcs8().expect("pem"),
    )
    .expect("write key");
}
