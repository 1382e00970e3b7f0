//! Every negative disposition, from real (broken) messages.

mod common;

use berth_as2::cms::CmsError;
use berth_as2::disposition::{Disposition, ProcessingError};
use berth_as2::receive::{Failed, PartnerSettings, Rejection};
use berth_as2::unwrap::Limits;
use common::*;
use openssl::hash::MessageDigest;
use openssl::symm::Cipher;

const PAYLOAD: &[u8] = b"UNB+UNOA:2+PARTNER+US'\r\nUNH+1+ORDERS'";

fn settings() -> PartnerSettings {
    let k = keys();
    PartnerSettings {
        decryption_keys: vec![k.ours.clone()],
        partner_certificates: vec![k.partner.certificate.clone()],
        ..PartnerSettings::default()
    }
}

fn reject_with(entity: &[u8], settings: &PartnerSettings, limits: &Limits) -> Failed {
    let (headers, body) = request(entity, &[]);
    reject_raw(&headers, &body, settings, limits)
}

fn reject_raw(
    headers: &[(String, Vec<u8>)],
    body: &[u8],
    settings: &PartnerSettings,
    limits: &Limits,
) -> Failed {
    match receive_both(headers, body, settings, limits) {
        Err(Rejection::Failed(f)) => *f,
        Err(other) => panic!("unexpected rejection {other:?}"),
        Ok(r) => panic!("accepted: {:?}", r.security),
    }
}

fn reject(entity: &[u8]) -> Failed {
    reject_with(entity, &settings(), &Limits::default())
}

fn error(e: ProcessingError) -> Disposition {
    Disposition::Error(e)
}

#[test]
fn wrong_decryption_key() {
    let msg = encrypt(
        &edi_entity(PAYLOAD),
        &keys().stranger,
        Cipher::aes_256_cbc(),
        false,
    );
    let f = reject(&msg);
    assert_eq!(f.disposition, error(ProcessingError::DecryptionFailed));
    assert!(matches!(f.cms_error, Some(CmsError::Decryption(_))));
    assert_eq!(f.context.mic, None);
}

#[test]
fn tampered_signed_body() {
    let msg = sign(
        &edi_entity(PAYLOAD),
        &keys().partner,
        MessageDigest::sha256(),
        "sha-256",
        false,
    );
    let pos = msg.windows(3).position(|w| w == b"UNH").unwrap();
    let mut tampered = msg.clone();
    tampered[pos] = b'X';
    let f = reject(&tampered);
    assert_eq!(f.disposition, error(ProcessingError::IntegrityCheckFailed));
    assert!(matches!(f.cms_error, Some(CmsError::ContentMismatch(_))));
}

#[test]
fn tampered_ciphertext() {
    let msg = encrypt(
        &edi_entity(PAYLOAD),
        &keys().ours,
        Cipher::aes_128_gcm(),
        false,
    );
    let (headers, body) = request(&msg, &[]);
    // Flip a bit in the encrypted content (near the end, before the GCM tag).
    let mut der = berth_as2::mime::decode_base64(&body).unwrap();
    let n = der.len();
    der[n - 30] ^= 0x01;
    let body = base64_body(&der);
    let f = reject_raw(&headers, &body, &settings(), &Limits::default());
    assert_eq!(f.disposition, error(ProcessingError::DecryptionFailed));
}

fn base64_body(der: &[u8]) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .encode(der)
        .into_bytes()
}

#[test]
fn wrong_partner_certificate() {
    let msg = sign(
        &edi_entity(PAYLOAD),
        &keys().stranger,
        MessageDigest::sha256(),
        "sha-256",
        false,
    );
    let f = reject(&msg);
    assert_eq!(f.disposition, error(ProcessingError::AuthenticationFailed));
    assert!(matches!(f.cms_error, Some(CmsError::UnknownSigner(_))));
    let opaque = sign_opaque(&edi_entity(PAYLOAD), &keys().stranger);
    assert_eq!(
        reject(&opaque).disposition,
        error(ProcessingError::AuthenticationFailed)
    );
}

#[test]
fn expired_partner_certificate_is_reported_distinctly() {
    let old = keypair_valid("old partner", -400, -10);
    let msg = sign(
        &edi_entity(PAYLOAD),
        &old,
        MessageDigest::sha256(),
        "sha-256",
        false,
    );
    let mut s = settings();
    s.partner_certificates = vec![old.certificate.clone()];
    let f = reject_with(&msg, &s, &Limits::default());
    assert_eq!(f.disposition, error(ProcessingError::AuthenticationFailed));
    assert!(matches!(
        f.cms_error,
        Some(CmsError::CertificateExpired { .. })
    ));
    assert!(f.detail.contains("expired"), "{}", f.detail);
    s.allow_expired_certificates = true;
    let (headers, body) = request(&msg, &[]);
    assert_eq!(
        receive_both(&headers, &body, &s, &Limits::default())
            .unwrap()
            .payload,
        PAYLOAD
    );
}

