//! Writes the committed seed inputs of the AS2 fuzz targets (`fuzz/seeds/{as2_receive,
//! mime_parse,as2_headers}/`): real AS2 messages, plain, compressed, signed (detached and
//! opaque), encrypted (EnvelopedData and AES-GCM AuthEnvelopedData) and all three, from the demo
//! partner ACME to BERTH with the demo keys in `certs/`, plus the MIME entities and header
//! blocks inside them and an MDN.
//!
//! Run again after `scripts/demo-certs` (the `as2_receive` target decrypts and verifies with
//! those keys): `cargo run --manifest-path fuzz/Cargo.toml --example make_seeds`.

use std::path::Path;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use berth_as2::certs::{load_certificates, load_private_key, KeyPair};
use berth_as2::cms::sign_detached;
use berth_as2::compress::compress;
use berth_as2::disposition::{Disposition, ProcessingError};
use berth_as2::mdn::{build_mdn, MdnContent, MdnSigner};
use berth_as2::mic::Mic;
use berth_as2::micalg::MicAlg;
use openssl::cms::{CMSOptions, CmsContentInfo};
use openssl::stack::Stack;
use openssl::symm::Cipher;

const X12: &[u8] = b"ISA*00*          *00*          *ZZ*ACME           *ZZ*BERTH          *240101*1200*U*00401*000000001*0*P*>~\r\nGS*PO*ACME*BERTH*20240101*1200*1*X*004010~\r\nST*850*0001~\r\nBEG*00*SA*PO-1001**20240101~\r\nSE*3*0001~\r\nGE*1*1~\r\nIEA*1*000000001~\r\n";

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let certs = root.join("../certs");
    let read = |name: &str| std::fs::read(certs.join(name)).unwrap();
    let keypair = |cert: &str, key: &str| {
        KeyPair::new(
            load_certificates(&read(cert), None).unwrap().remove(0),
            load_private_key(&read(key), None).unwrap(),
        )
        .unwrap()
    };
    let acme = keypair("partner-acme.pem", "partner-acme.pem");
    let berth = keypair("berth.crt", "berth.key");

    let seeds = root.join("seeds");
    let write = |target: &str, name: &str, data: &[u8]| {
        let dir = seeds.join(target);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), data).unwrap();
    };

    // The payload entity and its security layers.
    let payload = entity(
        "application/edi-x12",
        &[
            (
                "Content-Disposition",
                "attachment; filename=\"po-1001.edi\"",
            ),
            ("Content-Transfer-Encoding", "binary"),
        ],
        X12,
    );
    let compressed = entity(
        "application/pkcs7-mime; smime-type=compressed-data; name=smime.p7z",
        &[("Content-Transfer-Encoding", "binary")],
        &compress(&payload),
    );
    let signed = |inner: &[u8]| {
        let sig =
            sign_detached(inner, &acme.certificate, &acme.private_key, MicAlg::Sha256).unwrap();
        let b = "----=_berth_seed_sig";
        let mut body = format!("--{b}\r\n").into_bytes();
        body.extend_from_slice(inner);
        body.extend_from_slice(
            format!(
                "\r\n--{b}\r\nContent-Type: application/pkcs7-signature; name=smime.p7s\r\n\
                 Content-Transfer-Encoding: base64\r\n\r\n{}\r\n--{b}--\r\n",
                wrap76(&STANDARD.encode(sig))
            )
            .as_bytes(),
        );
        entity(
            &format!("multipart/signed; protocol=\"application/pkcs7-signature\"; micalg=sha-256; boundary=\"{b}\""),
            &[],
            &body,
        )
    };
    let opaque_signed = |inner: &[u8]| {
        let cms = CmsContentInfo::sign(
            Some(&acme.certificate),
            Some(&acme.private_key),
            None,
            Some(inner),
            CMSOptions::BINARY,
        )
        .unwrap();
        entity(
            "application/pkcs7-mime; smime-type=signed-data; name=smime.p7m",
            &[("Content-Transfer-Encoding", "base64")],
            wrap76(&STANDARD.encode(cms.to_der().unwrap())).as_bytes(),
        )
    };
    let encrypted = |inner: &[u8], cipher: Cipher, smime_type: &str| {
        let mut recipients = Stack::new().unwrap();
        recipients.push(berth.certificate.clone()).unwrap();
        let cms = CmsContentInfo::encrypt(&recipients, inner, cipher, CMSOptions::BINARY).unwrap();
        entity(
            &format!("application/pkcs7-mime; smime-type={smime_type}; name=smime.p7m"),
            &[("Content-Transfer-Encoding", "binary")],
            &cms.to_der().unwrap(),
        )
    };
    let signed_payload = signed(&payload);

    // Whole AS2 requests: HTTP headers (the outer entity's headers among them) and body.
    let signed_receipt = "signed-receipt-protocol=optional, pkcs7-signature; signed-receipt-micalg=optional, sha-256, sha-1";
    let requests: Vec<Request> = vec![
        ("plain", payload.clone(), vec![("Disposition-Notification-Options", signed_receipt)]),
        (
            "plain-base64-async",
            entity(
                "text/plain; charset=utf-8",
                &[("Content-Transfer-Encoding", "base64")],
                wrap76(&STANDARD.encode(X12)).as_bytes(),
            ),
            vec![("Receipt-Delivery-Option", "http://127.0.0.1:1/mdn")],
        ),
        ("compressed", compressed.clone(), vec![]),
        ("signed", signed_payload.clone(), vec![("Disposition-Notification-Options", signed_receipt)]),
        ("signed-opaque", opaque_signed(&payload), vec![]),
        ("encrypted", encrypted(&payload, Cipher::aes_128_cbc(), "enveloped-data"), vec![]),
        (
            "signed-encrypted",
            encrypted(&signed_payload, Cipher::des_ede3_cbc(), "enveloped-data"),
            vec![("Disposition-Notification-Options", signed_receipt)],
        ),
        (
            "compressed-signed-encrypted",
            encrypted(&signed(&compressed), Cipher::aes_256_cbc(), "enveloped-data"),
            vec![("Disposition-Notification-Options", signed_receipt)],
        ),
        (
            "signed-authenveloped",
            encrypted(&signed_payload, Cipher::aes_128_gcm(), "authEnveloped-data"),
            vec![("Disposition-Notification-Options", signed_receipt)],
        ),
        (
            "unsupported-micalg",
            payload.clone(),
            vec![("Disposition-Notification-Options", "signed-receipt-protocol=required, pkcs7-signature; signed-receipt-micalg=required, md5")],
        ),
    ];
    for (name, message, extra) in &requests {
        let (head, body) = split_entity(message);
        let mut request = format!(
            "AS2-Version: 1.2\r\nAS2-From: ACME\r\nAS2-To: BERTH\r\nMessage-ID: <{name}-1@acme.example>\r\n\
             Subject: seed {name}\r\nDisposition-Notification-To: edi@acme.example\r\n"
        )
        .into_bytes();
        for (n, v) in extra {
            request.extend_from_slice(format!("{n}: {v}\r\n").as_bytes());
        }
        request.extend_from_slice(head);
        request.extend_from_slice(b"\r\n");
        request.extend_from_slice(body);
        write("as2_receive", name, &request);
        if matches!(*name, "plain" | "signed" | "unsupported-micalg") {
            let blank = request.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
            write("as2_headers", name, &request[..blank + 4]);
        }
    }

    // MIME entities.
    write("mime_parse", "payload", &payload);
    write("mime_parse", "compressed", &compressed);
    write("mime_parse", "signed", &signed_payload);
    write("mime_parse", "signed-opaque", &opaque_signed(&payload));
    write(
        "mime_parse",
        "quoted-printable",
        &entity(
            "text/plain; charset=iso-8859-1",
            &[
                ("Content-Transfer-Encoding", "quoted-printable"),
                (
                    "Content-Disposition",
                    "attachment; filename*=UTF-8''%2e%2e%2fetc%2fpasswd",
                ),
            ],
            b"caf=E9 soft=\r\nbreak =3D=\r\n\r\nlast line \t\r\n",
        ),
    );
    let mdn = build_mdn(
        &MdnContent {
            original_message_id: Some("<signed-1@acme.example>".into()),
            original_as2_from: "ACME".into(),
            original_as2_to: "BERTH".into(),
            original_subject: Some("seed".into()),
            disposition: Disposition::Error(ProcessingError::DecryptionFailed),
            mic: Some(Mic::compute(MicAlg::Sha256, X12)),
            reporting_ua: "berth".into(),
            detail: Some("no key fits".into()),
            legacy_smime: false,
            message_id_domain: "berth.example".into(),
        },
        Some(&MdnSigner {
            key: &berth,
            alg: MicAlg::Sha256,
        }),
    )
    .unwrap();
    let mut mdn_entity = Vec::new();
    for (n, v) in &mdn.headers {
        mdn_entity.extend_from_slice(format!("{n}: {v}\r\n").as_bytes());
    }
    mdn_entity.extend_from_slice(b"\r\n");
    mdn_entity.extend_from_slice(&mdn.body);
    write("mime_parse", "mdn-signed", &mdn_entity);
    let (mdn_head, _) = split_entity(&mdn_entity);
    write("as2_headers", "mdn", mdn_head);

    // Header values for the value parsers (the whole input is one value there).
    for (name, value) in [
        ("dno", signed_receipt),
        (
            "disposition",
            "automatic-action/MDN-sent-automatically; processed/error: decryption-failed",
        ),
        (
            "disposition-failed",
            "automatic-action/MDN-sent-automatically; failed/Failure: unsupported MIC-algorithms",
        ),
        (
            "mic",
            "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=, sha-256",
        ),
        (
            "content-disposition",
            "attachment; filename=\"..\\\\..\\\\win.ini\"; filename*=utf-8''%2e%2e%2f%00x",
        ),
        ("as2-name", "\"ACME \\\"Corp\\\"\""),
    ] {
        write("as2_headers", name, value.as_bytes());
    }
    println!("seeds written to {}", seeds.display());
}

/// A seed request: file name, the message (outer entity), extra HTTP headers.
type Request<'a> = (&'a str, Vec<u8>, Vec<(&'a str, &'a str)>);

/// A MIME entity: Content-Type, the other headers, an empty line, the body.
fn entity(content_type: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = format!("Content-Type: {content_type}\r\n").into_bytes();
    for (n, v) in headers {
        out.extend_from_slice(format!("{n}: {v}\r\n").as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}

/// (header block with its last CRLF, body) of an entity made by [`entity`].
fn split_entity(e: &[u8]) -> (&[u8], &[u8]) {
    let i = e.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    (&e[..i + 2], &e[i + 4..])
}

fn wrap76(s: &str) -> String {
    s.as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>()
        .join("\r\n")
}
