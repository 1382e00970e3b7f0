//! CEM requests built the way a partner's product builds them, with the `openssl` command
//! (not berth's own code): certificate, certs-only PKCS#7, XML, multipart/related, then
//! signed and encrypted with `openssl cms`.

use super::xml::{build_response, CertStatus};
use super::*;
use crate::mime::MimePart;
use crate::unwrap::{unwrap, Limits, UnwrapKeys};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use std::path::Path;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A self-signed certificate `name.pem` with key `name.key`; `key_usage` as openssl writes it.
fn make_cert(dir: &Path, name: &str, key_usage: &str, days: &str) -> X509 {
    let (cert, key) = (format!("{name}.pem"), format!("{name}.key"));
    let subj = format!("/CN={name}/O=Partner");
    let ku = format!("keyUsage={key_usage}");
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &cert,
            "-subj",
            &subj,
            "-days",
            days,
            "-addext",
            &ku,
            "-set_serial",
            "4660",
        ],
    );
    X509::from_pem(&std::fs::read(dir.join(&cert)).unwrap()).unwrap()
}

fn request_xml(usages: &[&str], respond_by: &str, serial: &str) -> String {
    let usages: String = usages
        .iter()
        .map(|u| format!("    <ediint:CertUsage>{u}</ediint:CertUsage>\n"))
        .collect();
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
<ediint:EDIINTCertificateExchangeRequest xmlns:ediint=\"http://www.ietf.org/rfc/rfcXXXX.txt\" \
xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\">\n\
  <ediint:RequestID>req-42@partner.example</ediint:RequestID>\n\
  <ediint:TrustRequest>\n\
    <ediint:ResponseURL>http://127.0.0.1:9/cem</ediint:ResponseURL>\n\
    <ediint:RespondByDate>{respond_by}</ediint:RespondByDate>\n{usages}\
    <ediint:EndEntity>\n\
      <ds:X509IssuerSerial>\n\
        <ds:X509IssuerName>CN=partner-new, O=Partner</ds:X509IssuerName>\n\
        <ds:X509SerialNumber>{serial}</ds:X509SerialNumber>\n\
      </ds:X509IssuerSerial>\n\
      <ediint:ContentID>&lt;cert-1@partner.example&gt;</ediint:ContentID>\n\
    </ediint:EndEntity>\n\
  </ediint:TrustRequest>\n\
</ediint:EDIINTCertificateExchangeRequest>\n"
    )
}

/// The multipart/related entity (headers + body) with the XML and a certs-only PKCS#7 of
/// `name.pem`, as Mendelson sends it.
fn related_entity(dir: &Path, name: &str, xml: &str) -> Vec<u8> {
    let p7 = format!("{name}.p7b");
    let cert = format!("{name}.pem");
    openssl(
        dir,
        &[
            "crl2pkcs7",
            "-nocrl",
            "-certfile",
            &cert,
            "-outform",
            "DER",
            "-out",
            &p7,
        ],
    );
    let p7 = STANDARD.encode(std::fs::read(dir.join(&p7)).unwrap());
    let p7_lines: Vec<&str> = p7
        .as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "Content-Type: multipart/related; boundary=\"cem-b\"; type=\"application/ediint-cert-exchange+xml\"; start=\"<req@partner>\"\r\n\r\n\
--cem-b\r\nContent-Type: application/ediint-cert-exchange+xml\r\nContent-ID: <req@partner>\r\n\r\n{}\r\n\
--cem-b\r\nContent-Type: application/pkcs7-mime; smime-type=certs-only\r\nContent-Transfer-Encoding: base64\r\n\
Content-ID: <cert-1@partner.example>\r\n\r\n{}\r\n--cem-b--\r\n",
        xml.replace('\n', "\r\n"),
        p7_lines.join("\r\n")
    )
    .into_bytes()
}

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

fn in_days(days: i64) -> String {
    datetime::format(now() + days * 86_400)
}

