use super::*;

fn h(pairs: &[(&str, &[u8])]) -> Vec<(String, Vec<u8>)> {
    pairs
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_vec()))
        .collect()
}

fn base() -> Vec<(String, Vec<u8>)> {
    h(&[
        ("AS2-From", b"PartnerA"),
        ("as2-to", b"\"Our Company \\\"Inc\\\"\""),
        ("Content-Type", b"application/edi-x12"),
        ("Message-ID", b" <abc@host> "),
    ])
}

#[test]
fn parses_full_request() {
    let mut headers = base();
    headers.extend(h(&[
        ("AS2-Version", b"1.2"),
        ("Subject", b"Invoice"),
        ("Disposition-Notification-To", b"mdn@partner"),
        (
            "Disposition-Notification-Options",
            b"signed-receipt-protocol=required, pkcs7-signature; signed-receipt-micalg=optional, sha-256, sha1",
        ),
        ("Receipt-Delivery-Option", b"https://partner/mdn"),
        ("Content-Disposition", b"attachment; filename=\"../../etc/passwd\""),
    ]));
    let parsed = As2Headers::parse(&headers).unwrap();
    assert_eq!(parsed.as2_from, "PartnerA");
    assert_eq!(parsed.as2_to, "Our Company \"Inc\"");
    assert_eq!(parsed.as2_version.as_deref(), Some("1.2"));
    assert_eq!(parsed.message_id.as_deref(), Some("<abc@host>"));
    assert_eq!(parsed.subject.as_deref(), Some("Invoice"));
    assert_eq!(parsed.filename().as_deref(), Some("passwd"));
    let req = parsed.receipt_request().unwrap();
    assert!(req.signed);
    assert_eq!(req.async_url.as_deref(), Some("https://partner/mdn"));
    assert_eq!(req.options.micalg(), MicAlgChoice::Chosen(MicAlg::Sha256));
}

#[test]
fn absent_version_and_receipt_are_fine() {
    let parsed = As2Headers::parse(&base()).unwrap();
    assert_eq!(parsed.as2_version, None);
    assert_eq!(parsed.receipt_request(), None);
}

#[test]
fn missing_headers_are_named() {
    for missing in ["AS2-From", "AS2-To", "Content-Type"] {
        let headers: Vec<_> = base()
            .into_iter()
            .filter(|(n, _)| !n.eq_ignore_ascii_case(missing))
            .collect();
        let err = As2Headers::parse(&headers).unwrap_err();
        assert_eq!(err, HeaderError::Missing(missing));
        assert_eq!(err.header(), missing);
    }
}

#[test]
fn invalid_as2_names() {
    let long = "x".repeat(129);
    for bad in [
        &b"\"\""[..],
        long.as_bytes(),
        b"caf\xc3\xa9",
        b"a\x01b",
        b"\xff",
    ] {
        let mut headers = base();
        headers[0].1 = bad.to_vec();
        let err = As2Headers::parse(&headers).unwrap_err();
        assert!(
            matches!(
                err,
                HeaderError::Invalid {
                    header: "AS2-From",
                    ..
                }
            ),
            "{bad:?}: {err:?}"
        );
    }
    let mut headers = base();
    headers[0].1 = "y".repeat(128).into_bytes();
    assert_eq!(As2Headers::parse(&headers).unwrap().as2_from.len(), 128);
}

#[test]
fn invalid_utf8_never_panics() {
    let headers = h(&[
        ("AS2-From", b"A"),
        ("AS2-To", b"B"),
        ("Content-Type", b"\xff\xfe"),
        ("Message-ID", b"<\xc3(@x>"),
        ("Disposition-Notification-Options", b"\xff=\xff,\xff"),
        (
            "Content-Disposition",
            b"attachment; filename*=UTF-8''%E2%82%AC%ZZ%\xff",
        ),
    ]);
    let parsed = As2Headers::parse(&headers).unwrap();
    assert_eq!(parsed.message_id.as_deref(), Some("<\u{fffd}(@x>"));
    assert!(parsed.filename().unwrap().starts_with('€'));
}

#[test]
fn micalg_negotiation_follows_sender_order() {
    let opts = NotificationOptions::parse(
        "signed-receipt-protocol=optional,pkcs7-signature; signed-receipt-micalg=required,md5,sha1,sha-256",
    );
    assert!(opts.wants_signed_receipt());
    assert_eq!(opts.micalg(), MicAlgChoice::Chosen(MicAlg::Sha1));
    let opts = NotificationOptions::parse("signed-receipt-micalg=required, md5");
    assert_eq!(opts.micalg(), MicAlgChoice::Unsupported);
    assert!(!opts.wants_signed_receipt());
    let opts = NotificationOptions::parse("signed-receipt-micalg=optional, md5");
    assert_eq!(opts.micalg(), MicAlgChoice::Default);
    let opts = NotificationOptions::parse("signed-receipt-protocol=required, pgp-signature");
    assert!(opts.requires_unsupported_protocol());
    assert_eq!(
        NotificationOptions::parse("").micalg(),
        MicAlgChoice::Default
    );
}

#[test]
fn filenames_are_made_safe() {
    assert_eq!(
        safe_filename("C:\\dir\\inv.edi").as_deref(),
        Some("inv.edi")
    );
    assert_eq!(safe_filename("a/b/../c.txt").as_deref(), Some("c.txt"));
    assert_eq!(
        safe_filename("x..y\0z\u{7}.txt").as_deref(),
        Some("xyz.txt")
    );
    assert_eq!(safe_filename("..").as_deref(), None);
    assert_eq!(safe_filename("dir/").as_deref(), None);
    assert_eq!(safe_filename(".hidden").as_deref(), Some("hidden"));
    // Found by the as2_headers fuzz target: leading dots separated by blanks survived.
    assert_eq!(safe_filename(". .").as_deref(), None);
    assert_eq!(safe_filename(". .hidden").as_deref(), Some("hidden"));
    assert_eq!(safe_filename("a\\.\u{1} .c=\"").as_deref(), Some("c=\""));
    assert_eq!(
        filename_from_disposition("attachment; filename=\"order 1.xml\"").as_deref(),
        Some("order 1.xml")
    );
    assert_eq!(filename_from_disposition("inline").as_deref(), None);
}
