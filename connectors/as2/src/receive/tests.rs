use super::*;
use crate::mdn::parse_mdn;
use crate::stream::tests::receive_both as receive;

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

fn receive_with(extra: &[(&str, &str)]) -> Result<Received, Rejection> {
    let h: Vec<_> = headers(&[])
        .into_iter()
        .filter(|(n, _)| !extra.iter().any(|(e, _)| n.eq_ignore_ascii_case(e)))
        .chain(
            extra
                .iter()
                .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec())),
        )
        .collect();
    receive(
        &h,
        b"ISA*~\n",
        &PartnerSettings::default(),
        &Limits::default(),
    )
}

#[test]
fn every_as2_1_x_version_is_received_and_answered_as_1_2_with_our_features() {
    for version in [None, Some("1.0"), Some("1.1"), Some("1.2"), Some("1.3")] {
        let extra: Vec<(&str, &str)> = version.map(|v| ("AS2-Version", v)).into_iter().collect();
        let r = receive_with(&extra).unwrap_or_else(|e| panic!("{version:?}: {e:?}"));
        let mdn = r
            .context
            .build_mdn(Disposition::Processed, None, &opts(), None)
            .unwrap()
            .unwrap();
        let header = |name: &str| {
            mdn.headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(header("AS2-Version"), Some("1.2"), "{version:?}");
        assert_eq!(
            header("EDIINT-Features"),
            Some("AS2-Reliability, multiple-attachments")
        );
    }
}

#[test]
fn unknown_feature_tokens_never_fail_a_message() {
    let r = receive_with(&[("EDIINT-Features", "CEM, multiple-attachments, Teleport-9")]).unwrap();
    assert_eq!(
        r.context.headers.ediint_features,
        ["CEM", "multiple-attachments", "Teleport-9"]
    );
}

#[test]
fn another_major_as2_version_is_refused_with_the_reason() {
    for version in ["2.0", "banana"] {
        let f = failed(receive_with(&[("AS2-Version", version)]));
        assert_eq!(
            f.disposition,
            Disposition::Error(ProcessingError::UnexpectedProcessingError)
        );
        assert!(f.detail.contains("AS2-Version"), "{}", f.detail);
        let mdn = f.build_mdn(&opts(), None).unwrap().unwrap();
        let text = String::from_utf8_lossy(&mdn.body);
        assert!(text.contains(&f.detail), "{text}");
    }
}

#[test]
fn an_overlong_message_id_is_refused_with_its_length() {
    let id = format!("<{}@partner>", "x".repeat(989));
    assert_eq!(id.len(), 999);
    let f = failed(receive_with(&[("Message-ID", &id)]));
    assert_eq!(
        f.disposition,
        Disposition::Error(ProcessingError::UnexpectedProcessingError)
    );
    assert!(f.detail.contains("999 characters"), "{}", f.detail);
    let mdn = f.build_mdn(&opts(), None).unwrap().unwrap();
    let parsed = parse_mdn(
        &mdn.headers
            .iter()
            .map(|(n, v)| (n.clone(), v.clone().into_bytes()))
            .collect::<Vec<_>>(),
        &mdn.body,
        None,
    )
    .unwrap();
    // Echoed all the same, so that the partner can match the refusal to its message.
    assert_eq!(parsed.original_message_id.as_deref(), Some(id.as_str()));
    // One character less is an ordinary message.
    let id = format!("<{}@partner>", "x".repeat(988));
    assert!(receive_with(&[("Message-ID", &id)]).is_ok());
}
