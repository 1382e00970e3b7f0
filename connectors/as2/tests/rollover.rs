//! Certificates that change without an outage: during a renewal overlap the partner's old and
//! new certificates both verify, and our previous and current keys both decrypt, each chosen
//! by what the message names; messages built with openssl directly.

mod common;

use berth_as2::certs::KeyPair;
use berth_as2::cms::{self, CmsError};
use berth_as2::disposition::{Disposition, ProcessingError};
use berth_as2::envelope::{decrypt_reader, Limits as StreamLimits};
use berth_as2::receive::{PartnerSettings, Rejection};
use berth_as2::unwrap::{Layer, Limits};
use common::*;
use openssl::cms::{CMSOptions, CmsContentInfo};
use openssl::hash::MessageDigest;
use openssl::stack::Stack;
use openssl::symm::Cipher;
use std::sync::OnceLock;

const PAYLOAD: &[u8] = b"UNB+UNOA:2+PARTNER+US'\r\nUNH+1+ORDERS'";

/// The partner's certificate before and after its renewal (same subject, new key and serial),
/// and ours likewise.
struct Renewal {
    partner_old: KeyPair,
    partner_new: KeyPair,
    ours_old: KeyPair,
    ours_new: KeyPair,
}

fn renewal() -> &'static Renewal {
    static R: OnceLock<Renewal> = OnceLock::new();
    R.get_or_init(|| Renewal {
        partner_old: keypair_valid("partner", -300, 60),
        partner_new: keypair_valid("partner", -1, 730),
        ours_old: keypair_valid("us", -300, 60),
        ours_new: keypair_valid("us", -1, 730),
    })
}

/// Both partner certificates and both our keys, the new ones first.
fn settings() -> PartnerSettings {
    let r = renewal();
    PartnerSettings {
        decryption_keys: vec![r.ours_new.clone(), r.ours_old.clone()],
        partner_certificates: vec![
            r.partner_new.certificate.clone(),
            r.partner_old.certificate.clone(),
        ],
        ..PartnerSettings::default()
    }
}

fn accept(entity: &[u8]) -> Vec<Layer> {
    let (headers, body) = request(entity, &[]);
    match receive_both(&headers, &body, &settings(), &Limits::default()) {
        Ok(r) => {
            assert_eq!(r.payload, PAYLOAD);
            r.security.layers.clone()
        }
        Err(e) => panic!("refused: {e:?}"),
    }
}

#[test]
fn signatures_by_the_old_and_the_new_partner_certificate_both_verify() {
    let r = renewal();
    for signer in [&r.partner_old, &r.partner_new] {
        let msg = sign(
            &edi_entity(PAYLOAD),
            signer,
            MessageDigest::sha256(),
            "sha-256",
            false,
        );
        accept(&msg);
        accept(&sign_opaque(&edi_entity(PAYLOAD), signer));
        // Signed, then encrypted to either of our certificates.
        accept(&encrypt(&msg, &r.ours_old, Cipher::aes_256_cbc(), false));
        accept(&encrypt(&msg, &r.ours_new, Cipher::aes_128_cbc(), true));
    }
}

#[test]
fn a_signer_naming_neither_certificate_fails_as_a_wrong_certificate_does() {
    let stranger = &keys().stranger;
    let msg = sign(
        &edi_entity(PAYLOAD),
        stranger,
        MessageDigest::sha256(),
        "sha-256",
        false,
    );
    let (headers, body) = request(&msg, &[]);
    let failed = match receive_both(&headers, &body, &settings(), &Limits::default()) {
        Err(Rejection::Failed(f)) => f,
        other => panic!("not refused as expected: {:?}", other.map(|r| r.security)),
    };
    assert_eq!(
        failed.disposition,
        Disposition::Error(ProcessingError::AuthenticationFailed)
    );
    let Some(CmsError::UnknownSigner(reason)) = &failed.cms_error else {
        panic!("{:?}", failed.cms_error);
    };
    assert!(reason.contains("issuer CN=stranger, serial"), "{reason}");
    assert!(reason.contains("partner (issuer CN=partner"), "{reason}");
}

/// EnvelopedData DER for `recipient`, named by issuer and serial number.
fn enveloped(recipient: &KeyPair) -> Vec<u8> {
    let mut stack = Stack::new().unwrap();
    stack.push(recipient.certificate.clone()).unwrap();
    CmsContentInfo::encrypt(&stack, PAYLOAD, Cipher::aes_128_cbc(), CMSOptions::BINARY)
        .unwrap()
        .to_der()
        .unwrap()
}

#[test]
fn messages_to_our_previous_and_current_certificate_both_decrypt() {
    let r = renewal();
    let ours = settings().decryption_keys;
    for recipient in [&r.ours_old, &r.ours_new] {
        let der = enveloped(recipient);
        // The streaming reader and the OpenSSL path each pick the named key.
        let streamed = decrypt_reader(&der[..], &ours, &StreamLimits::default()).unwrap();
        assert_eq!(streamed, PAYLOAD);
        assert_eq!(cms::decrypt(&der, &ours).unwrap(), PAYLOAD);
        accept(&encrypt(
            &edi_entity(PAYLOAD),
            recipient,
            Cipher::aes_192_cbc(),
            false,
        ));
    }
    let to_stranger = enveloped(&keys().stranger);
    assert!(matches!(
        cms::decrypt(&to_stranger, &ours),
        Err(CmsError::Decryption(_))
    ));
    assert!(decrypt_reader(&to_stranger[..], &ours, &StreamLimits::default()).is_err());
}
