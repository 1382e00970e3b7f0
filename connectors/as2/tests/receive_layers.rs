//! Real messages in every layering a peer may send, through `receive`.

mod common;

use berth_as2::micalg::MicAlg;
use berth_as2::receive::{PartnerSettings, Received};
use berth_as2::unwrap::{Layer, Limits};
use common::*;
use openssl::hash::MessageDigest;
use openssl::symm::Cipher;

const PAYLOAD: &[u8] =
    b"ISA*00*          *00*          *ZZ*PARTNER~\nGS*PO*1~\n\x00\xff binary tail";

fn settings() -> PartnerSettings {
    let k = keys();
    PartnerSettings {
        decryption_keys: vec![k.ours.clone()],
        partner_certificates: vec![k.partner.certificate.clone()],
        require_signed: false,
        require_encrypted: false,
        allow_expired_certificates: false,
    }
}

fn run(entity: &[u8], extra: &[(&str, &str)]) -> Received {
    let (headers, body) = request(entity, extra);
    match receive_both(&headers, &body, &settings(), &Limits::default()) {
        Ok(r) => r,
        Err(e) => panic!("rejected: {e:?}"),
    }
}

fn check_payload(r: &Received) {
    assert_eq!(r.payload, PAYLOAD);
    assert_eq!(r.properties.mime_type, "application/edi-x12");
    assert_eq!(r.properties.file_name.as_deref(), Some("order.x12"));
    assert_eq!(r.properties.as2_from, "partner");
    assert_eq!(r.properties.as2_to, "us");
    assert_eq!(r.properties.subject.as_deref(), Some("Order"));
    assert_eq!(
        r.properties.message_id.as_deref(),
        Some("<msg-1@partner.example>")
    );
}

#[test]
fn signed_with_every_digest() {
    let inner = edi_entity(PAYLOAD);
    for (md, name, alg) in [
        (MessageDigest::sha1(), "sha-1", MicAlg::Sha1),
        (MessageDigest::sha224(), "sha-224", MicAlg::Sha224),
        (MessageDigest::sha256(), "sha-256", MicAlg::Sha256),
        (MessageDigest::sha384(), "sha-384", MicAlg::Sha384),
        (MessageDigest::sha512(), "sha-512", MicAlg::Sha512),
    ] {
        let msg = sign(&inner, &keys().partner, md, name, false);
        let r = run(&msg, &[]);
        check_payload(&r);
        assert_eq!(
            r.security.layers,
            vec![Layer::Signed {
                alg: Some(alg),
                detached: true
            }]
        );
        // The MIC covers the signed entity, headers included, with the signing digest.
        assert_eq!(r.mic().unwrap().to_string(), expected_mic(&inner, md, name));
    }
}

#[test]
fn signed_with_rsassa_pss() {
    let inner = edi_entity(PAYLOAD);
    let msg = sign(
        &inner,
        &keys().partner,
        MessageDigest::sha256(),
        "sha-256",
        true,
    );
    let r = run(&msg, &[]);
    check_payload(&r);
    assert!(r.security.signed());
    assert_eq!(
        r.mic().unwrap().to_string(),
        expected_mic(&inner, MessageDigest::sha256(), "sha-256")
    );
}

#[test]
fn encrypted_with_every_cipher_and_key_transport() {
    let inner = edi_entity(PAYLOAD);
    let ciphers = [
        (Cipher::des_ede3_cbc(), false),
        (Cipher::aes_128_cbc(), false),
        (Cipher::aes_192_cbc(), false),
        (Cipher::aes_256_cbc(), false),
        (Cipher::aes_128_gcm(), true),
        (Cipher::aes_256_gcm(), true),
    ];
    for (cipher, gcm) in ciphers {
        for oaep in [false, true] {
            let msg = encrypt(&inner, &keys().ours, cipher, oaep);
            let r = run(&msg, &[]);
            check_payload(&r);
            assert_eq!(
                r.security.layers,
                vec![Layer::Encrypted { authenticated: gcm }],
                "{:?} oaep={oaep}",
                cipher.nid()
            );
            // Unsigned: over the decrypted entity (already canonical), default SHA-256.
            assert_eq!(
                r.mic().unwrap().to_string(),
                expected_mic(&inner, MessageDigest::sha256(), "sha-256")
            );
        }
    }
}

