use super::*;
use crate::certs::KeyPair;
use crate::cms::{self, CmsError};
use crate::micalg::MicAlg;
use crate::testutil::keypair;
use openssl::cms::{CMSOptions, CmsContentInfo};
use openssl::hash::MessageDigest;
use openssl::x509::extension::SubjectKeyIdentifier;
use openssl::x509::X509Builder;

/// A renewal of `old`: same subject and issuer name, a new key and serial number, and a
/// subject key identifier (which `keypair` certificates do not carry).
fn renewal_with_ski(old: &KeyPair) -> KeyPair {
    let fresh = keypair("unused");
    let mut b = X509Builder::new().unwrap();
    b.set_version(2).unwrap();
    let serial = BigNum::from_u32(0x7EAD_BEEF)
        .unwrap()
        .to_asn1_integer()
        .unwrap();
    b.set_serial_number(&serial).unwrap();
    b.set_subject_name(old.certificate.subject_name()).unwrap();
    b.set_issuer_name(old.certificate.issuer_name()).unwrap();
    b.set_pubkey(&fresh.private_key).unwrap();
    b.set_not_before(old.certificate.not_before()).unwrap();
    b.set_not_after(old.certificate.not_after()).unwrap();
    let ski = SubjectKeyIdentifier::new()
        .build(&b.x509v3_context(None, None))
        .unwrap();
    b.append_extension(ski).unwrap();
    b.sign(&fresh.private_key, MessageDigest::sha256()).unwrap();
    KeyPair::new(b.build(), fresh.private_key).unwrap()
}

/// A detached signature whose SignerInfo names the signer by subject key identifier.
fn sign_by_key_id(signer: &KeyPair, content: &[u8]) -> Vec<u8> {
    let flags = CMSOptions::DETACHED | CMSOptions::BINARY | CMSOptions::USE_KEYID;
    CmsContentInfo::sign(
        Some(&signer.certificate),
        Some(&signer.private_key),
        None,
        Some(content),
        flags,
    )
    .unwrap()
    .to_der()
    .unwrap()
}

#[test]
fn old_and_new_partner_certificates_both_verify_during_the_overlap() {
    let old = keypair("partner");
    let new = renewal_with_ski(&old);
    let configured = [old.certificate.clone(), new.certificate.clone()];
    let by_serial =
        cms::sign_detached(b"data", &old.certificate, &old.private_key, MicAlg::Sha256).unwrap();
    let by_key_id = sign_by_key_id(&new, b"data");
    for (signature, expected) in [(&by_serial, &old), (&by_key_id, &new)] {
        let ids = signer_ids(signature).unwrap();
        assert_eq!(ids.len(), 1);
        let named = select_named(&ids, &configured).unwrap();
        assert_eq!(named.len(), 1, "exactly the named certificate is chosen");
        assert_eq!(
            named[0].to_der().unwrap(),
            expected.certificate.to_der().unwrap()
        );
        let verified = cms::verify_detached(signature, b"data", &configured, false).unwrap();
        assert_eq!(
            verified.signer.to_der().unwrap(),
            expected.certificate.to_der().unwrap()
        );
    }
    assert!(matches!(signer_ids(&by_key_id).unwrap()[0], CertId::Ski(_)));
    assert!(matches!(
        signer_ids(&by_serial).unwrap()[0],
        CertId::IssuerSerial { .. }
    ));
}

#[test]
fn a_signer_naming_no_configured_certificate_is_refused_with_what_it_asked_for() {
    let old = keypair("partner");
    let new = renewal_with_ski(&old);
    let stranger = keypair("stranger");
    let configured = [old.certificate.clone(), new.certificate.clone()];
    let signature = cms::sign_detached(
        b"data",
        &stranger.certificate,
        &stranger.private_key,
        MicAlg::Sha256,
    )
    .unwrap();
    let Err(CmsError::UnknownSigner(message)) =
        cms::verify_detached(&signature, b"data", &configured, false)
    else {
        panic!("a stranger's signature must be an unknown signer");
    };
    let serial = hex(
        &stranger
            .certificate
            .serial_number()
            .to_bn()
            .unwrap()
            .to_vec(),
        "",
    );
    assert!(
        message.contains(&format!("issuer CN=stranger, serial {serial}")),
        "{message}"
    );
    assert!(message.contains("serial 7EADBEEF"), "{message}");
    // By key identifier: the identifier itself is named.
    let stranger_ski = renewal_with_ski(&stranger);
    let signature = sign_by_key_id(&stranger_ski, b"data");
    let Err(CmsError::UnknownSigner(message)) =
        cms::verify_detached(&signature, b"data", &configured, false)
    else {
        panic!("an unknown key identifier must be an unknown signer");
    };
    let ski = hex(
        stranger_ski
            .certificate
            .subject_key_id()
            .unwrap()
            .as_slice(),
        ":",
    );
    assert!(
        message.contains(&format!("subject key identifier {ski}")),
        "{message}"
    );
}

#[test]
fn a_key_identifier_names_only_the_certificate_carrying_it() {
    let old = keypair("partner");
    let new = renewal_with_ski(&old);
    let signature = sign_by_key_id(&new, b"data");
    let ids = signer_ids(&signature).unwrap();
    assert!(ids[0].names(&new.certificate));
    assert!(!ids[0].names(&old.certificate));
    // Same issuer name, other serial number: not named.
    let signature =
        cms::sign_detached(b"data", &old.certificate, &old.private_key, MicAlg::Sha1).unwrap();
    let ids = signer_ids(&signature).unwrap();
    assert!(ids[0].names(&old.certificate));
    assert!(!ids[0].names(&new.certificate));
}

#[test]
fn garbage_has_no_signer_ids() {
    assert!(signer_ids(b"\x30\x03\x02\x01\x00").is_none());
    assert!(signer_ids(b"").is_none());
}
