//! Receipts end to end, and MIC canonicalisation through `receive`.

mod common;

use berth_as2::disposition::{Disposition, ProcessingError};
use berth_as2::mdn::{parse_mdn, Mdn};
use berth_as2::micalg::MicAlg;
use berth_as2::receive::{MdnOptions, PartnerSettings, Received, Rejection};
use berth_as2::unwrap::Limits;
use common::*;
use openssl::hash::MessageDigest;
use openssl::symm::Cipher;

const SIGNED_RECEIPT: [(&str, &str); 3] = [
    ("Disposition-Notification-To", "mdn@partner.example"),
    (
        "Disposition-Notification-Options",
        "signed-receipt-protocol=optional, pkcs7-signature; signed-receipt-micalg=optional, sha-512, sha1",
    ),
    ("Receipt-Delivery-Option", "https://partner.example/as2/mdn"),
];

fn settings() -> PartnerSettings {
    let k = keys();
    PartnerSettings {
        decryption_keys: vec![k.ours.clone()],
        partner_certificates: vec![k.partner.certificate.clone()],
        ..PartnerSettings::default()
    }
}

fn opts() -> MdnOptions {
    MdnOptions {
        reporting_ua: "berth AS2 test".into(),
        message_id_domain: "us.example".into(),
        legacy_smime: false,
    }
}

fn http(mdn: &Mdn) -> Vec<(String, Vec<u8>)> {
    mdn.headers
        .iter()
        .map(|(n, v)| (n.clone(), v.clone().into_bytes()))
        .collect()
}

fn received(entity: &[u8], extra: &[(&str, &str)]) -> Received {
    let (headers, body) = request(entity, extra);
    receive_both(&headers, &body, &settings(), &Limits::default()).unwrap()
}

#[test]
fn signed_receipt_for_a_processed_message() {
    let k = keys();
    let inner = edi_entity(b"payload");
    let msg = encrypt(
        &sign(
            &inner,
            &k.partner,
            MessageDigest::sha256(),
            "sha-256",
            false,
        ),
        &k.ours,
        Cipher::aes_256_gcm(),
        true,
    );
    let r = received(&msg, &SIGNED_RECEIPT);
    let receipt = r.context.receipt.as_ref().unwrap();
    assert!(receipt.request.signed && receipt.is_async());
    assert_eq!(
        receipt.request.async_url.as_deref(),
        Some("https://partner.example/as2/mdn")
    );
    assert_eq!(receipt.micalg, MicAlg::Sha512);

    let mdn = r
        .context
        .build_mdn(Disposition::Processed, None, &opts(), Some(&k.ours))
        .unwrap()
        .unwrap();
    let header = |n: &str| mdn.headers.iter().find(|(h, _)| h == n).unwrap().1.clone();
    assert_eq!(header("AS2-From"), "us");
    assert_eq!(header("AS2-To"), "partner");
    assert!(header("Content-Type").contains("micalg=sha-512"));
    let parsed = parse_mdn(
        &http(&mdn),
        &mdn.body,
        Some(std::slice::from_ref(&k.ours.certificate)),
    )
    .unwrap();
    assert!(parsed.signed && parsed.verified_by.is_some());
    assert_eq!(parsed.micalg, Some(MicAlg::Sha512));
    assert_eq!(parsed.disposition, Some(Disposition::Processed));
    assert_eq!(
        parsed.original_message_id.as_deref(),
        Some("<msg-1@partner.example>")
    );
    // The MIC uses the signature's digest (SHA-256), not the receipt's micalg.
    let expected = expected_mic(&inner, MessageDigest::sha256(), "sha-256");
    assert_eq!(parsed.received_content_mic.unwrap().to_string(), expected);

    // Duplicate documents answer with a warning, from the same context.
    let dup = r
        .context
        .build_mdn(Disposition::DuplicateDocument, None, &opts(), Some(&k.ours))
        .unwrap()
        .unwrap();
    let parsed = parse_mdn(
        &http(&dup),
        &dup.body,
        Some(std::slice::from_ref(&k.ours.certificate)),
    )
    .unwrap();
    assert_eq!(parsed.disposition, Some(Disposition::DuplicateDocument));
    assert_ne!(dup.message_id, mdn.message_id);
}