#[test]
fn signed_and_encrypted_request_is_read_and_accepted() {
    let dir = tempdir();
    let d = dir.path();
    make_cert(d, "partner-old", "digitalSignature,keyEncipherment", "30");
    let new_cert = make_cert(d, "partner-new", "digitalSignature,keyEncipherment", "400");
    make_cert(d, "berth", "digitalSignature,keyEncipherment", "30");
    let respond_by = in_days(7);
    let xml = request_xml(
        &["digitalSignature", "keyEncipherment"],
        &respond_by,
        "4660",
    );
    std::fs::write(
        d.join("entity.mime"),
        related_entity(d, "partner-new", &xml),
    )
    .unwrap();
    // Signed by the partner's current certificate, encrypted to ours: the AS2 layers.
    openssl(
        d,
        &[
            "cms",
            "-sign",
            "-in",
            "entity.mime",
            "-signer",
            "partner-old.pem",
            "-inkey",
            "partner-old.key",
            "-binary",
            "-out",
            "signed.mime",
        ],
    );
    openssl(
        d,
        &[
            "cms",
            "-encrypt",
            "-in",
            "signed.mime",
            "-aes256",
            "-out",
            "enc.mime",
            "berth.pem",
        ],
    );
    let berth = crate::certs::KeyPair::new(
        X509::from_pem(&std::fs::read(d.join("berth.pem")).unwrap()).unwrap(),
        crate::certs::load_private_key(&std::fs::read(d.join("berth.key")).unwrap(), None).unwrap(),
    )
    .unwrap();
    let old = X509::from_pem(&std::fs::read(d.join("partner-old.pem")).unwrap()).unwrap();
    let keys = UnwrapKeys {
        decryption_keys: std::slice::from_ref(&berth),
        partner_certificates: std::slice::from_ref(&old),
        allow_expired_certificates: false,
    };
    let raw = std::fs::read(d.join("enc.mime")).unwrap();
    let out = unwrap(MimePart::parse(&raw), &keys, &Limits::default()).unwrap();
    assert!(out.security.signed() && out.security.encrypted());

    let request = parse_request(&out.payload).unwrap();
    assert_eq!(request.request_id, "req-42@partner.example");
    assert_eq!(request.trust.len(), 1);
    let t = &request.trust[0];
    assert_eq!(t.response_url, "http://127.0.0.1:9/cem");
    assert_eq!(t.respond_by, datetime::parse(&respond_by));
    let got = t.certificate.as_ref().unwrap();
    assert_eq!(got.to_der().unwrap(), new_cert.to_der().unwrap());

    let decided = verify(&request, now());
    assert_eq!(decided.len(), 1);
    let accepted = decided[0].0.as_ref().unwrap();
    assert_eq!(
        accepted.usages,
        [CertUsage::DigitalSignature, CertUsage::KeyEncipherment]
    );
    assert_eq!(Some(accepted.active_from), t.respond_by);
    assert_eq!(decided[0].1.status, CertStatus::Accepted);
}

fn decide(
    key_usage: &str,
    days: &str,
    usages: &[&str],
    respond_by: &str,
) -> Result<Accepted, String> {
    let dir = tempdir();
    make_cert(dir.path(), "partner-new", key_usage, days);
    let xml = request_xml(usages, respond_by, "4660");
    let entity = related_entity(dir.path(), "partner-new", &xml);
    let request = parse_request(&MimePart::parse(&entity)).unwrap();
    verify(&request, now()).remove(0).0
}

#[test]
fn usage_validity_and_url_are_checked() {
    let soon = in_days(3);
    assert!(decide("digitalSignature", "30", &["digitalSignature"], &soon).is_ok());
    let err = decide("keyEncipherment", "30", &["digitalSignature"], &soon).unwrap_err();
    assert!(err.contains("does not allow digitalSignature"), "{err}");
    let err = decide("digitalSignature", "30", &["tlsClient"], &soon).unwrap_err();
    assert!(err.contains("tlsClient"), "{err}");
    let err = decide("digitalSignature", "30", &["signing"], &soon).unwrap_err();
    assert!(err.contains("unknown certificate usage signing"), "{err}");
    let err = decide("digitalSignature", "2", &["digitalSignature"], &soon).unwrap_err();
    assert!(err.contains("expires before its RespondByDate"), "{err}");
    let err = decide("digitalSignature", "30", &["digitalSignature"], "next week").unwrap_err();
    assert!(err.contains("not an xsd:dateTime"), "{err}");
}

