//! AES-GCM inside plain EnvelopedData (the tag appended to the content, as pkijs and some
//! BouncyCastle-based senders write it) and RSA-OAEP key transport with SHA-1/256/512, in
//! messages berth's code had no part in: tests/fixtures/interop was written by
//! `tests/as2/interop.py fixtures` (Python `cryptography` and `asn1crypto`, and the OpenSSL CLI
//! for the OAEP messages; manifest.txt lists them). Every message goes through every way berth
//! decrypts: its own reader fed in odd-sized pieces, the OpenSSL fallback, and whole AS2
//! messages in memory and streamed from a spooled body.

use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};

use berth_as2::certs::KeyPair;
use berth_as2::cms::{self, CmsError};
use berth_as2::disposition::{Disposition, ProcessingError};
use berth_as2::envelope::{self, StreamDecryptError};
use berth_as2::headers::As2Headers;
#[path = "common/both.rs"]
mod both;

use berth_as2::receive::{receive_body, Body, PartnerSettings, Received, Rejection};
use berth_as2::unwrap::{Layer, Limits};
use both::receive_both;
use openssl::pkey::PKey;
use openssl::x509::X509;

struct Fixture {
    kind: String,
    file: String,
    ok: bool,
    /// Length and SHA-256 (hex) of a large message's payload.
    payload: Option<(usize, String)>,
}

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/interop")
}

fn manifest(kind: &str) -> Vec<Fixture> {
    let text = std::fs::read_to_string(dir().join("manifest.txt")).unwrap();
    let all: Vec<Fixture> = text
        .lines()
        .map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            Fixture {
                kind: f[0].to_string(),
                file: f[1].to_string(),
                ok: match f[2] {
                    "ok" => true,
                    "decryption-failed" => false,
                    other => panic!("manifest: {other}"),
                },
                payload: f.get(3).map(|len| (len.parse().unwrap(), f[4].to_string())),
            }
        })
        .collect();
    let chosen: Vec<Fixture> = all.into_iter().filter(|f| f.kind == kind).collect();
    assert!(!chosen.is_empty(), "no {kind} fixtures");
    chosen
}

fn read(name: &str) -> Vec<u8> {
    let raw = std::fs::read(dir().join(name)).unwrap();
    if !name.ends_with(".gz") {
        return raw;
    }
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(&raw[..])
        .read_to_end(&mut out)
        .unwrap();
    out
}

fn keypair(key: &str, cert: &str) -> KeyPair {
    let cert = X509::from_pem(&read(cert)).unwrap();
    KeyPair::new(cert, PKey::private_key_from_pem(&read(key)).unwrap()).unwrap()
}

fn rsa_key() -> Vec<KeyPair> {
    vec![keypair("key.pem", "cert.pem")]
}

/// The MIME entity every small message encrypts, and its body (what must be delivered).
fn small_entity() -> (Vec<u8>, Vec<u8>) {
    let entity = read("small.entity");
    let split = entity.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let body = entity[split + 4..].to_vec();
    (entity, body)
}

/// Hands out the input in pieces of 1, 7, 15, 16, 17, 4093 and 65536 bytes in turn, so that
/// the tag held back at the end of the content straddles reads of every shape.
struct Pieces<'a> {
    data: &'a [u8],
    turn: usize,
}

impl Read for Pieces<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        const SIZES: [usize; 7] = [1, 7, 15, 16, 17, 4093, 65536];
        let n = SIZES[self.turn % SIZES.len()]
            .min(buf.len())
            .min(self.data.len());
        self.turn += 1;
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

fn stream_decrypt(der: &[u8], keys: &[KeyPair]) -> Result<Vec<u8>, StreamDecryptError> {
    let limits = envelope::Limits {
        max_content: der.len(),
    };
    envelope::decrypt_reader(Pieces { data: der, turn: 0 }, keys, &limits)
}

