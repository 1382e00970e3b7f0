use super::*;
use crate::mdn::parse_mdn;

fn headers(extra: &[(&str, &str)]) -> Vec<(String, Vec<u8>)> {
    let mut h: Vec<(String, Vec<u8>)> = [
        ("AS2-From", "partner"),
        ("AS2-To", "us"),
        ("Message-ID", "<m1@partner>"),
        ("Content-Type", "application/edi-x12"),
        ("Disposition-Notification-To", "x@partner"),
    ]
    .iter()
    .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec()))
    .collect();
    h.extend(
        extra
            .iter()
            .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec())),
    );
    h
}

fn opts() -> MdnOptions {
    MdnOptions {
        reporting_ua: "berth".into(),
        message_id_domain: "us.example".into(),
        legacy_smime: false,
    }
}

fn failed(r: Result<Received, Rejection>) -> Failed {
    match r {
        Err(Rejection::Failed(f)) => *f,
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[test]
fn plain_message_is_received_with_body_mic() {
    let h = headers(&[("Content-Disposition", "attachment; filename=\"in/x.edi\"")]);
    let r = receive(
        &h,
        b"ISA*~\n",
        &PartnerSettings::default(),
        &Limits::default(),
    )
    .unwrap();
    assert_eq!(&r.payload[..], b"ISA*~\n");
    assert_eq!(r.properties.mime_type, "application/edi-x12");
    assert_eq!(r.properties.file_name.as_deref(), Some("x.edi"));
    assert_eq!(r.properties.message_id.as_deref(), Some("<m1@partner>"));
    assert_eq!(r.mic(), Some(&Mic::compute(MicAlg::Sha256, b"ISA*~\n")));
    let receipt = r.context.receipt.as_ref().unwrap();
    assert!(!receipt.request.signed && !receipt.is_async());
    let mdn = r
        .context
        .build_mdn(Disposition::Processed, None, &opts(), None)
        .unwrap()
        .unwrap();
    let parsed = parse_mdn(
        &mdn.headers
            .iter()
            .map(|(n, v)| (n.clone(), v.clone().into_bytes()))
            .collect::<Vec<_>>(),
        &mdn.body,
        None,
    )
    .unwrap();
    assert_eq!(parsed.received_content_mic.as_ref(), r.mic());
}

#[test]
fn bad_headers_are_a_bad_request() {
    let h: Vec<_> = headers(&[])
        .into_iter()
        .filter(|(n, _)| n != "AS2-To")
        .collect();
    match receive(&h, b"x", &PartnerSettings::default(), &Limits::default()) {
        Err(Rejection::BadRequest(HeaderError::Missing("AS2-To"))) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn unsupported_receipt_options_fail() {
    let h = headers(&[(
        "Disposition-Notification-Options",
        "signed-receipt-protocol=required,pkcs7-signature; signed-receipt-micalg=required,md5",
    )]);
    let f = failed(receive(
        &h,
        b"x",
        &PartnerSettings::default(),
        &Limits::default(),
    ));
    assert_eq!(
        f.disposition,
        Disposition::Failed(Failure::UnsupportedMicAlgorithms)
    );
    assert!(f.build_mdn(&opts(), None).unwrap().is_some());
    let h = headers(&[(
        "Disposition-Notification-Options",
        "signed-receipt-protocol=required,pgp",
    )]);
    let f = failed(receive(
        &h,
        b"x",
        &PartnerSettings::default(),
        &Limits::default(),
    ));
    assert_eq!(
        f.disposition,
        Disposition::Failed(Failure::UnsupportedFormat)
    );
}

#[test]
fn policy_requires_signing_and_encryption() {
    let settings = PartnerSettings {
        require_signed: true,
        require_encrypted: true,
        ..PartnerSettings::default()
    };
    let f = failed(receive(&headers(&[]), b"x", &settings, &Limits::default()));
    assert_eq!(
        f.disposition,
        Disposition::Error(ProcessingError::InsufficientMessageSecurity)
    );
    assert_eq!(f.detail, "the message must be signed and encrypted");
    assert!(f.context.mic.is_some());
}

#[test]
fn caller_decided_rejection_and_no_receipt() {
    let parsed = As2Headers::parse(&headers(&[])).unwrap();
    let f = Failed::new(
        parsed,
        Disposition::Error(ProcessingError::UnknownTradingPartner),
        "no such partner",
    );
    let mdn = f.build_mdn(&opts(), None).unwrap().unwrap();
    assert!(String::from_utf8_lossy(&mdn.body).contains("processed/error: unknown-trading-partner"));
    let no_receipt: Vec<_> = headers(&[])
        .into_iter()
        .filter(|(n, _)| n != "Disposition-Notification-To")
        .collect();
    let r = receive(
        &no_receipt,
        b"x",
        &PartnerSettings::default(),
        &Limits::default(),
    )
    .unwrap();
    assert!(r
        .context
        .build_mdn(Disposition::Processed, None, &opts(), None)
        .unwrap()
        .is_none());
}

#[test]
fn the_payload_moves_out_of_its_buffer_without_a_copy() {
    let buffer: Vec<u8> = (0..1 << 20).map(|i| i as u8).collect();
    let base = buffer.as_ptr();
    let whole = Bytes::from(buffer);
    let payload = whole.slice(1000..(1 << 20) - 10);
    let expected = payload.to_vec();
    // Still shared: a copy is the only way out.
    let copied = payload_vec(payload.clone());
    assert_ne!(copied.as_ptr(), base);
    drop(whole);
    let moved = payload_vec(payload);
    assert_eq!(
        moved.as_ptr(),
        base,
        "the payload must reuse the decrypted buffer"
    );
    assert_eq!(moved, expected);
}