#[test]
fn expired_certificate_is_rejected() {
    let dir = tempdir();
    let d = dir.path();
    // `openssl req` here cannot back-date a certificate; the library can (validity is all that
    // matters, the PKCS#7 and MIME around it are still built by the openssl command).
    let expired = crate::testutil::keypair_valid("old", -400, -30);
    std::fs::write(d.join("old.pem"), expired.certificate.to_pem().unwrap()).unwrap();
    let xml = request_xml(&["digitalSignature"], &in_days(1), "1");
    let entity = related_entity(d, "old", &xml);
    let request = parse_request(&MimePart::parse(&entity)).unwrap();
    let err = verify(&request, now()).remove(0).0.unwrap_err();
    assert_eq!(err, "certificate has expired");
}

#[test]
fn malformed_requests_are_refused_with_the_reason() {
    let dir = tempdir();
    make_cert(dir.path(), "p", "digitalSignature", "30");
    let good = request_xml(&["digitalSignature"], &in_days(1), "4660");
    let cases = [
        (
            good.replace("</ediint:TrustRequest>", ""),
            "malformed CEM XML",
        ),
        (
            good.replace("req-42@partner.example", " "),
            "missing or empty RequestID",
        ),
        (
            good.replace("ediint:ResponseURL", "ediint:ReplyTo"),
            "missing or empty ResponseURL",
        ),
        (
            good.replace("EDIINTCertificateExchangeRequest", "Other"),
            "not EDIINTCertificateExchangeRequest",
        ),
    ];
    for (xml, expect) in cases {
        let entity = related_entity(dir.path(), "p", &xml);
        let err = parse_request(&MimePart::parse(&entity))
            .unwrap_err()
            .to_string();
        assert!(err.contains(expect), "{err} / {expect}");
    }
    let plain = MimePart::parse(b"Content-Type: text/plain\r\n\r\nhello");
    assert!(matches!(parse_request(&plain), Err(CemError::NotCem(_))));
    // An ordinary multipart/related (an EDI document with attachments) is not a CEM request.
    let related = b"Content-Type: multipart/related; boundary=\"x\"\r\n\r\n--x\r\n\
Content-Type: application/edi-x12\r\n\r\nISA*00~\r\n--x--\r\n";
    let err = parse_request(&MimePart::parse(related)).unwrap_err();
    assert!(matches!(err, CemError::NotCem(_)), "{err}");
}

#[test]
fn missing_certificate_part_is_a_rejection() {
    let dir = tempdir();
    make_cert(dir.path(), "p", "digitalSignature", "30");
    let xml = request_xml(&["digitalSignature"], &in_days(1), "4660")
        .replace("cert-1@partner.example", "elsewhere@partner.example");
    let entity = related_entity(dir.path(), "p", &xml);
    let request = parse_request(&MimePart::parse(&entity)).unwrap();
    assert!(request.trust[0].certificate.is_none());
    let err = verify(&request, now()).remove(0).0.unwrap_err();
    assert!(err.contains("no readable certificate"), "{err}");
}

#[test]
fn response_is_well_formed_and_escaped() {
    let xml = build_response(
        "req<1>&",
        &[xml::TrustResponse {
            issuer_name: "CN=a, O=\"b\"".into(),
            serial_number: "4660".into(),
            status: CertStatus::Rejected("usage <x> & \u{1} y".into()),
        }],
    );
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let text = |name: &str| {
        doc.descendants()
            .find(|n| n.tag_name().name() == name)
            .and_then(|n| n.text())
            .unwrap()
            .to_string()
    };
    assert_eq!(
        doc.root_element().tag_name().name(),
        "EDIINTCertificateExchangeResponse"
    );
    assert_eq!(text("RequestID"), "req<1>&");
    assert_eq!(text("CertStatus"), "Rejected");
    assert_eq!(text("RejectionReason"), "usage <x> &   y");
    assert_eq!(text("X509IssuerName"), "CN=a, O=\"b\"");
    let accepted = build_response(
        "r",
        &[xml::TrustResponse {
            issuer_name: "CN=a".into(),
            serial_number: "1".into(),
            status: CertStatus::Accepted,
        }],
    );
    assert!(accepted.contains("<ediint:CertStatus>Accepted</ediint:CertStatus>"));
    assert!(!accepted.contains("RejectionReason"));
}