/// The AS2 request carrying `der`: binary as pkijs-based senders post it, or base64. The
/// smime-type follows the CMS content type.
fn request(der: &[u8], base64: bool) -> (Vec<(String, Vec<u8>)>, Vec<u8>) {
    let auth_enveloped = cms::content_type(der).unwrap() == cms::OID_AUTH_ENVELOPED_DATA;
    let content_type = format!(
        "application/pkcs7-mime; smime-type={}; name=\"smime.p7m\"",
        if auth_enveloped {
            "authEnveloped-data"
        } else {
            "enveloped-data"
        }
    );
    let (encoding, body) = if base64 {
        ("base64", openssl::base64::encode_block(der).into_bytes())
    } else {
        ("binary", der.to_vec())
    };
    let headers = [
        ("Content-Type", content_type.as_str()),
        ("Content-Transfer-Encoding", encoding),
        ("AS2-Version", "1.2"),
        ("AS2-From", "partner"),
        ("AS2-To", "us"),
        ("Message-ID", "<gcm-1@partner.example>"),
        ("Subject", "GCM"),
    ]
    .iter()
    .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec()))
    .collect();
    (headers, body)
}

fn settings(keys: Vec<KeyPair>) -> PartnerSettings {
    PartnerSettings {
        decryption_keys: keys,
        partner_certificates: Vec::new(),
        require_signed: false,
        require_encrypted: true,
        allow_expired_certificates: false,
    }
}

