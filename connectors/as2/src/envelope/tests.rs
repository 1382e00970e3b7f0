use super::fixtures::*;
use super::*;
use crate::der::{write_oid, Element};
use crate::testutil::keypair;
use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::cms::{CMSOptions, CmsContentInfo};
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::stack::Stack;
use openssl::x509::extension::SubjectKeyIdentifier;
use openssl::x509::{X509Builder, X509NameBuilder, X509};

#[test]
fn decrypts_every_cipher_and_key_transport_like_openssl() {
    let big = pseudo_random(3 * 1024 * 1024 + 5);
    let transports = [
        Transport::Pkcs1,
        Transport::Oaep(MessageDigest::sha1),
        Transport::Oaep(MessageDigest::sha256),
    ];
    for (name, cipher) in ciphers() {
        for transport in transports {
            for plain in [&b""[..], b"x", &big] {
                let der = encrypt(plain, &[&keys().ours], cipher, transport);
                let what = format!("{name} {transport:?} {} bytes", plain.len());
                let out = decrypt(&der, &ours()).unwrap_or_else(|e| panic!("{what}: {e}"));
                assert!(out == plain, "{what}");
                assert!(cms::decrypt(&der, &ours()).unwrap() == out, "{what}");
            }
        }
    }
}

#[test]
fn definite_length_reserves_once() {
    let plain = pseudo_random(3 * 1024 * 1024);
    for (name, cipher) in ciphers() {
        let der = encrypt(&plain, &[&keys().ours], cipher, Transport::Pkcs1);
        let content_len = layout(&der).content.len();
        let out = decrypt_reader(&der[..], &ours(), &Limits::default()).unwrap();
        assert!(out == plain, "{name}");
        assert!(out.capacity() <= content_len, "{name}: {}", out.capacity());
    }
}

#[test]
fn decrypts_ber_with_indefinite_lengths_and_segments() {
    let big = pseudo_random(100_003);
    for (name, cipher) in ciphers() {
        for plain in [&b""[..], b"y", &big] {
            let der = encrypt(plain, &[&keys().ours], cipher, Transport::Pkcs1);
            let ber = to_ber(&der);
            assert_ne!(ber, der);
            let out = decrypt(&ber, &ours()).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(out == plain, "{name} {}", plain.len());
        }
    }
}

/// The message with its two recipient infos ordered so that the one naming
/// `kp` comes second (DER sorts a SET OF by encoding, so OpenSSL's order is
/// arbitrary). Same length, so the bytes are swapped in place.
fn put_second(der: &[u8], kp: &KeyPair) -> Vec<u8> {
    let body = der::parse(der).unwrap().children().unwrap()[1]
        .children()
        .unwrap()[0];
    let set = body.children().unwrap()[1];
    assert_eq!(set.tag, TAG_SET);
    let ris = set.children().unwrap();
    assert_eq!(ris.len(), 2);
    let serial = kp.certificate.serial_number().to_bn().unwrap().to_vec();
    let names = |ri: &Element<'_>| tlv(ri).windows(serial.len()).any(|w| w == serial);
    let (first, second) = (tlv(&ris[0]), tlv(&ris[1]));
    assert!(names(&ris[0]) != names(&ris[1]));
    let swapped = if names(&ris[0]) {
        [second, first].concat()
    } else {
        [first, second].concat()
    };
    let at = offset(der, set.content);
    let mut out = der.to_vec();
    out[at..at + swapped.len()].copy_from_slice(&swapped);
    let reparsed = der::parse(&out).unwrap().children().unwrap()[1]
        .children()
        .unwrap()[0];
    assert!(names(
        &reparsed.children().unwrap()[1].children().unwrap()[1]
    ));
    out
}

#[test]
fn picks_our_recipient_info_among_several() {
    let k = keys();
    for cipher in [Cipher::aes_256_cbc(), Cipher::aes_128_gcm()] {
        let der = encrypt(
            b"two recipients",
            &[&k.stranger, &k.ours],
            cipher,
            Transport::Pkcs1,
        );
        let der = put_second(&der, &k.ours);
        assert_eq!(decrypt(&der, &ours()).unwrap(), b"two recipients");
        assert_eq!(cms::decrypt(&der, &ours()).unwrap(), b"two recipients");
        // Our key listed after a key of ours that is not a recipient.
        let keys = [keypair("unused"), k.ours.clone()];
        assert_eq!(decrypt(&der, &keys).unwrap(), b"two recipients");
        let oaep = Transport::Oaep(MessageDigest::sha256);
        let der = put_second(
            &encrypt(b"oaep", &[&k.stranger, &k.ours], cipher, oaep),
            &k.ours,
        );
        assert_eq!(decrypt(&der, &ours()).unwrap(), b"oaep");
    }
}