#[test]
fn response_message_is_signed_for_the_partner() {
    let dir = tempdir();
    let d = dir.path();
    make_cert(d, "berth", "digitalSignature,keyEncipherment", "30");
    let ours = crate::certs::KeyPair::new(
        X509::from_pem(&std::fs::read(d.join("berth.pem")).unwrap()).unwrap(),
        crate::certs::load_private_key(&std::fs::read(d.join("berth.key")).unwrap(), None).unwrap(),
    )
    .unwrap();
    make_cert(d, "partner-new", "digitalSignature", "30");
    let xml = request_xml(&["digitalSignature"], &in_days(2), "4660");
    let request = parse_request(&MimePart::parse(&related_entity(d, "partner-new", &xml))).unwrap();
    let answers: Vec<_> = verify(&request, now())
        .into_iter()
        .map(|(_, r)| r)
        .collect();
    let xml = build_response(&request.request_id, &answers);
    let sha256 = crate::micalg::MicAlg::from_name("sha-256").unwrap();
    let msg = response::build_response_message(&xml, "berth id", "partner", &ours, sha256).unwrap();
    let header = |name: &str| {
        msg.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .unwrap()
    };
    assert_eq!(header("AS2-From"), "\"berth id\"");
    assert_eq!(header("AS2-To"), "partner");
    assert_eq!(header("Message-ID"), msg.message_id);
    // The partner's side: openssl checks the signature against our certificate.
    let mut raw = format!("Content-Type: {}\r\n\r\n", header("Content-Type")).into_bytes();
    raw.extend_from_slice(&msg.body);
    std::fs::write(d.join("response.mime"), raw).unwrap();
    openssl(
        d,
        &[
            "cms",
            "-verify",
            "-in",
            "response.mime",
            "-CAfile",
            "berth.pem",
            "-out",
            "content.mime",
        ],
    );
    let content = std::fs::read(d.join("content.mime")).unwrap();
    let part = MimePart::parse(&content);
    assert!(part.content_type().unwrap().is(CEM_XML_TYPE));
    let text = String::from_utf8(part.body().to_vec()).unwrap();
    let doc = roxmltree::Document::parse(&text).unwrap();
    let find = |name: &str| {
        doc.descendants()
            .find(|n| n.tag_name().name() == name)
            .and_then(|n| n.text())
            .unwrap()
            .to_string()
    };
    assert_eq!(find("RequestID"), "req-42@partner.example");
    assert_eq!(find("CertStatus"), "Accepted");
    assert_eq!(find("X509SerialNumber"), "4660");
}

#[test]
fn mendelson_shape_without_start_parameter_is_read() {
    // Mendelson adds TradingPartnerInfo, declares neither `type` nor `start`, and names the
    // certificate part without angle brackets in the XML; a PEM certificate part also occurs.
    let dir = tempdir();
    let cert = make_cert(dir.path(), "partner-new", "digitalSignature", "30");
    let xml = request_xml(&["digitalSignature"], &in_days(1), "4660")
        .replace(
            "<ediint:TrustRequest>",
            "<ediint:TradingPartnerInfo><ediint:SenderAS2Id>partner</ediint:SenderAS2Id>\
             </ediint:TradingPartnerInfo>\n<ediint:TrustRequest>",
        )
        .replace("&lt;cert-1@partner.example&gt;", "cert-1@partner.example");
    let pem = String::from_utf8(cert.to_pem().unwrap()).unwrap();
    let entity = format!(
        "Content-Type: multipart/related; boundary=b\r\n\r\n--b\r\n\
Content-Type: application/ediint-cert-exchange+xml\r\n\r\n{xml}\r\n--b\r\n\
Content-Type: application/x-x509-ca-cert\r\nContent-ID: <cert-1@partner.example>\r\n\r\n{pem}\r\n--b--\r\n"
    );
    let request = parse_request(&MimePart::parse(entity.as_bytes())).unwrap();
    let got = request.trust[0].certificate.as_ref().unwrap();
    assert_eq!(got.to_der().unwrap(), cert.to_der().unwrap());
    assert!(verify(&request, now()).remove(0).0.is_ok());
}
