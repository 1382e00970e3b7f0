use super::*;
use crate::testutil::{keypair, keypair_valid};
use openssl::symm::Cipher;

#[test]
fn signs_with_each_digest_and_verifies() {
    let signer = keypair("signer");
    for alg in MicAlg::ALL {
        let sig = sign_detached(
            b"content\r\n",
            &signer.certificate,
            &signer.private_key,
            alg,
        )
        .unwrap();
        assert_eq!(content_type(&sig).unwrap(), OID_SIGNED_DATA);
        assert_eq!(signer_digest(&sig), Some(alg));
        let v = verify_detached(
            &sig,
            b"content\r\n",
            std::slice::from_ref(&signer.certificate),
            false,
        )
        .unwrap();
        assert_eq!(v.alg, Some(alg));
    }
}

#[test]
fn verification_failures_are_distinguished() {
    let signer = keypair("signer");
    let other = keypair("other");
    let sig = sign_detached(
        b"data",
        &signer.certificate,
        &signer.private_key,
        MicAlg::Sha256,
    )
    .unwrap();
    let ours = [signer.certificate.clone()];
    assert!(matches!(
        verify_detached(&sig, b"dat4", &ours, false),
        Err(CmsError::ContentMismatch(_))
    ));
    assert!(matches!(
        verify_detached(
            &sig,
            b"data",
            std::slice::from_ref(&other.certificate),
            false
        ),
        Err(CmsError::UnknownSigner(_))
    ));
    // With several partner certificates, the matching one is found.
    let both = [other.certificate.clone(), signer.certificate.clone()];
    let v = verify_detached(&sig, b"data", &both, false).unwrap();
    assert_eq!(
        v.signer.to_der().unwrap(),
        signer.certificate.to_der().unwrap()
    );
    assert!(matches!(
        verify_detached(b"\x30\x03\x02\x01\x00", b"data", &ours, false),
        Err(CmsError::Malformed(_))
    ));
    assert!(matches!(
        verify_detached(&sig, b"data", &[], false),
        Err(CmsError::UnknownSigner(_))
    ));
}

#[test]
fn expired_and_future_certificates_are_reported() {
    let expired = keypair_valid("old", -30, -1);
    let future = keypair_valid("new", 2, 30);
    for (pair, want_expired) in [(&expired, true), (&future, false)] {
        let sig =
            sign_detached(b"x", &pair.certificate, &pair.private_key, MicAlg::Sha256).unwrap();
        let certs = [pair.certificate.clone()];
        let err = verify_detached(&sig, b"x", &certs, false).unwrap_err();
        if want_expired {
            assert!(
                matches!(err, CmsError::CertificateExpired { .. }),
                "{err:?}"
            );
        } else {
            assert!(
                matches!(err, CmsError::CertificateNotYetValid { .. }),
                "{err:?}"
            );
        }
        assert!(err.to_string().contains("CN="));
        assert!(verify_detached(&sig, b"x", &certs, true).is_ok());
    }
}

#[test]
fn decrypts_with_the_matching_key() {
    let ours = keypair("ours");
    let old = keypair("old");
    let mut stack = Stack::new().unwrap();
    stack.push(ours.certificate.clone()).unwrap();
    let cms = CmsContentInfo::encrypt(&stack, b"secret", Cipher::aes_128_cbc(), CMSOptions::BINARY)
        .unwrap()
        .to_der()
        .unwrap();
    assert_eq!(content_type(&cms).unwrap(), OID_ENVELOPED_DATA);
    assert_eq!(decrypt(&cms, &[old.clone(), ours]).unwrap(), b"secret");
    assert!(matches!(
        decrypt(&cms, &[old]),
        Err(CmsError::Decryption(_))
    ));
    assert!(matches!(decrypt(&cms, &[]), Err(CmsError::Decryption(_))));
    assert!(matches!(
        decrypt(b"garbage", &[]),
        Err(CmsError::Malformed(_))
    ));
    assert!(matches!(
        content_type(b"\x04\x00"),
        Err(CmsError::Malformed(_))
    ));
}

#[test]
fn embedded_certificates_are_dropped_before_parsing() {
    let signer = keypair("signer");
    let sig = sign_detached(
        b"data",
        &signer.certificate,
        &signer.private_key,
        MicAlg::Sha256,
    )
    .unwrap();
    let stripped =
        without_embedded_certificates(&sig).expect("the signature embeds its certificate");
    assert!(stripped.len() < sig.len());
    // Nothing is left to strip, and what remains still verifies (and still rejects).
    assert!(without_embedded_certificates(&stripped).is_none());
    let ours = [signer.certificate.clone()];
    verify_detached(&stripped, b"data", &ours, false).unwrap();
    assert!(matches!(
        verify_detached(&stripped, b"datA", &ours, false),
        Err(CmsError::ContentMismatch(_))
    ));
    // Unparseable input is left for OpenSSL to report.
    assert!(without_embedded_certificates(&sig[..sig.len() - 1]).is_none());
}