/// A self-signed certificate for `key`, with a subject key identifier.
fn cert_with_ski(key: &PKey<Private>) -> X509 {
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", "ski").unwrap();
    let name = name.build();
    let mut b = X509Builder::new().unwrap();
    b.set_version(2).unwrap();
    let serial = BigNum::from_u32(77).unwrap().to_asn1_integer().unwrap();
    b.set_serial_number(&serial).unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(&name).unwrap();
    b.set_pubkey(key).unwrap();
    b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::days_from_now(30).unwrap())
        .unwrap();
    let ski = SubjectKeyIdentifier::new()
        .build(&b.x509v3_context(None, None))
        .unwrap();
    b.append_extension(ski).unwrap();
    b.sign(key, MessageDigest::sha256()).unwrap();
    b.build()
}

#[test]
fn subject_key_identifier_and_unnamed_recipients() {
    let ours = &keys().ours;
    let ski = KeyPair::new(cert_with_ski(&ours.private_key), ours.private_key.clone()).unwrap();
    let flags = CMSOptions::BINARY | CMSOptions::USE_KEYID;
    let der = encrypt_with(
        b"by ski",
        &[&ski],
        Cipher::aes_128_cbc(),
        Transport::Pkcs1,
        flags,
    );
    let oaep = Transport::Oaep(MessageDigest::sha384);
    let der_oaep = encrypt_with(b"by ski", &[&ski], Cipher::aes_128_gcm(), oaep, flags);
    for der in [der, der_oaep] {
        assert_eq!(
            decrypt(&der, std::slice::from_ref(&ski)).unwrap(),
            b"by ski"
        );
        // The same key under a certificate the message does not name:
        // found by trying it.
        assert_eq!(decrypt(&der, &self::ours()).unwrap(), b"by ski");
    }
    // Content that fails after a key found by trial reads like no key at
    // all, so the error does not reveal that the RSA step succeeded.
    let mut der = encrypt_with(b"by ski", &[&ski], Cipher::aes_128_gcm(), oaep, flags);
    let end = layout(&der).content.end;
    der[end - 1] ^= 1;
    let msg = decryption_error(decrypt(&der, &self::ours()));
    assert_eq!(msg, keys::NO_RECIPIENT);
    let msg = decryption_error(decrypt(&der, std::slice::from_ref(&ski)));
    assert!(msg.contains("tag mismatch"), "{msg}");
}

#[test]
fn wrong_or_missing_key_is_a_decryption_error() {
    let k = keys();
    for cipher in [Cipher::aes_128_cbc(), Cipher::aes_256_gcm()] {
        let der = encrypt(b"secret", &[&k.stranger], cipher, Transport::Pkcs1);
        let msg = decryption_error(decrypt(&der, &ours()));
        assert!(msg.contains("no recipient info"), "{msg}");
        assert!(cms::decrypt(&der, &ours()).is_err());
        let msg = decryption_error(decrypt(&der, &[]));
        assert!(msg.contains("no decryption key"), "{msg}");
    }
}

#[test]
fn tampered_content_or_tag_is_a_decryption_error() {
    let plain = pseudo_random(1000);
    for (name, cipher) in ciphers() {
        let der = encrypt(&plain, &[&keys().ours], cipher, Transport::Pkcs1);
        let l = layout(&der);
        let gcm = l.mac.is_some();
        // Last byte of the last block: GCM always fails its tag; CBC
        // decrypts that block to noise, so the padding fails unless the
        // noise happens to end in valid padding, and the output is wrong.
        let mut t = der.clone();
        t[l.content.end - 1] ^= 1;
        match decrypt(&t, &ours()) {
            Err(StreamDecryptError::Cms(CmsError::Decryption(_))) => {}
            Ok(out) if !gcm => assert!(out != plain, "{name}"),
            other => panic!("{name}: {other:?}"),
        }
        // Last byte of the block before: flips the padding byte of the last
        // block to an impossible value.
        if !gcm {
            let mut t = der.clone();
            t[l.content.end - 1 - cipher.block_size()] ^= 0x80;
            decryption_error(decrypt(&t, &ours()));
        }
        if let Some(mac) = l.mac {
            let mut t = der.clone();
            t[mac.start] ^= 1;
            let msg = decryption_error(decrypt(&t, &ours()));
            assert!(msg.contains("tag"), "{msg}");
            // A damaged encrypted key for our certificate fails exactly like
            // damaged content: no padding oracle on the RSA step.
            let mut t = der.clone();
            t[l.encrypted_key.start + 100] ^= 1;
            let msg = decryption_error(decrypt(&t, &ours()));
            assert!(msg.contains("tag"), "{msg}");
        }
    }
}

