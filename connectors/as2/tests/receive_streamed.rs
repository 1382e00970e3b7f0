//! A body read as a stream (what the host hands over for a large message) gives exactly what
//! the same body in memory gives: payload, layers, MIC, and the same dispositions.

mod common;

use std::io::{Cursor, Read};

use base64::Engine;
use berth_as2::disposition::{Disposition, ProcessingError};
use berth_as2::headers::As2Headers;
use berth_as2::receive::{receive_body, Body, PartnerSettings, Received, Rejection};
use berth_as2::unwrap::{Layer, Limits};
use common::*;
use openssl::hash::MessageDigest;
use openssl::symm::Cipher;

fn settings() -> PartnerSettings {
    let k = keys();
    PartnerSettings {
        decryption_keys: vec![k.ours.clone()],
        partner_certificates: vec![k.partner.certificate.clone()],
        require_signed: true,
        require_encrypted: false,
        allow_expired_certificates: false,
    }
}

const RECEIPT: [(&str, &str); 2] = [
    ("Disposition-Notification-To", "mailto:x@partner"),
    (
        "Disposition-Notification-Options",
        "signed-receipt-protocol=optional, pkcs7-signature; signed-receipt-micalg=optional, sha-256",
    ),
];

fn streamed(headers: &[(String, Vec<u8>)], body: &[u8]) -> Result<Received, Rejection> {
    let open = || Ok(Box::new(Cursor::new(body)) as Box<dyn Read + '_>);
    let parsed = As2Headers::parse(headers).unwrap();
    let body = Body::Stream {
        open: &open,
        len: body.len() as u64,
    };
    receive_body(parsed, body, &settings(), &Limits::default())
}

fn accepted(r: Result<Received, Rejection>) -> Received {
    match r {
        Ok(r) => r,
        Err(e) => panic!("rejected: {e:?}"),
    }
}

fn failed_with(r: Result<Received, Rejection>) -> Disposition {
    match r {
        Err(Rejection::Failed(f)) => f.disposition,
        other => panic!("expected an error disposition, got {other:?}"),
    }
}

/// Payload, layers and MIC agree between the two paths.
fn same(a: &Received, b: &Received) {
    assert_eq!(a.payload, b.payload);
    assert_eq!(a.security.layers, b.security.layers);
    assert_eq!(
        a.mic().map(|m| m.field_value(false)),
        b.mic().map(|m| m.field_value(false))
    );
    assert_eq!(a.properties.file_name, b.properties.file_name);
}

/// A signed, then encrypted message of `size` payload bytes.
fn signed_encrypted(size: usize, cipher: Cipher) -> Vec<u8> {
    let payload: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
    let signed = sign(
        &edi_entity(&payload),
        &keys().partner,
        MessageDigest::sha256(),
        "sha-256",
        false,
    );
    encrypt(&signed, &keys().ours, cipher, false)
}

/// The same message with its outer base64 removed: how most AS2 software sends.
fn binary(headers: &mut [(String, Vec<u8>)], body: &[u8]) -> Vec<u8> {
    for (name, value) in headers.iter_mut() {
        if name.eq_ignore_ascii_case("content-transfer-encoding") {
            *value = b"binary".to_vec();
        }
    }
    let text: Vec<u8> = body
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap()
}

#[test]
fn encrypted_messages_decrypt_while_streaming() {
    for cipher in [
        Cipher::aes_256_cbc(),
        Cipher::des_ede3_cbc(),
        Cipher::aes_128_gcm(),
    ] {
        let (mut headers, body) = request(&signed_encrypted(300_000, cipher), &RECEIPT);
        let in_memory = accepted(receive_both(
            &headers,
            &body,
            &settings(),
            &Limits::default(),
        ));
        let base64_streamed = accepted(streamed(&headers, &body));
        same(&in_memory, &base64_streamed);
        let body = binary(&mut headers, &body);
        let binary_streamed = accepted(streamed(&headers, &body));
        same(&in_memory, &binary_streamed);
        let authenticated = cipher.nid() == openssl::nid::Nid::AES_128_GCM;
        assert_eq!(
            binary_streamed.security.layers[0],
            Layer::Encrypted { authenticated }
        );
    }
}

#[test]
fn other_layers_are_read_whole_and_unwrapped_as_usual() {
    let payload = b"ISA*00~\nGS*IN~\n".repeat(1000);
    let message = compress(&sign(
        &edi_entity(&payload),
        &keys().partner,
        MessageDigest::sha256(),
        "sha-256",
        false,
    ));
    let (headers, body) = request(&message, &RECEIPT);
    let in_memory = accepted(receive_both(
        &headers,
        &body,
        &settings(),
        &Limits::default(),
    ));
    let from_stream = accepted(streamed(&headers, &body));
    same(&in_memory, &from_stream);
    assert_eq!(&from_stream.payload[..], &payload[..]);
}

#[test]
fn failures_get_the_same_dispositions() {
    // Encrypted for somebody else.
    let signed = sign(
        &edi_entity(b"x"),
        &keys().partner,
        MessageDigest::sha256(),
        "sha-256",
        false,
    );
    let message = encrypt(&signed, &keys().stranger, Cipher::aes_256_cbc(), false);
    let (headers, body) = request(&message, &RECEIPT);
    assert_eq!(
        failed_with(streamed(&headers, &body)),
        Disposition::Error(ProcessingError::DecryptionFailed)
    );
    // Tampered inside the encryption: the signature no longer matches.
    let (mut headers, body) = request(&signed_encrypted(10_000, Cipher::aes_256_cbc()), &RECEIPT);
    let mut body = binary(&mut headers, &body);
    let last = body.len() - 40;
    body[last] ^= 1;
    assert!(matches!(
        failed_with(streamed(&headers, &body)),
        Disposition::Error(
            ProcessingError::DecryptionFailed | ProcessingError::IntegrityCheckFailed
        )
    ));
    // A body the host cannot give back is our failure, not the sender's.
    let (headers, body) = request(&signed_encrypted(100, Cipher::aes_256_cbc()), &RECEIPT);
    let open = || Err(std::io::Error::other("disk gone"));
    let parsed = As2Headers::parse(&headers).unwrap();
    let result = receive_body(
        parsed,
        Body::Stream {
            open: &open,
            len: body.len() as u64,
        },
        &settings(),
        &Limits::default(),
    );
    assert_eq!(
        failed_with(result),
        Disposition::Error(ProcessingError::UnexpectedProcessingError)
    );
}

/// `stream::receive_to` over `body`, counting how often it was opened.
fn to_sink(
    headers: &[(String, Vec<u8>)],
    body: &[u8],
    sink: &mut dyn std::io::Write,
) -> (Result<berth_as2::stream::ReceivedMeta, Rejection>, usize) {
    let opened = std::cell::Cell::new(0);
    let open = || {
        opened.set(opened.get() + 1);
        Ok(Box::new(Cursor::new(body)) as Box<dyn Read + '_>)
    };
    let parsed = As2Headers::parse(headers).unwrap();
    let len = body.len() as u64;
    let r =
        berth_as2::stream::receive_to(parsed, &open, len, &settings(), &Limits::default(), sink);
    (r, opened.get())
}

#[test]
fn a_signer_using_another_digest_than_micalg_announced_is_read_again() {
    let signed = sign(
        &edi_entity(b"UNB+UNOA'"),
        &keys().partner,
        MessageDigest::sha384(),
        "sha-256",
        false,
    );
    let encrypted = encrypt(&signed, &keys().ours, Cipher::aes_128_cbc(), false);
    for message in [signed, encrypted] {
        let (headers, body) = request(&message, &RECEIPT);
        let in_memory = accepted(receive_both(
            &headers,
            &body,
            &settings(),
            &Limits::default(),
        ));
        let mut sink = Vec::new();
        let (streamed, opened) = to_sink(&headers, &body, &mut sink);
        let streamed = streamed.unwrap();
        assert_eq!(opened, 2, "the digest is computed by a second pass");
        assert_eq!(sink, b"UNB+UNOA'", "the payload is written once");
        assert_eq!(streamed.mic(), in_memory.mic());
        assert_eq!(
            streamed.mic().unwrap().alg,
            berth_as2::micalg::MicAlg::Sha384
        );
    }
}

#[test]
fn a_well_formed_message_is_read_once() {
    let (headers, body) = request(&signed_encrypted(50_000, Cipher::aes_256_cbc()), &RECEIPT);
    let mut sink = Vec::new();
    let (streamed, opened) = to_sink(&headers, &body, &mut sink);
    assert!(streamed.is_ok());
    assert_eq!(opened, 1);
}

/// A sink that refuses every write, as a full disk does.
struct Full;

impl std::io::Write for Full {
    fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
        Err(std::io::Error::other("no space left"))
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_failing_spool_or_sink_is_our_failure() {
    let (headers, body) = request(&signed_encrypted(1000, Cipher::aes_256_cbc()), &RECEIPT);
    let (result, _) = to_sink(&headers, &body, &mut Full);
    let detail = match result {
        Err(Rejection::Failed(f)) => {
            assert_eq!(
                f.disposition,
                Disposition::Error(ProcessingError::UnexpectedProcessingError)
            );
            f.detail
        }
        other => panic!("{other:?}"),
    };
    assert!(detail.contains("no space left"), "{detail}");
    let open = || Err(std::io::Error::other("disk gone"));
    let parsed = As2Headers::parse(&headers).unwrap();
    let result = berth_as2::stream::receive_to(
        parsed,
        &open,
        body.len() as u64,
        &settings(),
        &Limits::default(),
        &mut Vec::new(),
    );
    assert_eq!(
        failed_with_meta(result),
        Disposition::Error(ProcessingError::UnexpectedProcessingError)
    );
}

fn failed_with_meta(r: Result<berth_as2::stream::ReceivedMeta, Rejection>) -> Disposition {
    match r {
        Err(Rejection::Failed(f)) => f.disposition,
        other => panic!("expected an error disposition, got {other:?}"),
    }
}

/// A signature straight over the content digest (no signed attributes), detached and
/// opaque: the streamed path checks it with the public key, as OpenSSL does in memory.
#[test]
fn signatures_without_signed_attributes_agree() {
    use base64::engine::general_purpose::STANDARD;
    use openssl::cms::{CMSOptions, CmsContentInfo};
    let inner = edi_entity(b"UNB+UNOA:2'");
    let partner = &keys().partner;
    let sign_with = |flags| {
        CmsContentInfo::sign(
            Some(&partner.certificate),
            Some(&partner.private_key),
            None,
            Some(&inner),
            CMSOptions::BINARY | CMSOptions::NOATTR | flags,
        )
        .unwrap()
        .to_der()
        .unwrap()
    };
    let detached = sign_with(CMSOptions::DETACHED);
    let mut body = b"--b\r\n".to_vec();
    body.extend_from_slice(&inner);
    body.extend_from_slice(b"\r\n--b\r\nContent-Type: application/pkcs7-signature\r\nContent-Transfer-Encoding: base64\r\n\r\n");
    body.extend_from_slice(STANDARD.encode(&detached).as_bytes());
    body.extend_from_slice(b"\r\n--b--\r\n");
    let multipart = entity(
        &[(
            "Content-Type",
            "multipart/signed; micalg=sha-256; boundary=b",
        )],
        &body,
    );
    let opaque = entity(
        &[
            (
                "Content-Type",
                "application/pkcs7-mime; smime-type=signed-data",
            ),
            ("Content-Transfer-Encoding", "base64"),
        ],
        STANDARD.encode(sign_with(CMSOptions::empty())).as_bytes(),
    );
    for message in [multipart, opaque] {
        let (headers, body) = request(&message, &RECEIPT);
        let r = accepted(receive_both(
            &headers,
            &body,
            &settings(),
            &Limits::default(),
        ));
        assert_eq!(&r.payload[..], b"UNB+UNOA:2'");
        // Tampered content: refused alike.
        let mut tampered = body.clone();
        if let Some(at) = tampered.windows(4).position(|w| w == b"UNOA") {
            tampered[at] = b'X';
            assert!(receive_both(&headers, &tampered, &settings(), &Limits::default()).is_err());
        }
    }
}
