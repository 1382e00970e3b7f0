use super::*;
use crate::disposition::ProcessingError;
use crate::testutil::keypair;

fn content(disposition: Disposition) -> MdnContent {
    MdnContent {
        original_message_id: Some("<orig-1@partner>".into()),
        original_as2_from: "Partner A".into(),
        original_as2_to: "us".into(),
        original_subject: Some("Invoice".into()),
        disposition,
        mic: Some(Mic::compute(MicAlg::Sha256, b"abc")),
        reporting_ua: "berth AS2".into(),
        detail: Some("line1\r\nline2".into()),
        legacy_smime: false,
        message_id_domain: "berth.example".into(),
    }
}

fn header<'a>(mdn: &'a Mdn, name: &str) -> &'a str {
    &mdn.headers.iter().find(|(n, _)| n == name).unwrap().1
}

fn as_http(mdn: &Mdn) -> Vec<(String, Vec<u8>)> {
    mdn.headers
        .iter()
        .map(|(n, v)| (n.clone(), v.clone().into_bytes()))
        .collect()
}

#[test]
fn unsigned_mdn_swaps_names_and_carries_fields() {
    let mdn = build_mdn(&content(Disposition::Processed), None).unwrap();
    assert_eq!(header(&mdn, "AS2-From"), "us");
    assert_eq!(header(&mdn, "AS2-To"), "\"Partner A\"");
    assert_eq!(header(&mdn, "Message-ID"), mdn.message_id);
    assert!(mdn.message_id.starts_with('<') && mdn.message_id.ends_with("@berth.example>"));
    assert!(header(&mdn, "Content-Type")
        .starts_with("multipart/report; report-type=disposition-notification; boundary="));
    let body = String::from_utf8(mdn.body.clone()).unwrap();
    assert!(body.contains("\r\nOriginal-Message-ID: <orig-1@partner>\r\n"));
    assert!(
        body.contains("\r\nDisposition: automatic-action/MDN-sent-automatically; processed\r\n")
    );
    assert!(body.contains(
        "\r\nReceived-Content-MIC: ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=, sha-256\r\n"
    ));
    assert!(body.contains("Details: line1  line2\r\n"));
    let parsed = parse_mdn(&as_http(&mdn), &mdn.body, None).unwrap();
    assert!(!parsed.signed);
    assert_eq!(parsed.disposition, Some(Disposition::Processed));
    assert_eq!(
        parsed.original_message_id.as_deref(),
        Some("<orig-1@partner>")
    );
    assert_eq!(parsed.final_recipient.as_deref(), Some("rfc822; us"));
    assert_eq!(parsed.reporting_ua.as_deref(), Some("berth AS2"));
    assert_eq!(
        parsed.received_content_mic,
        Some(Mic::compute(MicAlg::Sha256, b"abc"))
    );
    assert!(parsed.text.contains("processed successfully"));
}

#[test]
fn message_ids_are_unique() {
    let a = new_message_id("x");
    let b = new_message_id("x");
    assert_ne!(a, b);
    assert!(new_message_id("bad domain>\r\n").ends_with("@baddomain>"));
    assert!(new_message_id("").ends_with("@berth>"));
}

#[test]
fn signed_mdn_verifies_with_requested_digest() {
    let ours = keypair("ours");
    let other = keypair("other");
    for (alg, legacy, micalg) in [
        (MicAlg::Sha1, false, "sha-1"),
        (MicAlg::Sha256, true, "sha256"),
        (MicAlg::Sha512, false, "sha-512"),
    ] {
        let mut c = content(Disposition::Error(ProcessingError::DecryptionFailed));
        c.legacy_smime = legacy;
        c.mic = None;
        let signer = MdnSigner { key: &ours, alg };
        let mdn = build_mdn(&c, Some(&signer)).unwrap();
        let ct = header(&mdn, "Content-Type");
        assert!(ct.starts_with(&format!(
            "multipart/signed; protocol=\"application/pkcs7-signature\"; micalg={micalg}; boundary="
        )));
        let parsed = parse_mdn(
            &as_http(&mdn),
            &mdn.body,
            Some(std::slice::from_ref(&ours.certificate)),
        )
        .unwrap();
        assert!(parsed.signed);
        assert!(parsed.verified_by.is_some());
        assert_eq!(parsed.micalg, Some(alg));
        assert_eq!(
            parsed.disposition,
            Some(Disposition::Error(ProcessingError::DecryptionFailed))
        );
        assert_eq!(parsed.received_content_mic, None);
        let err = parse_mdn(
            &as_http(&mdn),
            &mdn.body,
            Some(std::slice::from_ref(&other.certificate)),
        );
        assert!(matches!(
            err,
            Err(MdnError::Signature(CmsError::UnknownSigner(_)))
        ));
    }
}

#[test]
fn parse_rejects_non_mdns() {
    let headers = vec![("Content-Type".to_string(), b"text/plain".to_vec())];
    assert!(matches!(
        parse_mdn(&headers, b"hi", None),
        Err(MdnError::Structure(_))
    ));
    let headers = vec![(
        "Content-Type".to_string(),
        b"multipart/report; boundary=x".to_vec(),
    )];
    assert!(matches!(
        parse_mdn(&headers, b"junk", None),
        Err(MdnError::Mime(_))
    ));
}

#[test]
fn as2_names_are_quoted_when_needed() {
    assert_eq!(quote_as2_name("ABC-123"), "ABC-123");
    assert_eq!(quote_as2_name("a b"), "\"a b\"");
    assert_eq!(quote_as2_name("a\"b"), "\"a\\\"b\"");
}
