//! Builders for real AS2 messages, using openssl directly (not the crate
//! under test) so that the tests check the crate against an independent
//! implementation.
#![allow(dead_code)]

pub mod both;
pub mod ffi;

pub use both::receive_both;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use berth_as2::certs::KeyPair;
use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::cms::{CMSOptions, CmsContentInfo};
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::rsa::Rsa;
use openssl::stack::Stack;
use openssl::symm::Cipher;
use openssl::x509::{X509Builder, X509NameBuilder};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

pub fn keypair_valid(cn: &str, from_days: i64, to_days: i64) -> KeyPair {
    let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", cn).unwrap();
    let name = name.build();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let mut b = X509Builder::new().unwrap();
    b.set_version(2).unwrap();
    let mut serial = [0u8; 8];
    openssl::rand::rand_bytes(&mut serial).unwrap();
    serial[0] &= 0x7F;
    let serial = BigNum::from_slice(&serial)
        .unwrap()
        .to_asn1_integer()
        .unwrap();
    b.set_serial_number(&serial).unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(&name).unwrap();
    b.set_pubkey(&key).unwrap();
    b.set_not_before(&Asn1Time::from_unix(now + from_days * 86_400).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::from_unix(now + to_days * 86_400).unwrap())
        .unwrap();
    b.sign(&key, MessageDigest::sha256()).unwrap();
    KeyPair::new(b.build(), key).unwrap()
}

/// Keys shared by all tests of a binary (RSA generation is slow).
pub struct Keys {
    /// Our decryption / MDN signing key.
    pub ours: KeyPair,
    /// The partner's signing key.
    pub partner: KeyPair,
    /// A key that belongs to nobody configured.
    pub stranger: KeyPair,
}

pub fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| Keys {
        ours: keypair_valid("us", -1, 365),
        partner: keypair_valid("partner", -1, 365),
        stranger: keypair_valid("stranger", -1, 365),
    })
}

/// A MIME entity: headers (CRLF) + body.
pub fn entity(headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for (n, v) in headers {
        out.extend_from_slice(format!("{n}: {v}\r\n").as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}

pub fn edi_entity(payload: &[u8]) -> Vec<u8> {
    entity(
        &[
            ("Content-Type", "application/edi-x12"),
            ("Content-Transfer-Encoding", "binary"),
            ("Content-Disposition", "attachment; filename=\"order.x12\""),
        ],
        payload,
    )
}

fn b64_lines(data: &[u8]) -> Vec<u8> {
    let enc = STANDARD.encode(data);
    let mut out = Vec::new();
    for chunk in enc.as_bytes().chunks(64) {
        out.extend_from_slice(chunk);
        out.extend_from_slice(b"\r\n");
    }
    out
}

fn pkcs7_mime(smime_type: &str, der: &[u8]) -> Vec<u8> {
    entity(
        &[
            (
                "Content-Type",
                &format!("application/pkcs7-mime; smime-type={smime_type}; name=smime.p7m"),
            ),
            ("Content-Transfer-Encoding", "base64"),
        ],
        &b64_lines(der),
    )
}

/// multipart/signed around `inner` (signed exactly as given).
pub fn sign(inner: &[u8], signer: &KeyPair, md: MessageDigest, micalg: &str, pss: bool) -> Vec<u8> {
    let sig = ffi::sign_detached(inner, signer, md, pss);
    let boundary = "----=_Part_0_signed";
    let mut body = format!("--{boundary}\r\n").into_bytes();
    body.extend_from_slice(inner);
    body.extend_from_slice(
        format!("\r\n--{boundary}\r\nContent-Type: application/pkcs7-signature; name=smime.p7s\r\nContent-Transfer-Encoding: base64\r\n\r\n").as_bytes(),
    );
    body.extend(b64_lines(&sig));
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    entity(
        &[(
            "Content-Type",
            &format!("multipart/signed; protocol=\"application/pkcs7-signature\"; micalg={micalg}; boundary=\"{boundary}\""),
        )],
        &body,
    )
}

/// Opaque SignedData (application/pkcs7-mime; smime-type=signed-data).
pub fn sign_opaque(inner: &[u8], signer: &KeyPair) -> Vec<u8> {
    let cms = CmsContentInfo::sign(
        Some(&signer.certificate),
        Some(&signer.private_key),
        None,
        Some(inner),
        CMSOptions::BINARY,
    )
    .unwrap();
    pkcs7_mime("signed-data", &cms.to_der().unwrap())
}

/// EnvelopedData (or AuthEnvelopedData for GCM ciphers) for `recipient`.
pub fn encrypt(inner: &[u8], recipient: &KeyPair, cipher: Cipher, oaep: bool) -> Vec<u8> {
    let der = if oaep {
        ffi::encrypt_oaep(inner, recipient, cipher)
    } else {
        let mut stack = Stack::new().unwrap();
        stack.push(recipient.certificate.clone()).unwrap();
        CmsContentInfo::encrypt(&stack, inner, cipher, CMSOptions::BINARY)
            .unwrap()
            .to_der()
            .unwrap()
    };
    let smime = if cipher.nid() == openssl::nid::Nid::AES_128_GCM
        || cipher.nid() == openssl::nid::Nid::AES_256_GCM
    {
        "authEnveloped-data"
    } else {
        "enveloped-data"
    };
    pkcs7_mime(smime, &der)
}

/// CompressedData around `inner`.
pub fn compress(inner: &[u8]) -> Vec<u8> {
    pkcs7_mime("compressed-data", &berth_as2::compress::compress(inner))
}

/// Splits an entity into AS2 HTTP headers (its MIME headers plus the AS2
/// ones) and the HTTP body.
pub fn request(entity: &[u8], extra: &[(&str, &str)]) -> (Vec<(String, Vec<u8>)>, Vec<u8>) {
    let split = entity.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let mut headers: Vec<(String, Vec<u8>)> = Vec::new();
    for line in String::from_utf8(entity[..split].to_vec())
        .unwrap()
        .split("\r\n")
    {
        let (n, v) = line.split_once(':').unwrap();
        headers.push((n.to_string(), v.trim().as_bytes().to_vec()));
    }
    for (n, v) in [
        ("AS2-Version", "1.2"),
        ("AS2-From", "partner"),
        ("AS2-To", "us"),
        ("Message-ID", "<msg-1@partner.example>"),
        ("Subject", "Order"),
    ]
    .iter()
    .chain(extra)
    {
        headers.push((n.to_string(), v.as_bytes().to_vec()));
    }
    (headers, entity[split + 4..].to_vec())
}

/// `base64, alg` computed with openssl directly.
pub fn expected_mic(data: &[u8], md: MessageDigest, name: &str) -> String {
    let digest = openssl::hash::hash(md, data).unwrap();
    format!("{}, {name}", STANDARD.encode(digest))
}
