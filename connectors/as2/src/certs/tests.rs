use super::*;
use crate::testutil::keypair;
use openssl::pkcs7::Pkcs7Flags;
use openssl::stack::Stack;
use openssl::symm::Cipher;

#[test]
fn loads_pem_and_der_certificates() {
    let a = keypair("a");
    let b = keypair("b");
    let pem = [
        a.certificate.to_pem().unwrap(),
        b.certificate.to_pem().unwrap(),
    ]
    .concat();
    let certs = load_certificates(&pem, None).unwrap();
    assert_eq!(certs.len(), 2);
    assert_eq!(certs[1].to_der().unwrap(), b.certificate.to_der().unwrap());
    let der = a.certificate.to_der().unwrap();
    assert_eq!(
        load_certificates(&der, None).unwrap()[0].to_der().unwrap(),
        der
    );
    assert_eq!(
        load_certificates(b"junk", None).unwrap_err(),
        CertError::NoCertificate
    );
    assert_eq!(
        load_certificates(
            b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            None
        )
        .unwrap_err(),
        CertError::NoCertificate
    );
}

#[test]
fn loads_pkcs7_chains() {
    let a = keypair("a");
    let b = keypair("b");
    let mut stack = Stack::new().unwrap();
    stack.push(b.certificate.clone()).unwrap();
    // A degenerate signed PKCS#7 carrying certificates, as .p7b files are.
    let p7 = Pkcs7::sign(
        &a.certificate,
        &a.private_key,
        &stack,
        b"",
        Pkcs7Flags::BINARY,
    )
    .unwrap();
    let certs = load_certificates(&p7.to_der().unwrap(), None).unwrap();
    assert_eq!(certs.len(), 2);
    let certs = load_certificates(&p7.to_pem().unwrap(), None).unwrap();
    assert_eq!(certs.len(), 2);
}

#[test]
fn loads_pkcs12_with_password() {
    let a = keypair("a");
    let p12 = Pkcs12::builder()
        .name("a")
        .pkey(&a.private_key)
        .cert(&a.certificate)
        .build2("s3cret")
        .unwrap()
        .to_der()
        .unwrap();
    let pair = KeyPair::from_pkcs12(&p12, "s3cret").unwrap();
    assert_eq!(
        pair.certificate.to_der().unwrap(),
        a.certificate.to_der().unwrap()
    );
    assert!(matches!(
        KeyPair::from_pkcs12(&p12, "wrong"),
        Err(CertError::Pkcs12(_))
    ));
    assert_eq!(load_certificates(&p12, Some("s3cret")).unwrap().len(), 1);
    let key = load_private_key(&p12, Some("s3cret")).unwrap();
    assert!(key.public_eq(&a.private_key));
}

#[test]
fn loads_private_keys() {
    let a = keypair("a");
    let pem = a.private_key.private_key_to_pem_pkcs8().unwrap();
    assert!(load_private_key(&pem, None)
        .unwrap()
        .public_eq(&a.private_key));
    let der = a.private_key.private_key_to_der().unwrap();
    assert!(load_private_key(&der, None)
        .unwrap()
        .public_eq(&a.private_key));
    let enc = a
        .private_key
        .private_key_to_pem_pkcs8_passphrase(Cipher::aes_256_cbc(), b"pw")
        .unwrap();
    assert!(load_private_key(&enc, Some("pw"))
        .unwrap()
        .public_eq(&a.private_key));
    assert_eq!(
        load_private_key(&enc, Some("no")).unwrap_err(),
        CertError::NoPrivateKey
    );
    assert_eq!(
        load_private_key(b"junk", None).unwrap_err(),
        CertError::NoPrivateKey
    );
}

#[test]
fn key_pair_rejects_mismatched_key() {
    let a = keypair("a");
    let b = keypair("b");
    assert_eq!(
        KeyPair::new(a.certificate, b.private_key).unwrap_err(),
        CertError::KeyMismatch
    );
    assert!(!format!("{b_dbg:?}", b_dbg = keypair("c")).contains("PRIVATE"));
}