#[test]
fn signed_receipt_is_sent_even_when_processing_fails() {
    let k = keys();
    let msg = encrypt(&edi_entity(b"x"), &k.stranger, Cipher::aes_128_cbc(), false);
    let (headers, body) = request(&msg, &SIGNED_RECEIPT);
    let Err(Rejection::Failed(f)) = receive_both(&headers, &body, &settings(), &Limits::default())
    else {
        panic!("expected a failure");
    };
    let mdn = f.build_mdn(&opts(), Some(&k.ours)).unwrap().unwrap();
    let parsed = parse_mdn(
        &http(&mdn),
        &mdn.body,
        Some(std::slice::from_ref(&k.ours.certificate)),
    )
    .unwrap();
    assert_eq!(
        parsed.disposition_field,
        "automatic-action/MDN-sent-automatically; processed/error: decryption-failed"
    );
    assert_eq!(parsed.received_content_mic, None);
    assert!(parsed.text.contains("could not be decrypted"));
}

#[test]
fn mic_canonicalises_bare_lf_text() {
    let k = keys();
    let lf_entity = b"Content-Type: text/plain\nContent-Disposition: attachment; filename=a.txt\n\nline 1\nline 2\n";
    let crlf_entity = b"Content-Type: text/plain\r\nContent-Disposition: attachment; filename=a.txt\r\n\r\nline 1\r\nline 2\r\n";
    let r = received(
        &encrypt(lf_entity, &k.ours, Cipher::aes_128_cbc(), false),
        &[],
    );
    assert_eq!(&r.payload[..], b"line 1\nline 2\n");
    assert_eq!(
        r.mic().unwrap().to_string(),
        expected_mic(crlf_entity, MessageDigest::sha256(), "sha-256")
    );
    // The same text sent with CRLF gives the same MIC.
    let r2 = received(
        &encrypt(crlf_entity, &k.ours, Cipher::aes_128_cbc(), false),
        &[],
    );
    assert_eq!(r2.mic(), r.mic());
}

#[test]
fn mic_keeps_binary_payload_bytes() {
    let k = keys();
    let payload = b"\x00\x01\n\r\n\xff\rend\n";
    let e = entity(
        &[
            ("Content-Type", "application/octet-stream"),
            ("Content-Transfer-Encoding", "binary"),
        ],
        payload,
    );
    let r = received(&encrypt(&e, &k.ours, Cipher::aes_128_cbc(), false), &[]);
    assert_eq!(&r.payload[..], payload);
    assert_eq!(
        r.mic().unwrap().to_string(),
        expected_mic(&e, MessageDigest::sha256(), "sha-256")
    );
}

#[test]
fn mic_without_content_transfer_encoding() {
    let k = keys();
    // EDI with bare LF and no Content-Transfer-Encoding: body bytes are kept.
    let e = b"Content-Type: application/edi-x12\r\n\r\nISA*00~\nGS*IN~\n";
    let r = received(&encrypt(e, &k.ours, Cipher::aes_128_cbc(), false), &[]);
    assert_eq!(&r.payload[..], b"ISA*00~\nGS*IN~\n");
    assert_eq!(
        r.mic().unwrap().to_string(),
        expected_mic(e, MessageDigest::sha256(), "sha-256")
    );
}

#[test]
fn signed_entity_sent_with_bare_lf_still_verifies_and_mic_matches_sender() {
    let k = keys();
    let inner = b"Content-Type: text/plain\r\n\r\nhello\r\nworld\r\n";
    let msg = sign(inner, &k.partner, MessageDigest::sha1(), "sha1", false);
    // A sender (or proxy) that turned every CRLF into LF after signing.
    let lf: Vec<u8> = String::from_utf8(msg)
        .unwrap()
        .replace("\r\n", "\n")
        .into_bytes();
    let split = lf.windows(2).position(|w| w == b"\n\n").unwrap();
    let mut crlf_headers = lf[..split].to_vec();
    crlf_headers.extend_from_slice(b"\r\n\r\n");
    crlf_headers.extend_from_slice(&lf[split + 2..]);
    let r = received(&crlf_headers, &[]);
    assert_eq!(&r.payload[..], b"hello\nworld\n");
    // The sender computed its MIC over the canonical entity it signed.
    assert_eq!(
        r.mic().unwrap().to_string(),
        expected_mic(inner, MessageDigest::sha1(), "sha-1")
    );
}

#[test]
fn unknown_partner_answer() {
    let (headers, _) = request(&edi_entity(b"x"), &SIGNED_RECEIPT);
    let parsed = berth_as2::headers::As2Headers::parse(&headers).unwrap();
    let f = berth_as2::receive::Failed::new(
        parsed,
        Disposition::Error(ProcessingError::UnknownTradingPartner),
        "no agreement between partner and us",
    );
    let mdn = f.build_mdn(&opts(), Some(&keys().ours)).unwrap().unwrap();
    let parsed = parse_mdn(
        &http(&mdn),
        &mdn.body,
        Some(std::slice::from_ref(&keys().ours.certificate)),
    )
    .unwrap();
    assert_eq!(
        parsed.disposition,
        Some(Disposition::Error(ProcessingError::UnknownTradingPartner))
    );
}