#[test]
fn encrypted_unsigned_uses_requested_micalg() {
    let inner = edi_entity(PAYLOAD);
    let msg = encrypt(&inner, &keys().ours, Cipher::aes_128_cbc(), false);
    let r = run(
        &msg,
        &[
            ("Disposition-Notification-To", "mdn@partner"),
            (
                "Disposition-Notification-Options",
                "signed-receipt-protocol=optional, pkcs7-signature; signed-receipt-micalg=optional, sha-384, sha1",
            ),
        ],
    );
    assert_eq!(
        r.mic().unwrap().to_string(),
        expected_mic(&inner, MessageDigest::sha384(), "sha-384")
    );
    assert_eq!(r.context.receipt.as_ref().unwrap().micalg, MicAlg::Sha384);
}

#[test]
fn every_layer_order() {
    let k = keys();
    let inner = edi_entity(PAYLOAD);
    let sha256 = || MessageDigest::sha256();
    let aes = Cipher::aes_256_cbc();
    let signed = |e: &[u8]| sign(e, &k.partner, sha256(), "sha-256", false);

    // Compress, then sign, then encrypt (RFC 5402 "compress before signing").
    let compressed = compress(&inner);
    let signed_compressed = signed(&compressed);
    let r = run(&encrypt(&signed_compressed, &k.ours, aes, false), &[]);
    check_payload(&r);
    assert_eq!(
        r.security.layers,
        vec![
            Layer::Encrypted {
                authenticated: false
            },
            Layer::Signed {
                alg: Some(MicAlg::Sha256),
                detached: true
            },
            Layer::Compressed
        ]
    );
    // The MIC covers what was signed: the compressed-data entity.
    assert_eq!(
        r.mic().unwrap().to_string(),
        expected_mic(&compressed, sha256(), "sha-256")
    );

    // Sign, then compress, then encrypt.
    let r = run(
        &encrypt(&compress(&signed(&inner)), &k.ours, aes, false),
        &[],
    );
    check_payload(&r);
    assert_eq!(
        r.security.layers,
        vec![
            Layer::Encrypted {
                authenticated: false
            },
            Layer::Compressed,
            Layer::Signed {
                alg: Some(MicAlg::Sha256),
                detached: true
            }
        ]
    );
    assert_eq!(
        r.mic().unwrap().to_string(),
        expected_mic(&inner, sha256(), "sha-256")
    );

    // Encrypt, then sign (signature outside the encryption).
    let encrypted = encrypt(&inner, &k.ours, Cipher::aes_128_gcm(), false);
    let r = run(&signed(&encrypted), &[]);
    check_payload(&r);
    assert!(r.security.signed() && r.security.encrypted() && !r.security.compressed());
    assert_eq!(
        r.mic().unwrap().to_string(),
        expected_mic(&encrypted, sha256(), "sha-256")
    );

    // Compressed only.
    let r = run(&compress(&inner), &[]);
    check_payload(&r);
    assert_eq!(r.security.layers, vec![Layer::Compressed]);

    // Opaque signed-data inside encryption.
    let r = run(
        &encrypt(&sign_opaque(&inner, &k.partner), &k.ours, aes, true),
        &[],
    );
    check_payload(&r);
    assert_eq!(r.security.layers.len(), 2);
    assert!(matches!(
        r.security.layers[1],
        Layer::Signed {
            detached: false,
            ..
        }
    ));
    assert_eq!(
        r.mic().unwrap().to_string(),
        expected_mic(&inner, sha256(), "sha-256")
    );
}

#[test]
fn plain_payload_mic_is_over_content_only() {
    let msg = edi_entity(PAYLOAD);
    let r = run(&msg, &[]);
    check_payload(&r);
    assert!(r.security.layers.is_empty());
    assert_eq!(
        r.mic().unwrap().to_string(),
        expected_mic(PAYLOAD, MessageDigest::sha256(), "sha-256")
    );
}

#[test]
fn key_rollover_tries_each_decryption_key() {
    let k = keys();
    let msg = encrypt(&edi_entity(PAYLOAD), &k.ours, Cipher::aes_128_cbc(), false);
    let (headers, body) = request(&msg, &[]);
    let mut s = settings();
    s.decryption_keys.insert(0, k.stranger.clone());
    let r = receive_both(&headers, &body, &s, &Limits::default()).unwrap();
    assert_eq!(r.payload, PAYLOAD);
}
