//! Certificates made at test time, so no key material is committed for tests: a self-signed
//! server certificate (PEM or PKCS#12), and a CA with a client certificate it issued.

use std::path::Path;

use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::hash::MessageDigest;
use openssl::pkcs12::Pkcs12;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::extension::{BasicConstraints, SubjectAlternativeName};
use openssl::x509::{X509NameBuilder, X509};

fn key() -> PKey<Private> {
    PKey::from_rsa(Rsa::generate(2048).expect("RSA key")).expect("key")
}

/// A certificate for `cn`, signed by `issuer` (itself when `None`).
fn certificate(
    cn: &str,
    key: &PKey<Private>,
    issuer: Option<(&X509, &PKey<Private>)>,
    ca: bool,
) -> X509 {
    let mut name = X509NameBuilder::new().expect("name");
    name.append_entry_by_text("CN", cn).expect("CN");
    let name = name.build();
    let mut builder = X509::builder().expect("x509");
    builder.set_version(2).expect("version");
    let serial = BigNum::from_u32(rand_serial())
        .and_then(|n| n.to_asn1_integer())
        .expect("serial");
    builder.set_serial_number(&serial).expect("serial");
    builder.set_subject_name(&name).expect("subject");
    match issuer {
        Some((cert, _)) => builder
            .set_issuer_name(cert.subject_name())
            .expect("issuer"),
        None => builder.set_issuer_name(&name).expect("issuer"),
    }
    builder.set_pubkey(key).expect("pubkey");
    let not_before = Asn1Time::days_from_now(0).expect("time");
    let not_after = Asn1Time::days_from_now(30).expect("time");
    builder.set_not_before(&not_before).expect("not before");
    builder.set_not_after(&not_after).expect("not after");
    if ca {
        let constraints = BasicConstraints::new().critical().ca().build().expect("ca");
        builder.append_extension(constraints).expect("extension");
    } else {
        let san = SubjectAlternativeName::new()
            .dns("localhost")
            .ip("127.0.0.1")
            .build(&builder.x509v3_context(issuer.map(|(c, _)| &**c), None))
            .expect("SAN");
        builder.append_extension(san).expect("extension");
    }
    let signer = issuer.map(|(_, k)| k).unwrap_or(key);
    builder.sign(signer, MessageDigest::sha256()).expect("sign");
    builder.build()
}

fn rand_serial() -> u32 {
    use std::time::{SystemTime, UNIX_EPOCH};
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(7);
    nanos | 1
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::create_dir_all(dir).expect("mkdir");
    std::fs::write(dir.join(name), bytes).expect("write");
}

/// Write a self-signed certificate and key for `localhost` / 127.0.0.1 as PEM files.
pub fn write_self_signed(dir: &Path, cert_name: &str, key_name: &str) {
    let key = key();
    let cert = certificate("localhost", &key, None, false);
    write(dir, cert_name, &cert.to_pem().expect("pem"));
    write(dir, key_name, &key.private_key_to_pem_pkcs8().expect("pem"));
}

/// Write a self-signed certificate and key for `localhost` as one PKCS#12 file.
pub fn write_self_signed_pkcs12(dir: &Path, name: &str, password: &str) {
    let key = key();
    let cert = certificate("localhost", &key, None, false);
    let bundle = Pkcs12::builder()
        .name("localhost")
        .pkey(&key)
        .cert(&cert)
        .build2(password)
        .expect("pkcs12");
    write(dir, name, &bundle.to_der().expect("der"));
}

/// Write a CA certificate (PEM) into `dir` and return a client identity it issued, as PKCS#12
/// bytes with password `client`, for an HTTP client to present.
pub fn write_ca_and_client(dir: &Path, ca_name: &str) -> Vec<u8> {
    let ca_key = key();
    let ca = certificate("berth test CA", &ca_key, None, true);
    write(dir, ca_name, &ca.to_pem().expect("pem"));
    let client_key = key();
    let client = certificate("partner client", &client_key, Some((&ca, &ca_key)), false);
    Pkcs12::builder()
        .name("partner client")
        .pkey(&client_key)
        .cert(&client)
        .build2("client")
        .expect("pkcs12")
        .to_der()
        .expect("der")
}