/// The message through `receive` in memory and through `receive_body` streamed from a
/// "spooled" body, binary and base64.
fn receive_all_ways(der: &[u8], keys: &[KeyPair]) -> Vec<(String, Result<Received, Rejection>)> {
    let settings = settings(keys.to_vec());
    let mut out = Vec::new();
    for base64 in [false, true] {
        let (headers, body) = request(der, base64);
        let in_memory = receive_both(&headers, &body, &settings, &Limits::default());
        out.push((format!("in memory, base64 {base64}"), in_memory));
        let open = || Ok(Box::new(Cursor::new(&body[..])) as Box<dyn Read + '_>);
        let streamed = receive_body(
            As2Headers::parse(&headers).unwrap(),
            Body::Stream {
                open: &open,
                len: body.len() as u64,
            },
            &settings,
            &Limits::default(),
        );
        out.push((format!("streamed, base64 {base64}"), streamed));
    }
    out
}

fn delivered(what: &str, r: Result<Received, Rejection>, authenticated: bool) -> Received {
    let received = r.unwrap_or_else(|e| panic!("{what}: rejected: {e:?}"));
    assert_eq!(
        received.security.layers,
        vec![Layer::Encrypted { authenticated }],
        "{what}"
    );
    received
}

fn refused_as_decryption_failed(what: &str, r: Result<Received, Rejection>) {
    match r {
        Err(Rejection::Failed(f)) => assert_eq!(
            f.disposition,
            Disposition::Error(ProcessingError::DecryptionFailed),
            "{what}: {}",
            f.detail
        ),
        Ok(r) => panic!(
            "{what}: delivered {} bytes despite a bad tag",
            r.payload.len()
        ),
        Err(other) => panic!("{what}: {other:?}"),
    }
}

fn is_decryption_error(r: &Result<Vec<u8>, StreamDecryptError>) -> bool {
    matches!(r, Err(StreamDecryptError::Cms(CmsError::Decryption(_))))
}

#[test]
fn every_gcm_key_size_and_key_transport_decrypts_in_every_path() {
    let (entity, body) = small_entity();
    let keys = rsa_key();
    let fixtures: Vec<Fixture> = manifest("small")
        .into_iter()
        .chain(manifest("openssl"))
        .filter(|f| f.ok)
        .collect();
    // 3 key sizes x 4 key transports, the ICV and BER variants, and OpenSSL's 6.
    assert_eq!(fixtures.len(), 12 + 2 + 6);
    for f in fixtures {
        let der = read(&f.file);
        let what = &f.file;
        let streamed = stream_decrypt(&der, &keys).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(streamed == entity, "{what}: streaming reader");
        let whole = envelope::decrypt_reader(&der[..], &keys, &envelope::Limits::default());
        assert!(whole.unwrap() == entity, "{what}: reader over a slice");
        let fallback = cms::decrypt(&der, &keys).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(fallback == entity, "{what}: OpenSSL fallback");
        // Only OpenSSL's GCM messages are AuthEnvelopedData.
        let authenticated = f.file.contains("openssl") && f.file.contains("gcm");
        for (how, r) in receive_all_ways(&der, &keys) {
            let received = delivered(&format!("{what} {how}"), r, authenticated);
            assert!(received.payload[..] == body[..], "{what} {how}");
            assert_eq!(
                received.properties.file_name.as_deref(),
                Some("small.bin"),
                "{what} {how}"
            );
        }
    }
}

#[test]
fn a_wrong_or_truncated_tag_is_refused_in_every_path() {
    let keys = rsa_key();
    let bad: Vec<Fixture> = manifest("small").into_iter().filter(|f| !f.ok).collect();
    assert_eq!(bad.len(), 3);
    for f in bad {
        let der = read(&f.file);
        let what = &f.file;
        let r = stream_decrypt(&der, &keys);
        assert!(is_decryption_error(&r), "{what}: {r:?}");
        let Err(StreamDecryptError::Cms(CmsError::Decryption(msg))) = r else {
            unreachable!()
        };
        assert!(msg.contains("tag"), "{what}: {msg}");
        let r = cms::decrypt(&der, &keys);
        assert!(matches!(r, Err(CmsError::Decryption(_))), "{what}: {r:?}");
        for (how, r) in receive_all_ways(&der, &keys) {
            refused_as_decryption_failed(&format!("{what} {how}"), r);
        }
    }
    // A tag altered in any byte, and content too short to hold a tag at all.
    let good = read("gcm128-rsa.der");
    let total = good.len();
    for back in 1..=16 {
        let mut t = good.clone();
        t[total - back] ^= 0x40;
        assert!(
            is_decryption_error(&stream_decrypt(&t, &keys)),
            "byte -{back}"
        );
        assert!(cms::decrypt(&t, &keys).is_err(), "byte -{back}");
    }
}

/// A copy of a small DER message (no unprotected attributes, so the encrypted content is its
/// last element) whose encrypted content is cut to `keep` bytes, every enclosing length
/// rewritten; the recipient infos are untouched.
fn with_content_cut_to(der: &[u8], keep: usize) -> Vec<u8> {
    let content_len = small_entity().0.len() + 16;
    let at = der.len() - content_len - 4;
    assert_eq!(
        der[at..at + 2],
        [0x80, 0x82],
        "primitive [0], two length bytes"
    );
    let removed = content_len - keep;
    let mut out = der[..at + 4 + keep].to_vec();
    out[at + 2..at + 4].copy_from_slice(&(keep as u16).to_be_bytes());
    // The EncryptedContentInfo starts 4 bytes before its content type, id-data.
    let data_oid = [
        0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x01,
    ];
    let eci = out.windows(11).position(|w| w == data_oid).unwrap() - 4;
    // ContentInfo, its [0], EnvelopedData, EncryptedContentInfo: all with two length bytes.
    for at in [0, 15, 19, eci] {
        assert_eq!(out[at + 1], 0x82, "header at {at}");
        let len = u16::from_be_bytes([out[at + 2], out[at + 3]]) as usize - removed;
        out[at + 2..at + 4].copy_from_slice(&(len as u16).to_be_bytes());
    }
    out
}

#[test]
fn content_shorter_than_its_tag_is_a_decryption_error() {
    let keys = rsa_key();
    let der = read("gcm128-oaep-sha256.der");
    // Unaltered, the rewrite keeps a message that decrypts.
    let whole = with_content_cut_to(&der, small_entity().0.len() + 16);
    assert!(whole == der);
    for keep in [0, 1, 15, 16] {
        let cut = with_content_cut_to(&der, keep);
        let r = stream_decrypt(&cut, &keys);
        assert!(is_decryption_error(&r), "{keep}: {r:?}");
        assert!(
            matches!(cms::decrypt(&cut, &keys), Err(CmsError::Decryption(_))),
            "{keep}"
        );
    }
}

#[test]
fn large_messages_are_streamed_and_delivered_only_after_the_tag() {
    let keys = rsa_key();
    for f in manifest("large") {
        let der = read(&f.file);
        assert!(der.len() > 5 << 20, "{}: {} bytes", f.file, der.len());
        let (len, sha256) = f.payload.clone().unwrap();
        let what = &f.file;
        for (how, r) in receive_all_ways(&der, &keys) {
            let what = format!("{what} {how}");
            if !f.ok {
                refused_as_decryption_failed(&what, r);
                continue;
            }
            let received = delivered(&what, r, false);
            assert_eq!(received.payload.len(), len, "{what}");
            assert_eq!(
                hex(&openssl::sha::sha256(&received.payload)),
                sha256,
                "{what}"
            );
        }
        if f.ok {
            // The same message with one bit of its tag (the last byte) flipped.
            let mut bad = der.clone();
            *bad.last_mut().unwrap() ^= 0x01;
            for (how, r) in receive_all_ways(&bad, &keys) {
                refused_as_decryption_failed(&format!("{what} altered tag {how}"), r);
            }
            // The OpenSSL fallback on the large message too.
            let plain = cms::decrypt(&der, &keys).unwrap();
            let body = &plain[plain.len() - len..];
            assert_eq!(hex(&openssl::sha::sha256(body)), sha256, "{what}");
        } else {
            assert!(cms::decrypt(&der, &keys).is_err(), "{what}");
        }
    }
}

#[test]
fn key_agreement_recipients_fall_back_to_openssl_with_the_tag_checked() {
    let (entity, body) = small_entity();
    // An EC key first: the RSA key of the other fixtures must not be what decrypts.
    let keys = vec![keypair("ec-key.pem", "ec-cert.pem"), rsa_key().remove(0)];
    for f in manifest("kari") {
        let der = read(&f.file);
        let what = &f.file;
        assert!(
            matches!(
                stream_decrypt(&der, &keys),
                Err(StreamDecryptError::Unsupported(_))
            ),
            "{what}: berth's reader does not do key agreement"
        );
        let fallback = cms::decrypt(&der, &keys);
        for (how, r) in receive_all_ways(&der, &keys) {
            let what = format!("{what} {how}");
            if f.ok {
                let received = delivered(&what, r, false);
                assert!(received.payload[..] == body[..], "{what}");
            } else {
                refused_as_decryption_failed(&what, r);
            }
        }
        if f.ok {
            assert!(fallback.unwrap() == entity, "{what}");
        } else {
            assert!(
                matches!(fallback, Err(CmsError::Decryption(_))),
                "{what}: {fallback:?}"
            );
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn the_content_limit_counts_the_plaintext_not_the_appended_tag() {
    let keys = rsa_key();
    let (entity, _) = small_entity();
    for file in ["gcm256-oaep-sha256.der", "gcm128-oaep-sha256-ber.der"] {
        let der = read(file);
        let limits = |max_content| envelope::Limits { max_content };
        let exact = envelope::decrypt_reader(&der[..], &keys, &limits(entity.len()));
        assert!(exact.unwrap() == entity, "{file}");
        let r = envelope::decrypt_reader(&der[..], &keys, &limits(entity.len() - 1));
        match r {
            Err(StreamDecryptError::Cms(CmsError::Decryption(m))) => {
                assert!(m.contains("exceeds the limit"), "{file}: {m}")
            }
            other => panic!("{file}: {other:?}"),
        }
    }
}