#[test]
fn unsigned_or_unencrypted_where_required() {
    let k = keys();
    let mut s = settings();
    s.require_signed = true;
    let encrypted_only = encrypt(&edi_entity(PAYLOAD), &k.ours, Cipher::aes_128_cbc(), false);
    let f = reject_with(&encrypted_only, &s, &Limits::default());
    assert_eq!(
        f.disposition,
        error(ProcessingError::InsufficientMessageSecurity)
    );
    assert_eq!(f.detail, "the message must be signed");
    assert!(f.security.encrypted());
    let mut s = settings();
    s.require_encrypted = true;
    let signed_only = sign(
        &edi_entity(PAYLOAD),
        &k.partner,
        MessageDigest::sha1(),
        "sha1",
        false,
    );
    let f = reject_with(&signed_only, &s, &Limits::default());
    assert_eq!(
        f.disposition,
        error(ProcessingError::InsufficientMessageSecurity)
    );
    // The signature verified, so the error MDN still carries the MIC.
    assert_eq!(
        f.context.mic.unwrap().to_string(),
        expected_mic(&edi_entity(PAYLOAD), MessageDigest::sha1(), "sha-1")
    );
}

#[test]
fn decompression_bomb() {
    let huge = vec![b'A'; 20 * 1024 * 1024];
    let inner = entity(&[("Content-Type", "application/octet-stream")], &huge);
    let msg = encrypt(
        &compress(&inner),
        &keys().ours,
        Cipher::aes_128_cbc(),
        false,
    );
    let limits = Limits {
        max_decompressed_size: 1024 * 1024,
        ..Limits::default()
    };
    let f = reject_with(&msg, &settings(), &limits);
    assert_eq!(f.disposition, error(ProcessingError::DecompressionFailed));
    assert!(f.detail.contains("exceeds the limit"), "{}", f.detail);
}

#[test]
fn truncated_and_garbage_cms() {
    let msg = encrypt(
        &edi_entity(PAYLOAD),
        &keys().ours,
        Cipher::aes_128_cbc(),
        false,
    );
    let (headers, body) = request(&msg, &[]);
    let der = berth_as2::mime::decode_base64(&body).unwrap();
    let truncated = base64_body(&der[..der.len() / 2]);
    let f = reject_raw(&headers, &truncated, &settings(), &Limits::default());
    assert_eq!(f.disposition, error(ProcessingError::DecryptionFailed));
    assert!(matches!(f.cms_error, Some(CmsError::Malformed(_))));

    let f = reject_raw(
        &headers,
        b"this is not CMS at all",
        &settings(),
        &Limits::default(),
    );
    assert_eq!(f.disposition, error(ProcessingError::DecryptionFailed));

    let compressed = compress(&edi_entity(PAYLOAD));
    let (headers, body) = request(&compressed, &[]);
    let f = reject_raw(
        &headers,
        &body[..body.len() / 2],
        &settings(),
        &Limits::default(),
    );
    assert_eq!(f.disposition, error(ProcessingError::DecompressionFailed));

    let signed = sign(
        &edi_entity(PAYLOAD),
        &keys().partner,
        MessageDigest::sha256(),
        "sha-256",
        false,
    );
    let (headers, body) = request(&signed, &[]);
    let text = String::from_utf8(body).unwrap();
    let sig_start = text
        .find("Content-Transfer-Encoding: base64\r\n\r\n")
        .unwrap()
        + 37;
    let garbled = format!(
        "{}QUJDREVGRw==\r\n------=_Part_0_signed--\r\n",
        &text[..sig_start]
    );
    let f = reject_raw(
        &headers,
        garbled.as_bytes(),
        &settings(),
        &Limits::default(),
    );
    assert_eq!(f.disposition, error(ProcessingError::AuthenticationFailed));
}

#[test]
fn malformed_multipart() {
    let signed = sign(
        &edi_entity(PAYLOAD),
        &keys().partner,
        MessageDigest::sha256(),
        "sha-256",
        false,
    );
    let (mut headers, body) = request(&signed, &[]);
    // Truncated before the closing delimiter.
    let f = reject_raw(
        &headers,
        &body[..body.len() - 40],
        &settings(),
        &Limits::default(),
    );
    assert_eq!(f.disposition, error(ProcessingError::IntegrityCheckFailed));
    // Boundary parameter missing.
    let ct = headers
        .iter_mut()
        .find(|(n, _)| n == "Content-Type")
        .unwrap();
    ct.1 = b"multipart/signed; protocol=\"application/pkcs7-signature\"".to_vec();
    let f = reject_raw(&headers, &body, &settings(), &Limits::default());
    assert_eq!(f.disposition, error(ProcessingError::IntegrityCheckFailed));
    assert!(f.detail.contains("boundary"), "{}", f.detail);
    // Boundary that never occurs.
    let ct = headers
        .iter_mut()
        .find(|(n, _)| n == "Content-Type")
        .unwrap();
    ct.1 = b"multipart/signed; boundary=\"nope\"".to_vec();
    let f = reject_raw(&headers, &body, &settings(), &Limits::default());
    assert_eq!(f.disposition, error(ProcessingError::IntegrityCheckFailed));
}
