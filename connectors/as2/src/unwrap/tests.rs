use super::*;
use crate::stream::tests::unwrap_both as unwrap;
use crate::testutil::keypair;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

fn no_keys() -> UnwrapKeys<'static> {
    UnwrapKeys {
        decryption_keys: &[],
        partner_certificates: &[],
        allow_expired_certificates: false,
    }
}

fn compressed_entity(inner: &[u8]) -> Vec<u8> {
    let mut e = b"Content-Type: application/pkcs7-mime; smime-type=compressed-data\r\nContent-Transfer-Encoding: base64\r\n\r\n".to_vec();
    e.extend(STANDARD.encode(compress::compress(inner)).as_bytes());
    e
}

#[test]
fn plain_payload_has_no_layers() {
    let entity = MimePart::parse(b"Content-Type: application/edi-x12\r\n\r\nISA~");
    let out = unwrap(entity, &no_keys(), &Limits::default()).unwrap();
    assert_eq!(out.payload.body(), b"ISA~");
    assert!(out.security.layers.is_empty());
}

#[test]
fn nested_compression_and_depth_limit() {
    let mut e = b"Content-Type: text/plain\r\n\r\nhi".to_vec();
    for _ in 0..3 {
        e = compressed_entity(&e);
    }
    let limits = Limits {
        max_depth: 3,
        ..Limits::default()
    };
    let out = unwrap(MimePart::parse(&e), &no_keys(), &limits).unwrap();
    assert_eq!(out.payload.body(), b"hi");
    assert_eq!(out.security.layers, vec![Layer::Compressed; 3]);
    let limits = Limits {
        max_depth: 2,
        ..Limits::default()
    };
    let err = unwrap(MimePart::parse(&e), &no_keys(), &limits).unwrap_err();
    assert_eq!(err.error, ProcessingError::UnexpectedProcessingError);
    assert_eq!(err.security.layers.len(), 3);
}

#[test]
fn undeclared_base64_is_accepted() {
    let mut e =
        b"Content-Type: application/pkcs7-mime; smime-type=compressed-data\r\n\r\n".to_vec();
    e.extend(STANDARD.encode(compress::compress(b"\r\nx")).as_bytes());
    let out = unwrap(MimePart::parse(&e), &no_keys(), &Limits::default()).unwrap();
    assert_eq!(out.payload.body(), b"x");
}

#[test]
fn garbage_cms_is_reported_by_declared_type() {
    for (smime, want) in [
        ("enveloped-data", ProcessingError::DecryptionFailed),
        ("signed-data", ProcessingError::AuthenticationFailed),
        ("compressed-data", ProcessingError::DecompressionFailed),
        ("", ProcessingError::UnexpectedProcessingError),
    ] {
        let e = format!("Content-Type: application/pkcs7-mime; smime-type={smime}\r\nContent-Transfer-Encoding: base64\r\n\r\nMIIBIjANBg==");
        let err = unwrap(
            MimePart::parse(e.as_bytes()),
            &no_keys(),
            &Limits::default(),
        )
        .unwrap_err();
        assert_eq!(err.error, want, "{smime}");
    }
}

#[test]
fn multipart_signed_structure_errors() {
    let signer = keypair("s");
    let certs = [signer.certificate.clone()];
    let keys = UnwrapKeys {
        decryption_keys: &[],
        partner_certificates: &certs,
        allow_expired_certificates: false,
    };
    let cases: [(&[u8], ProcessingError); 3] = [
        (
            b"Content-Type: multipart/signed; boundary=b\r\n\r\n--b\r\n\r\nonly one\r\n--b--\r\n",
            ProcessingError::IntegrityCheckFailed,
        ),
        (
            b"Content-Type: multipart/signed; boundary=b\r\n\r\n--b\r\n\r\nunterminated",
            ProcessingError::IntegrityCheckFailed,
        ),
        (
            b"Content-Type: multipart/signed; boundary=b\r\n\r\n--b\r\n\r\na\r\n--b\r\nContent-Type: text/plain\r\n\r\nsig\r\n--b--\r\n",
            ProcessingError::AuthenticationFailed,
        ),
    ];
    for (raw, want) in cases {
        let err = unwrap(MimePart::parse(raw), &keys, &Limits::default()).unwrap_err();
        assert_eq!(err.error, want, "{}", err.detail);
    }
}

#[test]
fn bare_lf_transmission_of_crlf_signed_entity_verifies() {
    let signer = keypair("s");
    let canonical = b"Content-Type: text/plain\r\n\r\nline1\r\nline2\r\n";
    let sig = cms::sign_detached(
        canonical,
        &signer.certificate,
        &signer.private_key,
        MicAlg::Sha1,
    )
    .unwrap();
    let lf_entity = b"Content-Type: text/plain\n\nline1\nline2\n";
    let mut body = b"Content-Type: multipart/signed; boundary=\"b\"\n\n--b\n".to_vec();
    body.extend_from_slice(lf_entity);
    body.extend_from_slice(
        b"\n--b\nContent-Type: application/pkcs7-signature\nContent-Transfer-Encoding: base64\n\n",
    );
    body.extend(STANDARD.encode(&sig).as_bytes());
    body.extend_from_slice(b"\n--b--\n");
    let certs = [signer.certificate.clone()];
    let keys = UnwrapKeys {
        decryption_keys: &[],
        partner_certificates: &certs,
        allow_expired_certificates: false,
    };
    let out = unwrap(MimePart::parse(&body), &keys, &Limits::default()).unwrap();
    assert_eq!(out.security.signed_entity.as_deref(), Some(&canonical[..]));
    assert_eq!(out.security.signature_alg, Some(MicAlg::Sha1));
    assert_eq!(out.payload.body(), b"line1\nline2\n");
}
