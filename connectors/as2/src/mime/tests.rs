use super::*;

#[test]
fn parses_headers_folding_and_case() {
    let raw = b"Content-Type: multipart/signed;\r\n\tprotocol=\"application/pkcs7-signature\";\r\n boundary=\"b 1\"\r\nX-Bin: \xff\xfe\r\n\r\nbody\r\n";
    let part = MimePart::parse(raw);
    let ct = part.content_type().unwrap();
    assert_eq!(ct.mime_type, "multipart/signed");
    assert_eq!(ct.param("PROTOCOL"), Some("application/pkcs7-signature"));
    assert_eq!(ct.param("boundary"), Some("b 1"));
    assert_eq!(part.header("x-bin"), Some(&b"\xff\xfe"[..]));
    assert_eq!(part.header_str("X-BIN").unwrap(), "\u{fffd}\u{fffd}");
    assert_eq!(part.body(), b"body\r\n");
    assert_eq!(part.raw, raw.to_vec());
}

#[test]
fn bare_lf_and_headerless_entities() {
    let part = MimePart::parse(b"Content-Type: text/plain\n\nhello\n");
    assert_eq!(part.body(), b"hello\n");
    assert_eq!(part.headers.len(), 1);
    let part = MimePart::parse(b"\r\nno headers");
    assert!(part.headers.is_empty());
    assert_eq!(part.body(), b"no headers");
    let part = MimePart::parse(b"Content-Type: text/plain");
    assert_eq!(part.body(), b"");
}

#[test]
fn quoted_params_with_escapes_and_semicolons() {
    let ct = ContentType::parse("attachment; filename=\"a\\\"b;c.edi\"; size=12");
    assert_eq!(ct.mime_type, "attachment");
    assert_eq!(ct.param("filename"), Some("a\"b;c.edi"));
    assert_eq!(ct.param("size"), Some("12"));
    assert!(ContentType::parse("Application/EDI-X12").is("application/edi-x12"));
}

#[test]
fn splits_multipart_quoted_or_not() {
    let body = b"preamble\r\n--XYZ\r\nContent-Type: text/plain\r\n\r\none\r\n--XYZ\r\n\r\ntwo\r\n--XYZ--\r\nepilogue";
    for ct in [
        "multipart/mixed; boundary=XYZ",
        "multipart/mixed; boundary=\"XYZ\"",
    ] {
        let part = MimePart::from_headers_and_body(&[("Content-Type".into(), ct.into())], body);
        let parts = part.multipart_parts().unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(&parts[0].raw[..], b"Content-Type: text/plain\r\n\r\none");
        assert_eq!(parts[0].body(), b"one");
        assert_eq!(parts[1].body(), b"two");
    }
}

#[test]
fn multipart_with_bare_lf_and_prefix_boundaries() {
    let body = b"--ab\n\nfirst\n--abc\nstill first\n--ab--\n";
    let parts = split_multipart(body, "ab").unwrap();
    assert_eq!(parts, vec![&b"\nfirst\n--abc\nstill first"[..]]);
}

#[test]
fn malformed_multipart_is_an_error() {
    assert_eq!(
        split_multipart(b"no delimiters here", "b"),
        Err(MimeError::NoParts("b".into()))
    );
    assert_eq!(
        split_multipart(b"--b\r\n\r\ntruncated", "b"),
        Err(MimeError::Unterminated)
    );
    assert_eq!(
        split_multipart(b"--b--\r\n", "b"),
        Err(MimeError::NoParts("b".into()))
    );
    assert!(matches!(
        split_multipart(b"x", ""),
        Err(MimeError::InvalidBoundary(_))
    ));
    let part = MimePart::parse(b"Content-Type: multipart/signed\r\n\r\n--x\r\n");
    assert_eq!(part.multipart_parts(), Err(MimeError::MissingBoundary));
    // An empty part list with a closing delimiter right after the opening one.
    assert_eq!(
        split_multipart(b"--b\r\n--b--", "b").unwrap(),
        vec![&b""[..]]
    );
}

#[test]
fn decodes_transfer_encodings() {
    assert_eq!(
        decode_transfer_encoding(Some("BASE64"), b"aGVs\r\nbG8=\r\n").unwrap(),
        b"hello"
    );
    assert_eq!(
        decode_transfer_encoding(Some("base64"), b"aGVsbG8").unwrap(),
        b"hello"
    );
    assert!(matches!(
        decode_transfer_encoding(Some("base64"), b"a*b*"),
        Err(MimeError::Base64(_))
    ));
    assert_eq!(
        decode_transfer_encoding(Some("quoted-printable"), b"a=3Db=\r\nc  \r\nd=XZ").unwrap(),
        b"a=bc\r\nd=XZ"
    );
    for enc in [None, Some("7bit"), Some("8bit"), Some("binary")] {
        assert_eq!(
            decode_transfer_encoding(enc, b"\x00\xff\r\n").unwrap(),
            b"\x00\xff\r\n"
        );
    }
    assert_eq!(
        decode_transfer_encoding(Some("x-uuencode"), b""),
        Err(MimeError::UnsupportedEncoding("x-uuencode".into()))
    );
}