#[test]
fn every_truncation_is_malformed() {
    for cipher in [Cipher::aes_128_cbc(), Cipher::aes_128_gcm()] {
        let der = encrypt(
            b"0123456789abcdefXYZ",
            &[&keys().ours],
            cipher,
            Transport::Pkcs1,
        );
        for full in [to_ber(&der), der] {
            assert_eq!(decrypt(&full, &ours()).unwrap(), b"0123456789abcdefXYZ");
            for len in 0..full.len() {
                let r = decrypt(&full[..len], &ours());
                assert!(is_malformed(&r), "{len}/{}: {r:?}", full.len());
            }
        }
    }
}

#[test]
fn no_input_mutation_panics() {
    let der = encrypt(
        b"0123456789abcdefXYZ",
        &[&keys().ours],
        Cipher::aes_128_gcm(),
        Transport::Pkcs1,
    );
    for input in [to_ber(&der), der] {
        for i in 0..input.len() {
            for flip in [0x01, 0x80, 0xFF] {
                let mut t = input.clone();
                t[i] ^= flip;
                let _ = decrypt(&t, &ours());
            }
        }
    }
    for garbage in [
        &[0x30, 0x80, 0x06, 0x80][..],
        &[0x30, 0x89, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    ] {
        assert!(is_malformed(&decrypt(garbage, &ours())));
    }
}

#[test]
fn content_over_the_limit_is_refused_before_it_is_read() {
    let plain = pseudo_random(100_000);
    let der = encrypt(
        &plain,
        &[&keys().ours],
        Cipher::aes_256_cbc(),
        Transport::Pkcs1,
    );
    let limits = Limits {
        max_content: 50_000,
    };
    let mut reader = Trickle(&der);
    let msg = decryption_error(decrypt_reader(&mut reader, &ours(), &limits));
    assert!(msg.contains("exceeds the limit of 50000 bytes"), "{msg}");
    let read = der.len() - reader.0.len();
    assert!(read < 1000, "read {read} bytes");

    let exact = Limits {
        max_content: plain.len(),
    };
    assert_eq!(decrypt_reader(&der[..], &ours(), &exact).unwrap(), plain);
    let one_less = Limits {
        max_content: plain.len() - 1,
    };
    decryption_error(decrypt_reader(&der[..], &ours(), &one_less));
    // Indefinite length: stops while streaming.
    decryption_error(decrypt_reader(&to_ber(&der)[..], &ours(), &limits));

    // A forged 1 TiB length on a short message: refused, not reserved.
    let ber = to_ber(&der);
    let l = layout(&der);
    let needle = &der[l.content_tlv - 32..l.content_tlv];
    let content_tlv = ber.windows(32).position(|w| w == needle).unwrap() + 32;
    assert_eq!(ber[content_tlv..content_tlv + 2], [0xA0, 0x80]);
    let mut forged = ber[..content_tlv].to_vec();
    forged.extend([0x80, 0x86, 0x01, 0, 0, 0, 0, 0]);
    forged.extend(&der[l.content.start..l.content.start + 64]);
    let msg = decryption_error(decrypt_reader(&forged[..], &ours(), &Limits::default()));
    assert!(msg.contains("exceeds the limit"), "{msg}");
}

fn patch_oid(der: &[u8], from: &str, to: &str) -> Vec<u8> {
    let (from, to) = (write_oid(from), write_oid(to));
    assert_eq!(from.len(), to.len());
    let at = der.windows(from.len()).position(|w| w == from).unwrap();
    let mut out = der.to_vec();
    out[at..at + to.len()].copy_from_slice(&to);
    out
}

fn unsupported_reason(r: Result<Vec<u8>, StreamDecryptError>) -> String {
    match r {
        Err(StreamDecryptError::Unsupported(m)) => m,
        other => panic!("expected Unsupported, got {other:?}"),
    }
}

#[test]
fn unsupported_algorithms_and_recipient_kinds() {
    let k = keys();
    let cbc = encrypt(b"data", &[&k.ours], Cipher::aes_128_cbc(), Transport::Pkcs1);
    let ofb = patch_oid(&cbc, "2.16.840.1.101.3.4.1.2", "2.16.840.1.101.3.4.1.3");
    let msg = unsupported_reason(decrypt(&ofb, &ours()));
    assert!(msg.contains("2.16.840.1.101.3.4.1.3"), "{msg}");
    let gcm = encrypt(b"data", &[&k.ours], Cipher::aes_128_gcm(), Transport::Pkcs1);
    let ccm = patch_oid(&gcm, "2.16.840.1.101.3.4.1.6", "2.16.840.1.101.3.4.1.7");
    let msg = unsupported_reason(decrypt(&ccm, &ours()));
    assert!(msg.contains("2.16.840.1.101.3.4.1.7"), "{msg}");
    // RC2 only where this OpenSSL build still offers it (legacy provider).
    let mut stack = Stack::new().unwrap();
    stack.push(k.ours.certificate.clone()).unwrap();
    if let Ok(cms) = CmsContentInfo::encrypt(&stack, b"d", Cipher::rc2_cbc(), CMSOptions::BINARY) {
        let msg = unsupported_reason(decrypt(&cms.to_der().unwrap(), &ours()));
        assert!(msg.contains("1.2.840.113549.3.2"), "{msg}");
    }
    // Key transport algorithms: unknown, and OAEP with SHA3-256.
    let other = patch_oid(&cbc, "1.2.840.113549.1.1.1", "1.2.840.113549.1.1.5");
    let msg = unsupported_reason(decrypt(&other, &ours()));
    assert!(msg.contains("1.2.840.113549.1.1.5"), "{msg}");
    let oaep = encrypt(
        b"d",
        &[&k.ours],
        Cipher::aes_128_cbc(),
        Transport::Oaep(MessageDigest::sha256),
    );
    let sha3 = patch_oid(&oaep, "2.16.840.1.101.3.4.2.1", "2.16.840.1.101.3.4.2.8");
    let msg = unsupported_reason(decrypt(&sha3, &ours()));
    assert!(msg.contains("2.16.840.1.101.3.4.2.8"), "{msg}");
    // Key agreement only (an EC recipient).
    let group = openssl::ec::EcGroup::from_curve_name(openssl::nid::Nid::X9_62_PRIME256V1).unwrap();
    let ec = PKey::from_ec_key(openssl::ec::EcKey::generate(&group).unwrap()).unwrap();
    let ec_pair = KeyPair::new(cert_with_ski(&ec), ec).unwrap();
    let kari = encrypt(
        b"data",
        &[&ec_pair],
        Cipher::aes_128_cbc(),
        Transport::Pkcs1,
    );
    let msg = unsupported_reason(decrypt(&kari, &ours()));
    assert!(msg.contains("key agreement"), "{msg}");
    // An EC key of ours is skipped for key transport, not an error.
    let both = [ec_pair, k.ours.clone()];
    assert_eq!(decrypt(&cbc, &both).unwrap(), b"data");
}

/// Interrupted on every other call; an I/O error instead of end of input
/// when `fail_at_end`.
struct Flaky<'a> {
    inner: Trickle<'a>,
    calls: usize,
    fail_at_end: bool,
}

impl Read for Flaky<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.calls += 1;
        if self.calls & 1 == 0 {
            return Err(std::io::ErrorKind::Interrupted.into());
        }
        if self.inner.0.is_empty() && self.fail_at_end {
            return Err(std::io::Error::other("disk gone"));
        }
        self.inner.read(buf)
    }
}

#[test]
fn read_errors_are_reported_and_interruptions_retried() {
    let der = encrypt(
        b"abc",
        &[&keys().ours],
        Cipher::aes_128_cbc(),
        Transport::Pkcs1,
    );
    let flaky = |data, fail_at_end| Flaky {
        inner: Trickle(data),
        calls: 0,
        fail_at_end,
    };
    for fail_at_end in [false, true] {
        let out = decrypt_reader(flaky(&der, fail_at_end), &ours(), &Limits::default());
        assert_eq!(out.unwrap(), b"abc");
    }
    let cut = &der[..der.len() - 3];
    let r = decrypt_reader(flaky(cut, true), &ours(), &Limits::default());
    assert!(matches!(r, Err(StreamDecryptError::Io(_))), "{r:?}");
    assert!(is_malformed(&decrypt_reader(
        flaky(cut, false),
        &ours(),
        &Limits::default()
    )));
}
